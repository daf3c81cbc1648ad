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

"""The segmentation section of `catpose benchmark`: Mask R-CNN latency per 640x480 frame.

Times `TorchvisionMaskRCNNSegmenter.segment` (resize, network, mask pasting, thresholding)
on a rendered 640x480 RGB-D frame of unseen test instances, so the number of detections,
and with it the mask-head cost, is what a real table scene gives.
"""

import argparse
import time
from typing import List, Optional

FRAME_SEED = 7


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the segmentation flags to the benchmark parser."""
    parser.add_argument('--segmentation-weights', default='',
                        help='Mask R-CNN weights to time (default: the shipped segmenter)')
    parser.add_argument('--no-segmentation', action='store_true',
                        help='skip the segmentation section')


def benchmark_frame():
    """Return one rendered 640x480 frame of a test-split scene (deterministic)."""
    from catpose_ros.cli.data import scene_frames

    return next(iter(scene_frames(FRAME_SEED, 0, 'test', 'real', 1, 'random', True)))


def segmentation_latency(weights: str, device: str, repeats: int, warmup: int,
                         frame=None) -> dict:
    """Return median / p90 ms per frame, detections and what was timed."""
    import numpy as np
    import torch

    from catpose_ros.perception.segmentation import TorchvisionMaskRCNNSegmenter
    from catpose_ros.resources import resolve_checkpoint
    from catpose_ros.ros.segmentation_pipeline import DEFAULT_SEGMENTER_WEIGHTS

    path = resolve_checkpoint(weights, None, DEFAULT_SEGMENTER_WEIGHTS,
                              '--segmentation-weights')
    segmenter = TorchvisionMaskRCNNSegmenter(path, device=device, max_detections=20)
    frame = frame if frame is not None else benchmark_frame()
    times: List[float] = []
    detections = 0
    for index in range(warmup + repeats):
        if device.startswith('cuda'):
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        detections = len(segmenter.segment(frame.color, frame.depth))
        if device.startswith('cuda'):
            torch.cuda.synchronize(device)
        if index >= warmup:
            times.append(1000.0 * (time.perf_counter() - start))
    return {'weights': str(path), 'device': device, 'median_ms': float(np.median(times)),
            'p90_ms': float(np.percentile(times, 90)), 'detections': detections,
            'input': 'RGB-D' if segmenter.uses_depth else 'RGB',
            'size': '%dx%d' % (frame.color.shape[1], frame.color.shape[0]),
            'threads': torch.get_num_threads()}


def segmentation_table(args: argparse.Namespace, devices: List[str]) -> Optional[str]:
    """Time the segmenter on each device; None when skipped or no weights exist."""
    from catpose_ros.resources import ModelNotFoundError

    if getattr(args, 'no_segmentation', False):
        return None
    lines = ['%-42s %10s %10s %10s' % ('segmentation per frame', 'median ms', 'p90 ms',
                                       'objects')]
    lines.append('-' * len(lines[0]))
    frame = benchmark_frame()
    for device in devices:
        try:
            result = segmentation_latency(args.segmentation_weights, device, args.frames,
                                          args.warmup, frame)
        except ModelNotFoundError as error:
            return 'segmentation: skipped (%s)' % error
        name = 'Mask R-CNN %s %s (%s)' % (result['input'], result['size'], device)
        row = (name, result['median_ms'], result['p90_ms'], result['detections'])
        lines.append('%-42s %10.1f %10.1f %10d' % row)
    return '\n'.join(lines)
