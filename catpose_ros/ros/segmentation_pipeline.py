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

"""Everything the segmentation node does, without ROS: RGB (+ depth) in, instances out.

Outputs follow the vision_msgs recommendation for segmentation: a mono16 instance label
image (0 = background, value = instance id), a Detection2DArray whose `id` is that label
value, LabelInfo for the category names, and optionally the depth masked to the instances.
Every output carries the depth header when a depth image is given (the label image lies on
the depth grid, which the pose node needs), else the RGB header. Bad input (a colour
encoding on the depth topic, an unnormalised stamp) is a skip with a reason; an unexpected
error is caught, logged with the frame stamp and counted in the diagnostics.
"""

from dataclasses import dataclass, field
import time
from typing import Any, Dict, List, Optional

import cv2
import numpy as np

from catpose_ros.categories import NOCS_CATEGORIES
from catpose_ros.model.device import resolve_device
from catpose_ros.perception.instances import (Instance, instances_to_label_image, mask_box,
                                              masked_depth)
from catpose_ros.perception.segmentation import make_segmenter
from catpose_ros.ros import conversions as conv
from catpose_ros.ros.frame_worker import (diagnostics_header, frame_stamp_text, LogRecord,
                                          stale_frame_reason)
from catpose_ros.ros.messages import MessageFactory
from catpose_ros.ros.params import CatposeParams, resolve_checkpoint

DEFAULT_SEGMENTER_WEIGHTS = 'maskrcnn_default.pt'
RGB_BACKENDS = ('maskrcnn', 'detectron2')
DIAGNOSTIC_NAME = 'catpose_segmentation'


@dataclass
class SegmentationOutputs:
    """What one call of `SegmentationNodeCore.process` asks the node to publish."""

    instances: Any = None
    detections: Any = None
    masked_depth: Any = None
    diagnostics: Any = None
    instance_list: List[Instance] = field(default_factory=list)
    skip_reason: Optional[str] = None
    error: Optional[str] = None
    latency_ms: Dict[str, float] = field(default_factory=dict)
    logs: List[LogRecord] = field(default_factory=list)


def load_segmenter(params: CatposeParams, share_dir: Optional[str] = None):
    """Build the segmenter (RGB or RGB-D) the parameters name; missing weights raise clearly."""
    backend = params.segmentation.backend
    if backend not in RGB_BACKENDS:
        raise ValueError('segmentation.backend %r does not segment RGB images; the '
                         'segmentation node needs one of %s (external label images go '
                         'straight to the pose node with segmentation_source:=topic)'
                         % (backend, ', '.join(RGB_BACKENDS)))
    weights = resolve_checkpoint(params.segmentation.weights, share_dir,
                                 DEFAULT_SEGMENTER_WEIGHTS, 'segmentation.weights')
    options = {'device': resolve_device(params.model.device),
               'score_threshold': params.segmentation.score_threshold,
               'min_mask_pixels': params.segmentation.min_mask_pixels}
    if backend == 'maskrcnn':
        return make_segmenter(backend, weights_path=str(weights),
                              **maskrcnn_options(params), **options)
    return make_segmenter(backend, config_path=str(weights.with_suffix('.yaml')),
                          weights_path=str(weights), **options)


def maskrcnn_options(params: CatposeParams) -> Dict[str, Any]:
    """Mask R-CNN keyword arguments from the segmentation and depth parameters.

    input_size 0 keeps the size stored with the weights; otherwise the short side is
    input_size and the long side may grow to twice that (any usual aspect ratio fits).
    """
    seg = params.segmentation
    keep = tuple(c.strip() for c in seg.categories.split(',') if c.strip())
    size = {'min_size': seg.input_size, 'max_size': 2 * seg.input_size} \
        if seg.input_size else {}
    return {'max_detections': seg.max_detections, 'keep_categories': keep,
            'depth_scale': params.depth.scale, **size}


class SegmentationNodeCore:
    """The segmentation node's behaviour, ROS-free: segment, rasterise, build messages."""

    def __init__(self, params: CatposeParams, segmenter: Any, factory: MessageFactory):
        self.params = params
        self.segmenter = segmenter
        self.factory = factory
        self.enabled = True
        self.frames_processed = 0
        self.frames_skipped = 0
        self.frames_failed = 0
        self.categories = list(getattr(segmenter, 'categories', None) or
                               [c.name for c in NOCS_CATEGORIES])

    @classmethod
    def from_params(cls, params: CatposeParams, factory: MessageFactory,
                    share_dir: Optional[str] = None) -> 'SegmentationNodeCore':
        """Load the segmenter the parameters name and build the core around it."""
        return cls(params, load_segmenter(params, share_dir), factory)

    def apply_params(self, params: CatposeParams) -> None:
        """Take new values of the parameters that apply while running (sync.max_input_age_s)."""
        self.params = params

    def label_info(self, stamp_ns: int = 0, frame_id: str = '') -> Any:
        """Return the LabelInfo (published once, transient local): id -> category name."""
        by_name = {c.name: c for c in NOCS_CATEGORIES}
        categories = [by_name[name] if name in by_name else _AdHocCategory(index + 1, name)
                      for index, name in enumerate(self.categories)]
        return conv.label_info_msg(self.factory, conv.make_header(self.factory, stamp_ns,
                                                                  frame_id),
                                   self.params.segmentation.score_threshold, categories)

    def process(self, rgb_msg: Any, depth_msg: Any = None,
                now_ns: Optional[int] = None) -> SegmentationOutputs:
        """Segment one frame; bad input is a skip with a reason, never an exception."""
        outputs = SegmentationOutputs()
        started = time.perf_counter()
        try:
            reason = self._check(rgb_msg, depth_msg, now_ns)
            if reason is None:
                self._segment(rgb_msg, depth_msg, outputs)
        except conv.ConversionError as error:
            reason = str(error)
        except Exception as error:  # one frame must never stop the node
            outputs.error = '%s: %s' % (type(error).__name__, error)
            reason = 'internal error: %s' % outputs.error
            outputs.logs.append(LogRecord('error', 'frame %s failed: %s' % (
                frame_stamp_text(depth_msg or rgb_msg), outputs.error)))
        if reason is not None:
            outputs.instances = outputs.detections = outputs.masked_depth = None
            outputs.instance_list = []
            outputs.skip_reason = reason
            if outputs.error is None:
                outputs.logs.append(LogRecord('warn', 'frame skipped: %s' % reason))
        self.frames_failed += int(outputs.error is not None)
        self.frames_skipped += int(reason is not None and outputs.error is None)
        self.frames_processed += int(reason is None)
        outputs.latency_ms['total'] = 1000.0 * (time.perf_counter() - started)
        outputs.diagnostics = self._diagnostics(outputs, depth_msg or rgb_msg)
        return outputs

    def _diagnostics(self, outputs: SegmentationOutputs, message: Any) -> Any:
        state = {'enabled': self.enabled, 'instances': len(outputs.instance_list),
                 'frames_processed': self.frames_processed,
                 'frames_skipped': self.frames_skipped, 'frames_failed': self.frames_failed,
                 'last_skip_reason': outputs.skip_reason or ''}
        level = conv.DIAGNOSTIC_OK
        if outputs.skip_reason is not None:
            level = conv.DIAGNOSTIC_WARN if outputs.error is None else conv.DIAGNOSTIC_ERROR
        message_text = outputs.skip_reason or '%d instances' % len(outputs.instance_list)
        return conv.diagnostics_to_msg(self.factory, diagnostics_header(self.factory, message),
                                       DIAGNOSTIC_NAME, outputs.latency_ms, state, level,
                                       message_text)

    def _check(self, rgb_msg: Any, depth_msg: Any, now_ns: Optional[int]) -> Optional[str]:
        """Return why the frame cannot be segmented, or None; ConversionError for bad stamps."""
        if not self.enabled:
            return 'segmentation is disabled'
        if rgb_msg is None:
            return 'no RGB image for this frame'
        stamp_ns = conv.check_stamp(rgb_msg.header.stamp, 'RGB image')
        if depth_msg is not None:
            conv.check_depth_encoding(depth_msg)
            offset = abs(conv.check_stamp(depth_msg.header.stamp, 'depth image') - stamp_ns)
            if offset > self.params.sync.slop * 1e9:
                return 'depth stamp is %.3f s from the RGB stamp (sync.slop %.3f s)' % (
                    offset / 1e9, self.params.sync.slop)
        return stale_frame_reason(now_ns, stamp_ns, self.params.sync.max_input_age_s)

    def _segment(self, rgb_msg: Any, depth_msg: Any, outputs: SegmentationOutputs) -> None:
        rgb = np.require(conv.image_to_rgb(rgb_msg), requirements='W')  # torch wants writable
        depth = None if depth_msg is None else conv.image_to_numpy(depth_msg)
        started = time.perf_counter()
        instances = self.segmenter.segment(rgb, depth)
        outputs.latency_ms['segment'] = 1000.0 * (time.perf_counter() - started)
        if depth is not None and depth.shape[:2] != rgb.shape[:2]:
            instances = _resize_instances(instances, depth.shape[:2])
        outputs.instance_list = instances
        grid = rgb.shape[:2] if depth is None else depth.shape[:2]
        header = conv.copy_header(self.factory, (depth_msg or rgb_msg).header)
        outputs.instances = conv.numpy_to_image(
            self.factory, instances_to_label_image(instances, grid), 'mono16', header)
        outputs.detections = conv.detections_to_detection2d_array(self.factory, instances,
                                                                  header)
        if depth is not None:
            outputs.masked_depth = conv.numpy_to_image(
                self.factory, masked_depth(depth, instances), str(depth_msg.encoding), header)


@dataclass(frozen=True)
class _AdHocCategory:
    """A category of a segmenter trained beyond the NOCS table (LabelInfo needs an id)."""

    class_id: int
    name: str


def _resize_instances(instances: List[Instance], shape) -> List[Instance]:
    """Move masks from the RGB grid to the depth grid (nearest neighbour)."""
    height, width = int(shape[0]), int(shape[1])
    resized = []
    for instance in instances:
        mask = cv2.resize(instance.mask.astype(np.uint8), (width, height),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
        if mask.any():
            resized.append(Instance(instance.instance_id, instance.category, mask,
                                    instance.score, mask_box(mask)))
    return resized
