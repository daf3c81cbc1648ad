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

"""`catpose stability`: frame-to-frame rotation jitter, with and without symmetry handling.

Renders test-split scenes (unseen instances) from a static camera (or along a camera orbit),
with sensor and mask noise redrawn every frame, tracks them with FramePipeline twice on the
same frames (the symmetric turn left as estimated, then held: geometry/symmetry.py), and
prints the step jitter per category (evaluation/stability.py). Symmetric rows count only
objects that are symmetric in that frame by ground truth (mugs: handle hidden).
"""

import argparse
from typing import Dict, List

import numpy as np

from catpose_ros.cli import HelpFormatter


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `stability` sub-command."""
    from catpose_ros.cli.eval import add_model_options

    parser = subparsers.add_parser(
        'stability', help='rotation jitter of tracked objects, symmetry handling off/on',
        formatter_class=HelpFormatter)
    parser.add_argument('--scenes', type=int, default=2, help='number of scenes')
    parser.add_argument('--split', choices=('val', 'test'), default='test',
                        help='instance library of the scenes (val for choosing settings)')
    parser.add_argument('--frames', type=int, default=20, help='frames per scene')
    parser.add_argument('--motion', choices=('static', 'orbit'), default='static',
                        help='static camera, or a smooth camera orbit')
    parser.add_argument('--mode', choices=('track', 'estimate'), default='track',
                        help='warm-start from the previous frame, or every frame cold')
    add_model_options(parser)
    parser.set_defaults(func=run)


def _scene_frames(index: int, args: argparse.Namespace) -> List:
    from catpose_ros.data import scenes
    from catpose_ros.data.sensor import MaskNoiseConfig, SensorConfig
    from catpose_ros.geometry.camera import NOCS_REAL_INTRINSICS

    rng = np.random.default_rng(np.random.SeedSequence((args.seed, index)))
    scene = scenes.generate_scene(scenes.SceneConfig(split=args.split), rng, 'stability%d' % index)
    if args.motion == 'static':
        poses = [scenes.sample_camera_pose(scene, rng)] * args.frames
    else:
        poses = scenes.camera_trajectory(scene, max(90, args.frames), rng)[:args.frames]
    sensor = SensorConfig(mask=MaskNoiseConfig(enabled=True))
    return list(scenes.render_sequence(scene, poses, NOCS_REAL_INTRINSICS, sensor, rng))


def _track(frames: List, estimator_factory, stable: bool, args: argparse.Namespace) -> Dict:
    """Return {(track id, category): [(frame, instance id, rotation)]} of one pipeline run."""
    from catpose_ros.cli.demo import truth_instances
    from catpose_ros.cli.eval import tracking_config_from_args
    from catpose_ros.perception.pipeline import FramePipeline

    pipeline = FramePipeline(estimator_factory(), tracking_config_from_args(
        args, warm_start=args.mode == 'track', stable_symmetric_rotation=stable))
    tracks: Dict = {}
    for index, frame in enumerate(frames):
        result = pipeline.process(index * 33_333_333, frame.depth, frame.intrinsics,
                                  truth_instances(frame))
        for tracked in result.poses:
            estimate = tracked.estimate
            tracks.setdefault((tracked.track_id, estimate.category), []).append(
                (index, estimate.instance_id, estimate.rotation))
    return tracks


def _add_tracks(table, tracks: Dict, frames: List) -> None:
    """Add every run of consecutive frames of each track, grouped by its symmetry in truth."""
    from catpose_ros.categories import category_by_name

    for (_, category), entries in tracks.items():
        run: List = []
        for frame_index, instance_id, rotation in entries + [(None, None, None)]:
            truth = None if frame_index is None else \
                frames[frame_index].object_by_instance(instance_id)
            symmetric = truth is not None and \
                category_by_name(category).is_symmetric(truth.handle_visible)
            group = '%s%s' % (category, '' if symmetric or category != 'mug' else ' (handle)')
            consecutive = run and frame_index == run[-1][0] + 1 and group == run[-1][3]
            if not consecutive and len(run) > 1:
                table.add(run[-1][3], [r[1] for r in run], [r[2] for r in run])
            if not consecutive:
                run = []
            if truth is not None:
                run.append((frame_index, rotation, truth.rotation, group))


def run(args: argparse.Namespace) -> int:
    """Measure and print the jitter table."""
    from tqdm import tqdm

    from catpose_ros.cli.eval import estimator_from_args
    from catpose_ros.evaluation.stability import JitterTable
    from catpose_ros.model.device import configure_threads
    from catpose_ros.perception.estimator import PoseEstimator

    configure_threads(args.threads)
    model_path, device, sampler, loaded = estimator_from_args(args)

    def estimator():
        """Wrap the loaded network in a fresh, equally seeded estimator: runs start alike."""
        return PoseEstimator(loaded.model, sampler, device, args.seed, head=args.head,
                             precision=args.precision, confidence_check=args.pose_confidence)

    tables = {False: JitterTable(), True: JitterTable()}
    for index in tqdm(range(args.scenes), desc='stability', unit='scene'):
        frames = _scene_frames(index, args)
        for stable, table in tables.items():
            _add_tracks(table, _track(frames, estimator, stable, args), frames)
    print('model %s, %s head, %s %d steps, mode %s, %d %s scenes x %d frames' % (
        model_path, args.head, sampler.method, sampler.steps, args.mode, args.scenes,
        args.motion, args.frames))
    print('%-16s %6s  %-26s %-26s' % ('category', 'steps', 'as estimated: median/p90/max',
                                      'held: median/p90/max (deg)'))
    for group in sorted(set(tables[False].steps) | set(tables[True].steps)):
        cells = []
        for stable in (False, True):
            count, median, p90, largest = tables[stable].summary(group)
            cells.append('%6.1f %6.1f %6.1f' % (median, p90, largest))
        print('%-16s %6d  %-26s %-26s' % (group, tables[True].summary(group)[0], *cells))
    return 0
