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

"""Everything the pose node does, without ROS: one synchronised frame in, messages out.

`PoseNodeCore.process(depth, camera_info, instances, detections)` checks the inputs, turns
the label image and Detection2DArray into instances, estimates every object in one batch
(warm-started from its track in tracking mode) and returns the Detection3DArray, TF, markers,
diagnostics and debug cloud to publish. Bad input never raises: the frame is skipped with a
reason (logged by the caller) and the tracks are left as they were; one bad object (an
invalid id, score or box, a non-finite estimate) is skipped alone. Even an unexpected error
inside the frame is caught, logged with the frame stamp and counted (`frames_failed` in
/diagnostics). Nothing non-finite is ever published. The hand-off from the synchroniser
callback to the worker thread lives in ros/frame_worker.py.
"""

from dataclasses import dataclass, field
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from catpose_ros.model.device import configure_threads, resolve_device
from catpose_ros.perception.estimator import NON_FINITE_OUTPUT
from catpose_ros.perception.instances import Instance, InstanceLabel, LabelImageSegmenter
from catpose_ros.ros import conversions as conv
from catpose_ros.ros.frame_worker import (diagnostics_header, frame_stamp_text, LogRecord,
                                          stale_frame_reason)
from catpose_ros.ros.messages import MessageFactory
from catpose_ros.ros.params import CatposeParams, InvalidParameterError, resolve_checkpoint
from catpose_ros.timing import timed

DIAGNOSTIC_NAME = 'catpose_pose'
LABEL_ENCODINGS = ('mono16', '16UC1', 'mono8', '8UC1')
INPUT_NAMES = ('depth image', 'camera_info', 'instance label image', 'detections')


@dataclass
class PoseOutputs:
    """What one call of `PoseNodeCore.process` asks the node to publish and log.

    Messages are None when there is nothing to publish (a skipped frame publishes only
    diagnostics). `skip_reason` is set when the whole frame was skipped.
    """

    stamp_ns: int = 0
    frame_id: str = ''
    detections: Any = None
    tf: Any = None
    markers: Any = None
    diagnostics: Any = None
    cloud: Any = None
    objects: List[conv.ObjectPose] = field(default_factory=list)
    skipped_objects: List[Tuple[int, str]] = field(default_factory=list)
    skip_reason: Optional[str] = None
    error: Optional[str] = None
    latency_ms: Dict[str, float] = field(default_factory=dict)
    logs: List[LogRecord] = field(default_factory=list)

    @property
    def processed(self) -> bool:
        """Whether the frame was estimated (possibly with zero objects)."""
        return self.skip_reason is None


class FrameSkipped(Exception):
    """Internal: the current frame cannot be processed, for the given reason."""


def sampler_config_from_params(params: CatposeParams):
    """Build the diffusion sampler's config from the sampler.* and model.* parameters."""
    from catpose_ros.model.guidance import GuidanceConfig
    from catpose_ros.model.pose_sampler import SamplerConfig
    sampler = params.sampler
    return SamplerConfig(
        method=sampler.method, steps=sampler.steps, t0=sampler.t0, track_t0=sampler.track_t0,
        guidance=GuidanceConfig(kind=sampler.guidance, w_min=sampler.w_min,
                                w_max=sampler.w_max, beta=sampler.beta, w=sampler.w),
        num_candidates=params.model.uncertainty_candidates, aggregation=sampler.aggregation,
        update=sampler.update, final_denoise=sampler.final_denoise,
        cold_start=sampler.cold_start,
        cuda_graph=sampler.cuda_graph)


def tracking_config_from_params(params: CatposeParams):
    """Build the tracker's config from the tracking.* parameters (estimate = no warm start)."""
    from catpose_ros.perception.tracking import TrackingConfig
    tracking = params.tracking
    return TrackingConfig(
        warm_start=tracking.mode == 'track', lost_after_frames=tracking.lost_after_frames,
        max_translation_jump_m=tracking.max_translation_jump_m,
        max_rotation_jump_deg=tracking.max_rotation_jump_deg,
        reinit_period_s=tracking.reinit_period_s, min_iou=tracking.min_iou,
        max_centroid_distance_m=tracking.max_centroid_distance_m,
        stable_symmetric_rotation=tracking.stable_symmetric_rotation,
        relock_after_frames=tracking.relock_after_frames,
        relock_rotation_deg=tracking.relock_rotation_deg,
        relock_translation_m=tracking.relock_translation_m,
        cold_check_weight=tracking.cold_check_weight,
        min_points=params.segmentation.min_mask_pixels)


def estimator_options(params: CatposeParams) -> Dict[str, Any]:
    """Return the PoseEstimator keyword arguments the parameters set (model and device aside)."""
    return {'sampler_config': sampler_config_from_params(params), 'seed': params.model.seed,
            'head': params.model.head, 'min_points': params.segmentation.min_mask_pixels,
            'min_depth': params.depth.min_depth, 'max_depth': params.depth.max_depth,
            'precision': params.model.precision,
            'confidence_check': params.model.pose_confidence}


def load_estimator(params: CatposeParams, share_dir: Optional[str] = None):
    """Load the pose estimator the parameters name.

    Raises ModelNotFoundError (no file), CheckpointError (unusable file) or
    InvalidParameterError (model.num_points differs from what the model was trained with).
    """
    from catpose_ros.perception.estimator import PoseEstimator
    configure_threads(params.model.cpu_threads)
    checkpoint = resolve_checkpoint(params.model.checkpoint, share_dir)
    estimator = PoseEstimator.from_checkpoint(
        str(checkpoint), resolve_device(params.model.device), **estimator_options(params))
    if estimator.num_points != params.model.num_points:
        raise InvalidParameterError(
            'model.num_points is %d but %s was trained with %d points per object'
            % (params.model.num_points, checkpoint, estimator.num_points))
    return estimator


class PoseNodeCore:
    """The pose node's behaviour: inputs -> estimates -> messages, ROS-free and testable.

    Track ids come from `MultiObjectTracker` in both modes; `tracking.mode: estimate` only
    turns warm starts off. `process`, `reset` and `set_enabled` may be called from different
    threads (the node's worker and its service callbacks).
    """

    def __init__(self, params: CatposeParams, estimator: Any, factory: MessageFactory):
        from catpose_ros.perception.pipeline import FramePipeline
        self.params = params
        self.estimator = estimator
        self.factory = factory
        self.pipeline = FramePipeline(estimator, tracking_config_from_params(params),
                                      params.depth.min_depth, params.depth.max_depth)
        self.enabled = True
        self.labels = LabelImageSegmenter(min_mask_pixels=params.segmentation.min_mask_pixels)
        self.marker_book = conv.MarkerBook()
        self.frames_processed = 0
        self.frames_skipped = 0
        self.frames_failed = 0
        self.objects_failed = 0
        self.last_header: Any = None
        self._lock = threading.Lock()

    @property
    def tracker(self):
        """Give access to the multi-object tracker, whose tracks diagnostics and tests read."""
        return self.pipeline.tracker

    @classmethod
    def from_params(cls, params: CatposeParams, factory: MessageFactory,
                    share_dir: Optional[str] = None) -> 'PoseNodeCore':
        """Load the model the parameters name and build the core around it."""
        return cls(params, load_estimator(params, share_dir), factory)

    # ------------------------------------------------------------------ control

    def apply_params(self, params: CatposeParams) -> None:
        """Take new values of the parameters that apply while running (live in params.py).

        Raises ValueError, changing nothing, when they do not make a valid sampler or
        tracker configuration. Tracks are kept.
        """
        tracking = tracking_config_from_params(params)
        sampler = sampler_config_from_params(params)
        depth = params.depth
        with self._lock:
            self.estimator.reconfigure(sampler, params.segmentation.min_mask_pixels,
                                       depth.min_depth, depth.max_depth)
            self.pipeline.tracker.config = tracking
            self.pipeline.min_depth, self.pipeline.max_depth = depth.min_depth, depth.max_depth
            self.labels = LabelImageSegmenter(
                min_mask_pixels=params.segmentation.min_mask_pixels)
            self.params = params

    def set_enabled(self, enabled: bool) -> str:
        """Pause or resume estimation (tracks are kept); return a message for the caller."""
        self.enabled = bool(enabled)
        return 'estimation %s' % ('enabled' if self.enabled else 'disabled')

    def reset(self) -> Any:
        """Forget every track; return a MarkerArray that deletes all markers (or None)."""
        with self._lock:
            self.tracker.reset()
            if self.last_header is None:
                self.marker_book = conv.MarkerBook()
                return None
            return self.marker_book.reset(self.factory, self.last_header)

    # ------------------------------------------------------------------ processing

    def process(self, depth_msg: Any, camera_info_msg: Any, instances_msg: Any,
                detections_msg: Any, now_ns: Optional[int] = None,
                want_cloud: bool = False) -> PoseOutputs:
        """Estimate the poses of one frame; never raises on bad input (see skip_reason).

        now_ns is the node clock (for dropping stale frames); None skips the age check,
        as offline bag processing does. want_cloud asks for the debug PointCloud2.
        """
        started = time.perf_counter()
        outputs = PoseOutputs()
        with self._lock:
            try:
                header = self._check_inputs(depth_msg, camera_info_msg, instances_msg,
                                            detections_msg, now_ns)
                outputs.stamp_ns = conv.stamp_to_ns(header.stamp)
                outputs.frame_id = str(header.frame_id)
                self._process_frame(header, depth_msg, camera_info_msg, instances_msg,
                                    detections_msg, want_cloud, outputs)
                self.frames_processed += 1
            except FrameSkipped as skipped:
                self.frames_skipped += 1
                outputs.skip_reason = str(skipped)
                outputs.logs.append(LogRecord('warn', 'frame skipped: %s' % skipped))
            except Exception as error:  # one frame must never stop the node
                self._fail(outputs, error, depth_msg)
            outputs.latency_ms['total'] = 1000.0 * (time.perf_counter() - started)
            outputs.diagnostics = self._diagnostics(outputs, depth_msg)
        return outputs

    def _fail(self, outputs: PoseOutputs, error: BaseException, depth_msg: Any) -> None:
        """Turn an unexpected error into a skipped frame: nothing of it is published."""
        self.frames_failed += 1
        outputs.detections = outputs.tf = outputs.markers = outputs.cloud = None
        outputs.objects = []
        outputs.error = '%s: %s' % (type(error).__name__, error)
        outputs.skip_reason = 'internal error: %s' % outputs.error
        outputs.logs.append(LogRecord('error', 'frame %s failed: %s' % (
            frame_stamp_text(depth_msg), outputs.error)))

    def _check_inputs(self, depth_msg: Any, camera_info_msg: Any, instances_msg: Any,
                      detections_msg: Any, now_ns: Optional[int]) -> Any:
        """Return the depth header, or raise FrameSkipped for missing or mismatched inputs."""
        if not self.enabled:
            raise FrameSkipped('estimation is disabled (~/enable)')
        messages = (depth_msg, camera_info_msg, instances_msg, detections_msg)
        for name, message in zip(INPUT_NAMES, messages):
            if message is None:
                raise FrameSkipped('no %s for this frame' % name)
        header = depth_msg.header
        try:
            stamps = [conv.check_stamp(message.header.stamp, name)
                      for name, message in zip(INPUT_NAMES, messages)]
        except conv.ConversionError as error:
            raise FrameSkipped(str(error)) from None
        stamp_ns = stamps[0]
        if stamp_ns == 0:
            raise FrameSkipped('depth image has a zero stamp (the camera driver sets no time)')
        slop_ns = int(self.params.sync.slop * 1e9)
        for name, other_ns in zip(INPUT_NAMES[1:], stamps[1:]):
            offset = abs(other_ns - stamp_ns)
            if offset > slop_ns:
                raise FrameSkipped('%s stamp is %.3f s from the depth stamp (sync.slop %.3f s)'
                                   % (name, offset / 1e9, self.params.sync.slop))
        stale = stale_frame_reason(now_ns, stamp_ns, self.params.sync.max_input_age_s)
        if stale:
            raise FrameSkipped(stale)
        return header

    def _process_frame(self, header: Any, depth_msg: Any, camera_info_msg: Any,
                       instances_msg: Any, detections_msg: Any, want_cloud: bool,
                       outputs: PoseOutputs) -> None:
        def stage(name):
            return timed(outputs.latency_ms, name)

        with stage('decode'):
            depth_m, intrinsics, label_image, records, bad_records = self._decode(
                depth_msg, camera_info_msg, instances_msg, detections_msg)
        for instance_id, reason in bad_records:
            self._skip_object(outputs, instance_id, reason)
        with stage('masks'):
            instances = self._instances(label_image, records, outputs)
        result = self.pipeline.process(outputs.stamp_ns, depth_m, intrinsics, instances)
        for instance_id, reason in result.skipped:
            self._skip_object(outputs, int(instance_id), str(reason),
                              failed=str(reason).startswith(NON_FINITE_OUTPUT))
        latency = result.latency_ms
        outputs.latency_ms['tracking'] = latency['associate'] + latency['track_update']
        outputs.latency_ms['estimate'] = latency.get('estimate', 0.0)
        outputs.latency_ms.update({'estimate_' + part: latency[part] for part in
                                   ('backproject', 'encode', 'sample', 'size') if part in latency})
        outputs.objects, unpublishable = conv.publishable_poses(
            _object_pose(tracked.estimate, tracked.track_id) for tracked in result.poses)
        for track_id, reason in unpublishable:
            self._skip_object(outputs, track_id, 'track %d not published: %s' % (
                track_id, reason), failed=True)
        with stage('messages'):
            self._messages(header, outputs, result.clouds, want_cloud)
        self.last_header = conv.copy_header(self.factory, header)

    def _decode(self, depth_msg: Any, camera_info_msg: Any, instances_msg: Any,
                detections_msg: Any):
        """Convert the four messages to arrays; FrameSkipped for bad encodings and sizes."""
        try:
            depth_m = conv.depth_to_metres(depth_msg, self.params.depth.scale)
            intrinsics = conv.camera_info_to_intrinsics(camera_info_msg)
            if str(instances_msg.encoding) not in LABEL_ENCODINGS:
                raise conv.ConversionError('instance label image encoding %r is not one of %s'
                                           % (str(instances_msg.encoding),
                                              ', '.join(LABEL_ENCODINGS)))
            label_image = conv.image_to_numpy(instances_msg)
            records, bad_records = conv.read_detection2d_array(detections_msg)
        except conv.ConversionError as error:
            raise FrameSkipped(str(error)) from None
        if depth_m.shape != (intrinsics.height, intrinsics.width):
            raise FrameSkipped('depth image is %dx%d but camera_info says %dx%d' % (
                depth_m.shape[1], depth_m.shape[0], intrinsics.width, intrinsics.height))
        if label_image.shape != depth_m.shape:
            raise FrameSkipped('instance label image is %dx%d, depth image %dx%d' % (
                label_image.shape[1], label_image.shape[0], depth_m.shape[1],
                depth_m.shape[0]))
        if not np.any(depth_m > 0):
            raise FrameSkipped('depth image has no valid pixel (all zero, NaN or inf)')
        return depth_m, intrinsics, label_image, records, bad_records

    def _skip_object(self, outputs: PoseOutputs, instance_id: int, reason: str,
                     failed: bool = False) -> None:
        """Record one skipped object; a model failure is an error, bad input a debug note."""
        outputs.skipped_objects.append((instance_id, reason))
        self.objects_failed += int(failed)
        outputs.logs.append(LogRecord('error' if failed else 'debug',
                                      'object %d skipped: %s' % (instance_id, reason)))

    def _instances(self, label_image: np.ndarray, records: Sequence[conv.Detection2DRecord],
                   outputs: PoseOutputs) -> List[Instance]:
        """Split the label image into instances that pass the score and mask-size limits."""
        threshold = self.params.segmentation.score_threshold
        labels, low_score = {}, set()
        for record in records:
            if record.score < threshold:
                low_score.add(record.instance_id)
                self._skip_object(outputs, record.instance_id, 'score %.2f below %.2f'
                                  % (record.score, threshold))
            else:
                labels[record.instance_id] = InstanceLabel(record.category, record.score)
        result = self.labels.convert(label_image, labels)
        for skipped in result.skipped:
            if skipped.instance_id not in low_score:
                self._skip_object(outputs, skipped.instance_id, skipped.reason)
        return result.instances

    def _messages(self, header: Any, outputs: PoseOutputs, clouds: Dict[int, np.ndarray],
                  want_cloud: bool) -> None:
        factory, output = self.factory, self.params.output
        out_header = conv.copy_header(factory, header)
        outputs.detections = conv.poses_to_detection3d_array(factory, outputs.objects,
                                                             out_header)
        confident = [obj for obj in outputs.objects if obj.score >= output.tf_min_score]
        if output.publish_tf and confident:
            outputs.tf = conv.poses_to_tf_message(factory, confident, out_header,
                                                  output.tf_prefix)
        if output.publish_markers:
            outputs.markers = self.marker_book.markers(factory, outputs.objects, out_header)
        if want_cloud and output.publish_debug_cloud:
            points = np.concatenate([np.zeros((0, 3), np.float32)] + list(clouds.values()))
            outputs.cloud = conv.points_to_cloud(factory, points, out_header)

    def _diagnostics(self, outputs: PoseOutputs, depth_msg: Any) -> Any:
        header = diagnostics_header(self.factory, depth_msg)
        tracks = self.tracker.tracks
        state = {
            'mode': self.params.tracking.mode, 'enabled': self.enabled,
            'objects': len(outputs.objects), 'objects_skipped': len(outputs.skipped_objects),
            'tracks': len(tracks),
            'tracks_lost': sum(1 for track in tracks if track.state == 'lost'),
            'frames_processed': self.frames_processed, 'frames_skipped': self.frames_skipped,
            'frames_failed': self.frames_failed, 'objects_failed': self.objects_failed,
            'last_skip_reason': outputs.skip_reason or '',
        }
        level = conv.DIAGNOSTIC_OK if outputs.processed else conv.DIAGNOSTIC_WARN
        if outputs.error is not None or any(record.level == 'error'
                                            for record in outputs.logs):
            level = conv.DIAGNOSTIC_ERROR
        message = outputs.skip_reason or '%d objects' % len(outputs.objects)
        return conv.diagnostics_to_msg(self.factory, header, DIAGNOSTIC_NAME,
                                       outputs.latency_ms, state, level, message)


def _object_pose(estimate: Any, track_id: int) -> conv.ObjectPose:
    return conv.ObjectPose(
        track_id=int(track_id), category=str(estimate.category), score=float(estimate.score),
        rotation=np.asarray(estimate.rotation, dtype=np.float64),
        translation=np.asarray(estimate.translation, dtype=np.float64),
        size=np.asarray(estimate.size, dtype=np.float64),
        covariance=None if estimate.covariance is None else np.asarray(estimate.covariance))
