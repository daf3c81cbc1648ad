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

"""`catpose bag`: rosbag2 files without ROS.

- `catpose bag from-synthetic OUT`: render a synthetic tabletop sequence into a bag with
  camera, ground-truth segmentation and ground-truth pose topics.
- `catpose bag process IN OUT`: run segmentation, pose estimation and tracking over a bag
  exactly as the nodes do, and write their output topics to a new bag.
"""

import argparse
from typing import Any, Dict, Iterator, List

from catpose_ros.cli import HelpFormatter
from catpose_ros.ros.bag_layout import STORAGES, SyntheticTopics
from catpose_ros.ros.messages import DISTROS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `bag` with its from-synthetic and process sub-commands."""
    parser = subparsers.add_parser('bag', help='make and process rosbag2 files (no ROS needed)')
    commands = parser.add_subparsers(dest='bag_command', required=True)
    _register_from_synthetic(commands)
    _register_process(commands)


def _add_bag_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--storage', choices=STORAGES, default='mcap',
                        help='rosbag2 storage of the output bag')
    parser.add_argument('--distro', choices=DISTROS, default='jazzy',
                        help='ROS 2 message definitions to use')


def _register_from_synthetic(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        'from-synthetic', help='render a synthetic sequence into a rosbag2',
        formatter_class=HelpFormatter)
    parser.add_argument('out', help='output bag directory (must not exist)')
    parser.add_argument('--frames', type=int, default=60, help='number of frames (30 Hz)')
    parser.add_argument('--seed', type=int, default=0, help='scene and noise seed')
    parser.add_argument('--moving', action='store_true',
                        help='move the objects, not only the camera')
    parser.add_argument('--split', choices=('train', 'test'), default='test',
                        help='object model library to draw shapes from')
    parser.add_argument('--noiseless', action='store_true', help='perfect depth')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    _add_bag_format(parser)
    parser.set_defaults(func=run_from_synthetic)


def synthetic_frames(num_frames: int, seed: int, moving: bool, split: str = 'test',
                     noiseless: bool = False) -> Iterator[Any]:
    """Yield a rendered tabletop sequence: a camera arc, optionally with moving objects."""
    import numpy as np

    from catpose_ros.data.scenes import (camera_trajectory, generate_scene,
                                         moving_objects_sequence, render_sequence, SceneConfig)
    from catpose_ros.data.sensor import SensorConfig
    from catpose_ros.geometry.camera import NOCS_REAL_INTRINSICS

    if num_frames < 1:
        raise ValueError('the sequence needs at least one frame, got %d' % num_frames)
    rng = np.random.default_rng(seed)
    scene = generate_scene(SceneConfig(split=split), rng, scene_id='synthetic_%d' % seed)
    camera_poses = camera_trajectory(scene, num_frames, rng)
    scenes = moving_objects_sequence(scene, num_frames, rng) if moving else scene
    sensor = SensorConfig.noiseless() if noiseless else SensorConfig()
    return render_sequence(scenes, camera_poses, NOCS_REAL_INTRINSICS, sensor, rng)


def run_from_synthetic(args: argparse.Namespace) -> int:
    """Render the sequence frame by frame straight into the bag and print its topics."""
    from catpose_ros.ros.bag_io import sequence_to_bag

    frames = synthetic_frames(args.frames, args.seed, args.moving, args.split, args.noiseless)
    if not args.no_progress:
        from tqdm import tqdm
        frames = tqdm(frames, total=args.frames, unit='frame', desc='render')
    summary = sequence_to_bag(frames, args.out, distro=args.distro, storage=args.storage)
    print('wrote %d frames to %s' % (summary.frames, summary.path))
    for topic, count in summary.counts.items():
        print('  %-45s %d' % (topic, count))
    return 0


def _register_process(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        'process', help='run the pose pipeline over a rosbag2 and write its outputs',
        formatter_class=HelpFormatter)
    parser.add_argument('input', help='input bag directory (MCAP or sqlite3)')
    parser.add_argument('out', help='output bag directory (must not exist)')
    parser.add_argument('--params-file', help='ROS params YAML, e.g. config/catpose.yaml')
    parser.add_argument('--set', action='append', default=[], metavar='NAME=VALUE',
                        help='override one parameter by its dotted name (repeatable), '
                        'e.g. --set tracking.mode=estimate')
    parser.add_argument('--checkpoint', help='model file (model.checkpoint)')
    parser.add_argument('--device', help='torch device (model.device): auto, cpu, cuda:0')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (model.cpu_threads; default: its parameter '
                             'value, 1)')
    parser.add_argument('--segmentation', choices=('maskrcnn', 'bag'), default='maskrcnn',
                        help='maskrcnn: segment the rgb topic (segmentation.weights, empty = '
                        'the shipped models/maskrcnn_default.pt); bag: label image and '
                        'detections recorded in the bag (ground truth of a synthetic bag)')
    topics = SyntheticTopics()
    parser.add_argument('--depth-topic', default=topics.depth,
                        help='depth image topic (16UC1 or 32FC1)')
    parser.add_argument('--camera-info-topic', default=topics.depth_info,
                        help='CameraInfo topic of the depth camera')
    parser.add_argument('--rgb-topic', default=topics.color,
                        help='colour image topic (the segmenter input)')
    parser.add_argument('--instances-topic', default=topics.instances,
                        help='mono16 instance label image topic (masks made elsewhere)')
    parser.add_argument('--detections-topic', default=topics.detections2d,
                        help='Detection2DArray topic that labels the instance ids')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    parser.add_argument('--keep-partial', action='store_true',
                        help='on failure keep what was written as OUT.partial (marked partial '
                        'in its metadata) instead of removing it')
    _add_bag_format(parser)
    parser.set_defaults(func=run_process)


def parse_overrides(pairs: List[str]) -> Dict[str, Any]:
    """Parse NAME=VALUE pairs; values are read as YAML scalars (1, 0.5, true, text)."""
    import yaml

    overrides = {}
    for pair in pairs:
        name, separator, value = pair.partition('=')
        if not separator or not name:
            raise SystemExit('--set expects NAME=VALUE, got %r' % (pair,))
        overrides[name.strip()] = _scalar(yaml.safe_load(value)) if value else ''
    return overrides


def _scalar(value: Any) -> Any:
    """Read numbers YAML 1.1 leaves as text (1e-3) as floats."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _params(args: argparse.Namespace) -> Dict[str, Any]:
    from catpose_ros.ros.params import load_params_file

    values = load_params_file(args.params_file).to_dict() if args.params_file else {}
    values.update(parse_overrides(args.set))
    if args.checkpoint:
        values['model.checkpoint'] = args.checkpoint
    if args.device:
        values['model.device'] = args.device
    if args.threads is not None:
        values['model.cpu_threads'] = args.threads
    return values


def run_process(args: argparse.Namespace) -> int:
    """Process the bag and print the summary (frames, latency, accuracy vs ground truth)."""
    from catpose_ros.cli.main import CommandError
    from catpose_ros.ros.bag_io import BagOutputError, BagTopics
    from catpose_ros.ros.bag_processing import process_bag

    topics = BagTopics(depth=args.depth_topic, camera_info=args.camera_info_topic,
                       rgb=args.rgb_topic, instances=args.instances_topic,
                       detections2d=args.detections_topic)
    try:
        summary = process_bag(args.input, args.out, params=_params(args),
                              segmentation_source=args.segmentation,
                              progress=not args.no_progress, topics=topics,
                              distro=args.distro, storage=args.storage,
                              keep_partial=args.keep_partial)
    except BagOutputError as error:
        raise CommandError('cannot process %s: %s' % (args.input, error)) from error
    except Exception as error:
        raise CommandError('cannot process %s: %s: %s; no output written' % (
            args.input, type(error).__name__, ' '.join(str(error).split()))) from error
    print(summary.to_text())
    return 0
