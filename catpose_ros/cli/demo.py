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

"""`catpose demo`: the whole ROS-free pipeline on a synthetic scene, scored against truth.

A test-split scene (object instances never seen in training) is rendered along a smooth
camera orbit with sensor noise. Masks come from the shipped Mask R-CNN (`--masks
predicted`, the default) or from the ground truth with segmenter-like errors (`--masks gt`);
predicted instances are paired with true objects by mask IoU to score them. Frame 0 is
estimated cold; later frames are tracked with warm starts. The demo prints per-frame and
per-object errors, metric sizes and stage latencies, and saves an image with estimated
(colour) and true (white) boxes.
"""

import argparse
from collections import defaultdict
import logging
from pathlib import Path
import time
from typing import Dict, List

import numpy as np

from catpose_ros.cli import HelpFormatter

LOG = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the demo sub-command."""
    from catpose_ros.cli.eval import add_model_options

    parser = subparsers.add_parser(
        'demo', help='estimate and track objects in a synthetic scene with the shipped model',
        formatter_class=HelpFormatter)
    add_model_options(parser)
    parser.add_argument('--frames', type=int, default=8, help='frames of the camera orbit')
    parser.add_argument('--mode', choices=('track', 'estimate'), default='track',
                        help='warm-start from the previous frame, or every frame cold')
    parser.add_argument('--masks', choices=('predicted', 'gt'), default='predicted',
                        help='instance masks from the Mask R-CNN, or the (degraded) ground '
                        'truth')
    parser.add_argument('--segmentation-weights', default='',
                        help='Mask R-CNN weights (default: the shipped segmenter)')
    parser.add_argument('--out', default='catpose_demo.png', help='overlay image to write')
    # One thread, as the node: on a computer whose other cores are busy, a second PyTorch
    # thread makes every operator wait for a parked sibling (measured: 7.1 s instead of
    # 0.39 s per frame).
    parser.set_defaults(func=run, threads=1)


def truth_instances(frame) -> List:
    """Turn the (degraded) rendered instance mask into segmenter-style instances."""
    from catpose_ros.perception.instances import Instance, mask_box

    instances = []
    for obj in frame.objects:
        mask = frame.mask == obj.instance_id
        if mask.any():
            instances.append(Instance(obj.instance_id, obj.category, mask, 1.0, mask_box(mask)))
    return instances


class _Masks:
    """The demo's mask source: the Mask R-CNN or the ground truth; says which it is."""

    def __init__(self, args: argparse.Namespace, device: str):
        self.segmenter = None
        self.description = 'ground truth (rendered instance masks with segmenter-like errors)'
        if args.masks == 'predicted':
            from catpose_ros.perception.segmentation import TorchvisionMaskRCNNSegmenter
            from catpose_ros.resources import resolve_checkpoint
            from catpose_ros.ros.segmentation_pipeline import DEFAULT_SEGMENTER_WEIGHTS

            weights = resolve_checkpoint(args.segmentation_weights, None,
                                         DEFAULT_SEGMENTER_WEIGHTS, '--segmentation-weights')
            self.segmenter = TorchvisionMaskRCNNSegmenter(weights, device=device,
                                                          max_detections=20)
            self.description = 'predicted by Mask R-CNN %s (%s input)' % (
                weights, 'RGB-D' if self.segmenter.uses_depth else 'RGB')

    def instances(self, frame):
        """Return (instances, {instance id: true mask id}) for one frame."""
        from catpose_ros.evaluation.segmentation import match_to_ground_truth

        if self.segmenter is None:
            instances = truth_instances(frame)
            return instances, {i.instance_id: i.instance_id for i in instances}
        instances = self.segmenter.segment(frame.color, frame.depth)
        return instances, match_to_ground_truth(instances, frame.mask)


def _errors(frame, poses, truth_ids: Dict[int, int]) -> List[Dict[str, float]]:
    """Score each tracked pose against the true object its mask was paired with."""
    from catpose_ros.evaluation.metrics import is_symmetric, pose_errors

    rows = []
    for tracked in poses:
        estimate = tracked.estimate
        if estimate.instance_id not in truth_ids:
            continue
        truth = frame.object_by_instance(truth_ids[estimate.instance_id])
        symmetric = is_symmetric(truth.category, truth.handle_visible)
        errors = pose_errors(estimate.rotation[None], estimate.translation[None],
                             truth.rotation[None], truth.translation[None], np.array([symmetric]))
        rows.append({'track': tracked.track_id, 'category': truth.category,
                     'start': tracked.start, 'rot_deg': float(errors.rotation_deg[0]),
                     'trans_cm': float(errors.translation_cm[0]),
                     'size_est_cm': 100 * estimate.size, 'size_gt_cm': 100 * truth.size})
    return rows


def _frames(args: argparse.Namespace):
    from catpose_ros.data import scenes
    from catpose_ros.data.sensor import MaskNoiseConfig, SensorConfig
    from catpose_ros.geometry.camera import NOCS_REAL_INTRINSICS

    rng = np.random.default_rng(args.seed)
    scene = scenes.generate_scene(scenes.SceneConfig(split='test'), rng, 'demo')
    # A 3 s orbit at 30 Hz, of which the first frames are rendered: video-like motion.
    poses = scenes.camera_trajectory(scene, max(90, args.frames), rng)[:args.frames]
    sensor = SensorConfig(mask=MaskNoiseConfig(enabled=True))
    return scenes.render_sequence(scene, poses, NOCS_REAL_INTRINSICS, sensor, rng)


def _save_overlay(path: Path, frame, poses) -> None:
    import cv2

    from catpose_ros.categories import category_color
    from catpose_ros.perception.overlay import draw_legend, draw_pose

    image = frame.color.copy()
    for truth in frame.objects:
        draw_pose(image, frame.intrinsics, truth.rotation, truth.translation, truth.size,
                  (255, 255, 255), thickness=1, axes=False)
    for tracked in poses:
        e = tracked.estimate
        color = tuple(int(255 * c) for c in category_color(e.category))
        draw_pose(image, frame.intrinsics, e.rotation, e.translation, e.size, color,
                  '%s_%d' % (e.category, tracked.track_id))
    draw_legend(image, [('ground truth', (255, 255, 255)),
                        ('estimate (colour by category, label category_track)',
                         tuple(int(255 * c) for c in category_color('mug'))),
                        ('estimated axes: x red, y green, z blue', (255, 0, 0))])
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def run(args: argparse.Namespace) -> int:
    """Run the demo and print what it measured."""
    from catpose_ros.evaluation.runner import nocs_result
    from catpose_ros.model.device import configure_threads
    from catpose_ros.cli.eval import frame_pipeline_from_args

    configure_threads(args.threads)
    model_path, device, sampler, pipeline = frame_pipeline_from_args(args)
    print('model %s on %s, %s head, sampler %s (%d steps), mode %s'
          % (model_path, device, args.head, sampler.method, sampler.steps, args.mode))
    masks = _Masks(args, str(device))
    print('masks: %s' % masks.description)
    rows, latency, results = [], defaultdict(list), []
    frame = result = None
    for index, frame in enumerate(_frames(args)):
        started = time.perf_counter()
        instances, truth_ids = masks.instances(frame)
        segmented = time.perf_counter()
        result = pipeline.process(index * 33_333_333, frame.depth, frame.intrinsics, instances)
        results.append(nocs_result(frame, [t.estimate for t in result.poses], instances,
                                   'frame_%d' % index))
        latency['frame'].append(1000 * (time.perf_counter() - started))
        if masks.segmenter is not None:
            latency['segmentation'].append(1000 * (segmented - started))
        for stage, ms in result.latency_ms.items():
            latency[stage].append(ms)
        frame_rows = _errors(frame, result.poses, truth_ids)
        visible = {int(i) for i in np.unique(frame.mask) if i != 0}
        missed = len(visible - set(truth_ids.values()))
        rows.extend(dict(row, frame=index) for row in frame_rows)
        print(_frame_line(index, frame_rows, missed, latency['frame'][-1], result.skipped))
    _print_summary(rows, latency, results)
    if frame is not None:
        _save_overlay(Path(args.out), frame, result.poses)
        print('overlay of the last frame: %s (colour: estimate, white: truth)' % args.out)
    return 0


def _frame_line(index: int, rows: List[Dict], missed: int, ms: float, skipped) -> str:
    """One line per frame: objects scored, how they started, misses, median errors."""
    starts = ' '.join(sorted({r['start'] for r in rows})) or '-'
    rot = np.median([r['rot_deg'] for r in rows]) if rows else np.nan
    trans = np.median([r['trans_cm'] for r in rows]) if rows else np.nan
    return 'frame %2d: %d objects (%s), %d missed, median rot %.1f deg, trans %.1f cm, ' \
        '%.0f ms%s' % (index, len(rows), starts, missed, rot, trans, ms,
                       ', skipped %s' % skipped if skipped else '')


def _print_summary(rows: List[Dict], latency: Dict[str, List[float]],
                   results: List[Dict]) -> None:
    from catpose_ros.evaluation.metrics import PoseErrors
    from catpose_ros.evaluation.nocs_map import nocs_map

    last = {}
    for row in rows:
        last[row['track']] = row
    print('\nlast frame, per object:   rot err  trans err   size estimated / true (cm)')
    for track, row in sorted(last.items()):
        print('  %-8s track %-3d %7.1f deg %7.1f cm   %s / %s' % (
            row['category'], track, row['rot_deg'], row['trans_cm'],
            np.array2string(row['size_est_cm'], precision=1),
            np.array2string(row['size_gt_cm'], precision=1)))
    if rows:
        summary = PoseErrors(np.array([r['rot_deg'] for r in rows]),
                             np.array([r['trans_cm'] for r in rows])).summary()
        print('all frames: %d estimates, 5deg2cm %.2f, 10deg5cm %.2f, median %.1f deg %.1f cm'
              % (len(rows), summary['5deg2cm'], summary['10deg5cm'],
                 summary['median_rotation_deg'], summary['median_translation_cm']))
        mean = nocs_map(results).mean
        print('NOCS mAP (percent, `catpose eval` for a real benchmark): ' + ', '.join(
            '%s %.1f' % (key, mean[key]) for key in ('5deg2cm', '10deg5cm', 'iou50')))
    print('latency per frame (median ms): ' + ', '.join(
        '%s %.1f' % (stage, np.median(values)) for stage, values in latency.items()))
