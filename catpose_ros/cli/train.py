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

"""`catpose train`: run (or resume) one training stage: pretrain, joint or scratch.

Every TrainConfig field is a flag; a run directory that already holds last.pt is resumed.
"""

import argparse
from dataclasses import fields
import json

from catpose_ros.cli import HelpFormatter
from catpose_ros.training.config import STAGES, TrainConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the train sub-command with one flag per TrainConfig field."""
    parser = subparsers.add_parser(
        'train', help='train a stage (pretrain, joint, scratch, score); resumes from '
        'OUT_DIR/last.pt; distributed with torchrun',
        formatter_class=HelpFormatter)
    defaults = TrainConfig()
    for field in fields(TrainConfig):
        flag = '--' + field.name.replace('_', '-')
        default = getattr(defaults, field.name)
        text = field.metadata.get('help', '')
        if field.name == 'stage':
            parser.add_argument(flag, choices=STAGES, default=default, help=text)
        elif isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                                help=text)
        else:
            parser.add_argument(flag, type=type(default), default=default, help=text)
    parser.add_argument('--export', default='',
                        help='also write an inference-only copy of the final checkpoint here')
    parser.add_argument('--benchmark-steps', type=int, default=0,
                        help='measure training throughput over this many steps (samples/s '
                        'and the time fraction of data, encoder, heads, backward, optimiser) '
                        'instead of training; nothing is saved')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train and print where the final checkpoint and the history went."""
    from catpose_ros.model.posenet import ModelConfig
    from catpose_ros.training.trainer import export_for_inference, Trainer

    from catpose_ros.training.distributed import shutdown

    config = TrainConfig.from_dict(vars(args))
    trainer = Trainer(config, ModelConfig.from_file(config.model_config)
                      if config.model_config else None)
    if args.benchmark_steps:
        from catpose_ros.training.throughput import format_throughput, measure_throughput
        report = measure_throughput(trainer, args.benchmark_steps)
        shutdown(trainer.dist)
        if trainer.dist.is_main:
            print(format_throughput(config.stage, report))
        return 0
    path = trainer.run()
    shutdown(trainer.dist)
    if not trainer.dist.is_main:
        return 0
    history = trainer.out_dir / 'history.json'
    history.write_text(json.dumps(trainer.history, indent=1))
    print('checkpoint: %s\nhistory: %s' % (path, history))
    if args.export:
        print('inference copy: %s' % export_for_inference(path, args.export))
    return 0
