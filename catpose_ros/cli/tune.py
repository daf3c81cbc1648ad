# Copyright 2026 The catpose_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""`catpose tune-sampler`: choose a model's sampler settings on the validation split.

Encodes the validation objects once, runs a coordinate search over the DDIM update, score
scaling (w_min, w_max, beta), start time and step count, prints the search and the sampling
comparison table, and writes a copy of the model with the chosen settings inside.
"""

import argparse
from pathlib import Path

from catpose_ros.cli import HelpFormatter


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the tune-sampler sub-command."""
    parser = subparsers.add_parser(
        'tune-sampler', help='choose sampler settings on the validation split and store them '
        'in the model', formatter_class=HelpFormatter)
    parser.add_argument('--model', type=Path, required=True, help='trained checkpoint')
    parser.add_argument('--val-cache', required=True,
                        help='point cache of the VALIDATION split (never the test split)')
    parser.add_argument('--out', type=Path, required=True,
                        help='where to write the model with the chosen settings')
    parser.add_argument('--objects', type=int, default=512, help='validation objects used')
    parser.add_argument('--report', type=Path, default=None,
                        help='also write the search log and sampling table (Markdown) here')
    parser.add_argument('--device', default='auto', help='auto, cpu or cuda[:N]')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads (0: torch '
                        'default)')
    parser.add_argument('--seed', type=int, default=0, help='sampler noise seed')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Search, report and export."""
    import torch

    from catpose_ros.model.checkpoint import load_checkpoint
    from catpose_ros.model.device import resolve_device
    from catpose_ros.perception.estimator import stored_sampler_config
    from catpose_ros.training import sampler_search as search
    from catpose_ros.training.trainer import export_for_inference

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(resolve_device(args.device))
    model, _, meta = load_checkpoint(args.model, map_location=device)
    encoded = search.encode_validation(model, args.val_cache, args.objects, device, args.seed)
    best, log = search.coordinate_search(model, encoded, stored_sampler_config(meta),
                                         seed=args.seed)
    table = search.sampling_table(model, encoded, best, args.seed)
    text = '\n\n'.join((
        '## Sampler search on %d validation objects (%s)' % (len(encoded.features),
                                                             args.val_cache),
        search.format_rows(log), '## Chosen: %s' % search.describe(best),
        search.format_rows(table)))
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text + '\n')
    print('model with the chosen sampler settings: %s'
          % export_for_inference(args.model, args.out, sampler=best))
    return 0
