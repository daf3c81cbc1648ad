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

"""`catpose train-segmentation` and `catpose eval-segmentation`: the Mask R-CNN segmenter.

Samples come from `catpose data seg-samples`. Training resumes from OUT_DIR/last.pt;
evaluation prints COCO mask and box AP (AP50, AP50:95) per category.
"""

import argparse
from dataclasses import fields
import json
from pathlib import Path

from catpose_ros.cli import HelpFormatter
from catpose_ros.training.config import MODALITIES, SegmentationTrainConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add train-segmentation and eval-segmentation."""
    _register_train(subparsers)
    _register_eval(subparsers)


def _register_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        'train-segmentation', help='train the Mask R-CNN segmenter on rendered samples; '
        'resumes from OUT_DIR/last.pt', formatter_class=HelpFormatter)
    defaults = SegmentationTrainConfig()
    for field in fields(SegmentationTrainConfig):
        flag = '--' + field.name.replace('_', '-')
        default = getattr(defaults, field.name)
        choices = tuple(MODALITIES) if field.name == 'modality' else None
        parser.add_argument(flag, type=type(default), default=default, choices=choices,
                            help=field.metadata['help'])
    parser.add_argument('--export', type=Path, default=None,
                        help='also write the weights file of best.pt (else last.pt) here')
    parser.add_argument('--export-full-precision', action='store_true',
                        help='export float32 instead of float16 weights')
    parser.set_defaults(func=run_train)


def _register_eval(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        'eval-segmentation', help='COCO mask and box AP of a segmenter on samples of unseen '
        'instances', formatter_class=HelpFormatter)
    parser.add_argument('--samples', type=Path, required=True,
                        help='samples file from `catpose data seg-samples --split test`')
    parser.add_argument('--weights', default='',
                        help='weights file or training checkpoint; empty = the shipped one')
    parser.add_argument('--frames', type=int, default=0, help='first N samples; 0 = all')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--json', type=Path, default=None, help='also write the figures here')
    parser.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    """Train (or resume) and optionally export the weights file."""
    from catpose_ros.training.segmentation import export_checkpoint, SegmentationTrainer

    config = SegmentationTrainConfig.from_dict(vars(args))
    if not config.train_samples:
        raise SystemExit('--train-samples is required (make one with catpose data '
                         'seg-samples)')
    trainer = SegmentationTrainer(config)
    last = trainer.run()
    print('checkpoint: %s' % last)
    if args.export:
        best = trainer.out_dir / 'best.pt'
        source = best if best.is_file() else last
        print('weights (%s): %s' % (source.name, export_checkpoint(
            source, args.export, half=not args.export_full_precision)))
    return 0


def _weights_file(weights: str) -> Path:
    """Resolve the weights argument; a training checkpoint is exported to a temporary file."""
    import tempfile

    import torch

    from catpose_ros.resources import resolve_checkpoint
    from catpose_ros.ros.segmentation_pipeline import DEFAULT_SEGMENTER_WEIGHTS
    from catpose_ros.training.segmentation import export_checkpoint

    path = resolve_checkpoint(weights, None, DEFAULT_SEGMENTER_WEIGHTS, '--weights')
    content = torch.load(path, map_location='cpu', weights_only=False)
    if isinstance(content, dict) and 'optimizer' in content and 'model' in content:
        out = Path(tempfile.mkdtemp()) / 'weights.pt'
        return export_checkpoint(path, out, half=False)
    return path


def run_eval(args: argparse.Namespace) -> int:
    """Print mask and box AP per category; optionally write them as JSON."""
    import torch

    from catpose_ros.data.segmentation import SegmentationSamples
    from catpose_ros.evaluation.segmentation import evaluate_segmenter
    from catpose_ros.perception.segmentation import TorchvisionMaskRCNNSegmenter

    torch.set_num_threads(args.threads)
    weights = _weights_file(args.weights)
    segmenter = TorchvisionMaskRCNNSegmenter(weights, device=args.device,
                                             score_threshold=0.05, min_mask_pixels=1)
    report = evaluate_segmenter(segmenter, SegmentationSamples.load(args.samples),
                                limit=args.frames, progress=True)
    print('weights: %s (%s)\nframes: %d, instances: %d, %.3f s per frame'
          % (weights, 'RGB-D' if segmenter.uses_depth else 'RGB', report.frames,
             report.instances, report.seconds_per_frame))
    print(report.table())
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=1))
    return 0
