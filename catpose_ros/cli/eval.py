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

"""`catpose eval`: NOCS mAP, VUS and per-object errors of a model on a dataset split.

Writes OUT/report.json, OUT/report.md and plots; with --export-nocs DIR also one NOCS
``results_*.pkl`` per frame, which the official NOCS evaluation reads as they are.
"""

import argparse
import logging
from pathlib import Path

from catpose_ros.cli import HelpFormatter
from catpose_ros.model.device import PRECISIONS

LOG = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the eval sub-command."""
    parser = subparsers.add_parser(
        'eval', help='NOCS mAP, VUS and per-object errors of a model on a dataset split',
        formatter_class=HelpFormatter)
    parser.add_argument('--data', type=Path, required=True, help='dataset root')
    parser.add_argument('--split', required=True,
                        help='camera_val, real_test, ... (NOCS layouts), train/val/test '
                             '(HouseCat6D), ROPE/SOPE (Omni6DPose)')
    parser.add_argument('--out', type=Path, required=True, help='report directory')
    add_model_options(parser)
    parser.add_argument('--masks', choices=('gt', 'predicted'), default='gt',
                        help='ground-truth instance masks, or the segmentation backend')
    parser.add_argument('--mode', choices=('single', 'track'), default='single',
                        help='every frame cold, or tracked within each sequence')
    parser.add_argument('--export-nocs', type=Path, default=None, metavar='DIR',
                        help='also write one NOCS results_*.pkl per frame into DIR')
    parser.add_argument('--segmentation-weights', default='',
                        help='Mask R-CNN weights for --masks predicted (default: the shipped '
                             'segmentation weights, found like the ROS parameter '
                             'segmentation.weights)')
    parser.add_argument('--segmentation-backend', choices=('maskrcnn', 'detectron2'),
                        default='maskrcnn', help='segmenter for --masks predicted')
    parser.add_argument('--frames', type=int, default=0, help='first N frames only (0: all)')
    parser.add_argument('--no-plots', action='store_true', help='skip the PNG plots')
    parser.set_defaults(func=run)


def _segmenter(args: argparse.Namespace, device: str):
    """Build the segmenter (RGB or RGB-D), its weights resolved as the segmentation node does."""
    from catpose_ros.ros.params import CatposeParams
    from catpose_ros.ros.segmentation_pipeline import load_segmenter
    params = CatposeParams.from_dict({'segmentation.backend': args.segmentation_backend,
                                      'segmentation.weights': args.segmentation_weights,
                                      'model.device': device})
    return load_segmenter(params)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that load and run a pose model (eval, demo, stability share them)."""
    parser.add_argument('--model', default='', help='checkpoint (default: the shipped model)')
    parser.add_argument('--device', default='auto', help='auto, cpu or cuda[:N]')
    parser.add_argument('--head', choices=('diffusion', 'regression'), default='diffusion',
                        help='guided diffusion sampling (the method) or the regression head')
    parser.add_argument('--precision', choices=PRECISIONS, default='fp32',
                        help='encoder precision (bf16 / fp16: half-width matrix multiplies)')
    parser.add_argument('--sampler', choices=('ddim', 'pf_ode'), default=None,
                        help='override the sampler (default: the settings stored in the model)')
    parser.add_argument('--steps', type=int, default=None,
                        help='override the DDIM steps (default: stored in the model)')
    parser.add_argument('--t0', type=float, default=None,
                        help='override the start time of cold estimates (default: stored)')
    parser.add_argument('--track-t0', type=float, default=None,
                        help='override the start time of warm starts (default: stored)')
    parser.add_argument('--relock-frames', type=int, default=None,
                        help='tracking: consecutive disagreeing cold checks before a track '
                        "re-locks onto them; 0 = no cold checks (default: the tracker's)")
    parser.add_argument('--relock-deg', type=float, default=None,
                        help='tracking: rotation difference (deg) that counts as disagreement '
                        "(default: the tracker's)")
    parser.add_argument('--cold-check-weight', type=float, default=None,
                        help='tracking: weight of an agreeing cold check in the tracked pose '
                        "(default: the tracker's)")
    parser.add_argument('--no-pose-confidence', dest='pose_confidence', action='store_false',
                        help='score each pose by its detection alone, without the agreement '
                        'of a second sample (NOCS mAP then ranks by detection score only)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of scenes, point resampling and the sampler')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads (0: keep)')


def sampler_overrides(args: argparse.Namespace) -> dict:
    """Sampler settings given on the command line (the model's stored ones fill the rest)."""
    given = (('method', args.sampler), ('steps', args.steps), ('t0', args.t0),
             ('track_t0', args.track_t0))
    return {k: v for k, v in given if v is not None}


def tracking_config_from_args(args: argparse.Namespace, **settings):
    """Tracker settings: defaults, then `settings`, then --relock-* / --cold-check-weight."""
    from catpose_ros.perception.tracking import TrackingConfig
    given = (('relock_after_frames', args.relock_frames),
             ('relock_rotation_deg', args.relock_deg),
             ('cold_check_weight', args.cold_check_weight))
    settings.update({k: v for k, v in given if v is not None})
    return TrackingConfig(**settings)


def estimator_from_args(args: argparse.Namespace):
    """Load the model of add_model_options' flags with its stored sampler settings.

    --sampler, --steps, --t0 and --track-t0 override the stored settings. Returns (model path,
    device, sampler config, PoseEstimator).
    """
    from catpose_ros.model.device import resolve_device
    from catpose_ros.perception.estimator import PoseEstimator
    from catpose_ros.resources import resolve_checkpoint

    model_path = resolve_checkpoint(args.model, parameter='--model')
    device = resolve_device(args.device)
    estimator = PoseEstimator.from_checkpoint(model_path, device=device, seed=args.seed,
                                              head=args.head, precision=args.precision,
                                              confidence_check=args.pose_confidence)
    sampler = estimator.override_sampler(**sampler_overrides(args))
    return model_path, device, sampler, estimator


def frame_pipeline_from_args(args: argparse.Namespace):
    """Like estimator_from_args, in a FramePipeline that tracks when --mode is track.

    Returns (model path, device, sampler config, FramePipeline).
    """
    from catpose_ros.perception.pipeline import FramePipeline

    model_path, device, sampler, estimator = estimator_from_args(args)
    pipeline = FramePipeline(estimator, tracking_config_from_args(
        args, warm_start=args.mode == 'track'))
    return model_path, device, sampler, pipeline


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the report, print the Markdown table."""
    from catpose_ros.evaluation import runner
    from catpose_ros.evaluation.nocs_map import nocs_map
    from catpose_ros.evaluation.report import build_report, markdown_table, write_report
    from catpose_ros.model.device import configure_threads
    from catpose_ros.resources import display_path

    configure_threads(args.threads)
    dataset = runner.open_dataset(args.data, args.split)
    frames = dataset.frames[:args.frames] if args.frames > 0 else dataset.frames
    print(dataset.description)
    model_path, device, sampler, pipeline = frame_pipeline_from_args(args)
    segmenter = _segmenter(args, str(device)) if args.masks == 'predicted' else None
    outcome = runner.evaluate_frames(frames, pipeline, args.masks, args.mode, segmenter)
    for line in outcome.skipped[:10]:
        LOG.info('skipped %s', line)
    ordered = [outcome.results[name] for name in sorted(outcome.results)]
    settings = {'data': str(args.data), 'split': args.split, 'head': args.head,
                'masks': args.masks, 'mode': args.mode, 'sampler': sampler.method,
                'steps': sampler.steps, 'device': str(device), 'seed': args.seed,
                'frames_limit': args.frames, 'skipped_instances': len(outcome.skipped),
                'ignored_objects': outcome.ignored_objects}
    if args.precision != 'fp32':
        settings['precision'] = args.precision
    if args.masks == 'predicted':
        settings['segmentation_backend'] = args.segmentation_backend
        settings['segmentation_weights'] = args.segmentation_weights or 'default'
    report = build_report(nocs_map(ordered), outcome.objects, len(frames),
                          display_path(model_path),
                          settings, dataset.description, outcome.frame_ms)
    paths = write_report(args.out, report, outcome.objects, plots=not args.no_plots)
    if args.export_nocs is not None:
        exported = runner.export_nocs(outcome.results, args.export_nocs)
        print('wrote %d NOCS result pickles to %s' % (len(exported), args.export_nocs))
    print(markdown_table(report))
    print('wrote %s' % ', '.join(str(p) for p in paths))
    return 0
