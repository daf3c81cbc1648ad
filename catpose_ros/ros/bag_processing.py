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

"""Run the pose node's pipeline over a recorded rosbag2, offline and without ROS.

`process_bag(IN, OUT)` reads synchronised frames with rosbags, segments them (ground-truth
label images from the bag, or Mask R-CNN on the RGB topic), runs `PoseNodeCore` with
tracking exactly as the live node does, and writes a new rosbag2 with the node's output
topics and types. When the input carries ground-truth poses (Detection3DArray on
/catpose/ground_truth, as the synthetic data engine writes them) the summary adds accuracy,
computed by `catpose_ros.evaluation`: per-object errors of estimates paired with the nearest
ground truth of their category, and NOCS mAP.
"""

from collections import Counter
from dataclasses import dataclass, field
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

from catpose_ros.ros import conversions as conv
from catpose_ros.ros.bag_io import (bag_topics, BagFrameReader, BagTopicError, BagTopics,
                                    BagWriterHelper, staged_bag_output, SyntheticTopics)
from catpose_ros.ros.bag_layout import (SEGMENTATION_DETECTIONS_TOPIC,
                                        SEGMENTATION_INSTANCES_TOPIC)
from catpose_ros.ros.messages import make_typestore
from catpose_ros.ros.params import CatposeParams
from catpose_ros.ros.pose_pipeline import PoseNodeCore, PoseOutputs

SEGMENTATION_SOURCES = ('bag', 'maskrcnn')
GROUND_TRUTH_TOPIC = SyntheticTopics.ground_truth
# A ground-truth object and an estimate of its category further apart are not matched.
MATCH_DISTANCE_M = 0.3


@dataclass(frozen=True)
class OutputTopics:
    """Topics written to the output bag: the live nodes' names in namespace /catpose."""

    detections: str = '/catpose/catpose_pose/detections'
    markers: str = '/catpose/catpose_pose/markers'
    tf: str = '/tf'
    diagnostics: str = '/diagnostics'
    cloud: str = '/catpose/catpose_pose/debug/cloud'
    instances: str = SEGMENTATION_INSTANCES_TOPIC
    detections2d: str = SEGMENTATION_DETECTIONS_TOPIC


@dataclass
class BagProcessingSummary:
    """What `process_bag` did: frame counts, per-stage latency and, with ground truth, accuracy.

    latency_ms maps stage -> {mean, median, p95, max} over processed frames. accuracy maps
    category (and 'all') -> the `PoseErrors.summary()` figures plus 'matched' and 'missed';
    nocs_map holds the NOCS mAP (percent, `NocsMap.as_dict()`).
    """

    in_path: Path
    out_path: Path
    frames_read: int = 0
    frames_processed: int = 0
    frames_skipped: int = 0
    frames_unsynchronised: int = 0
    objects: int = 0
    skip_reasons: Counter = field(default_factory=Counter)
    latency_ms: Dict[str, Dict[str, float]] = field(default_factory=dict)
    accuracy: Optional[Dict[str, Dict[str, float]]] = None
    nocs_map: Optional[Dict[str, Any]] = None
    topic_counts: Dict[str, int] = field(default_factory=dict)

    def to_text(self) -> str:
        """Return a human-readable report (what `catpose bag process` prints)."""
        lines = ['%s -> %s' % (self.in_path, self.out_path),
                 'frames: %d read, %d processed, %d skipped, %d without synchronised inputs; '
                 '%d objects' % (self.frames_read, self.frames_processed, self.frames_skipped,
                                 self.frames_unsynchronised, self.objects)]
        lines += ['  skipped %dx: %s' % (n, reason) for reason, n in
                  self.skip_reasons.most_common(5)]
        lines.append('latency per frame (ms): stage mean / median / p95 / max')
        lines += ['  %-22s %8.1f %8.1f %8.1f %8.1f' % (
            stage, s['mean'], s['median'], s['p95'], s['max'])
            for stage, s in self.latency_ms.items()]
        if self.accuracy:
            lines.append('accuracy vs %s: category n matched/missed, median rot deg, '
                         'median trans cm, 5deg2cm, 10deg5cm' % GROUND_TRUTH_TOPIC)
            lines += ['  %-8s %4d/%-4d %7.2f %7.2f %6.3f %6.3f' % (
                name, a['matched'], a['missed'], a['median_rotation_deg'],
                a['median_translation_cm'], a['5deg2cm'], a['10deg5cm'])
                for name, a in self.accuracy.items()]
        if self.nocs_map:
            lines.append('NOCS mAP (percent): ' + ', '.join(
                '%s %s' % (key, '-' if value is None else '%.1f' % value)
                for key, value in self.nocs_map['mAP'].items()))
        return '\n'.join(lines)


def process_bag(in_path: Union[str, Path], out_path: Union[str, Path],
                params: Union[CatposeParams, Mapping[str, Any], None] = None,
                segmentation_source: str = 'bag', progress: bool = True,
                topics: Optional[BagTopics] = None, distro: str = 'jazzy',
                storage: str = 'mcap', share_dir: Optional[str] = None,
                pose_core: Optional[PoseNodeCore] = None,
                keep_partial: bool = False) -> BagProcessingSummary:
    """Run segmentation + pose estimation + tracking over a rosbag2; write the outputs.

    Args:
        in_path: input rosbag2 directory (MCAP or sqlite3).
        out_path: output rosbag2 directory; must not exist yet.
        params: CatposeParams or a dict of dotted parameter names (config/catpose.yaml's
            names, e.g. {'model.checkpoint': 'm.pt', 'tracking.mode': 'estimate'}).
        segmentation_source: 'bag' reads the instance label image and Detection2DArray
            topics of the bag (ground truth from the data engine, or a recorded
            catpose_segmentation); 'maskrcnn' segments the RGB topic with
            segmentation.backend and segmentation.weights and writes its outputs too.
        progress: show a tqdm progress bar.
        topics: input topics; default: the topics `sequence_to_bag` writes.
        distro: 'jazzy' or 'humble' typestore for reading and writing.
        storage: 'mcap' or 'sqlite3' for the output bag.
        share_dir: where models/ is looked up when model.checkpoint is empty.
        pose_core: an already built PoseNodeCore (e.g. to share a loaded model).
        keep_partial: on failure keep what was written as OUT.partial (marked partial in
            its metadata) instead of removing it. The output is written under a temporary
            name and renamed to out_path only when the whole bag was processed.

    Returns:
        A BagProcessingSummary (frames, latency per stage, accuracy with ground truth).

    Raises:
        BagTopicError: a requested topic is missing (nothing is written).
        BagOutputError: reading or processing failed part-way; no bag is left at out_path.
    """
    if segmentation_source not in SEGMENTATION_SOURCES:
        raise ValueError('segmentation_source must be one of %s, got %r'
                         % (', '.join(SEGMENTATION_SOURCES), segmentation_source))
    if not isinstance(params, CatposeParams):
        params = CatposeParams.from_dict(dict(params or {}))
    in_path, out_path = Path(in_path), Path(out_path)
    topics = topics or SyntheticTopics().reader_topics()
    reader_topics = _reader_topics(topics, segmentation_source)
    _check_topics(in_path, reader_topics, distro)
    reader = BagFrameReader(in_path, reader_topics, slop_s=params.sync.slop,
                            depth_scale=params.depth.scale, distro=distro)
    ground_truth = _read_ground_truth(in_path, distro)
    summary = BagProcessingSummary(in_path, out_path)
    recorder = _Recorder(ground_truth)
    with staged_bag_output(out_path, keep_partial) as staged, \
            BagWriterHelper(staged, distro=distro, storage=storage) as bag:
        core = pose_core or PoseNodeCore.from_params(params, bag.factory, share_dir)
        core.factory = bag.factory
        segmentation = None
        if segmentation_source == 'maskrcnn':
            from catpose_ros.ros.segmentation_pipeline import SegmentationNodeCore
            segmentation = SegmentationNodeCore.from_params(params, bag.factory, share_dir)
        frames = _progress(reader, progress, _count(in_path, topics.depth, distro))
        for frame in frames:
            summary.frames_read += 1
            outputs = _process_frame(core, segmentation, frame, bag, summary)
            _write_outputs(bag, outputs)
            recorder.add(outputs)
    summary.frames_unsynchronised = reader.dropped
    summary.latency_ms = recorder.latency_summary()
    if ground_truth:
        summary.accuracy = recorder.accuracy()
        summary.nocs_map = recorder.nocs_map()
    summary.topic_counts = dict(bag.counts)
    return summary


def _reader_topics(topics: BagTopics, segmentation_source: str) -> BagTopics:
    if segmentation_source == 'maskrcnn':
        if not topics.rgb:
            raise ValueError("segmentation_source 'maskrcnn' needs an rgb topic")
        return BagTopics(depth=topics.depth, camera_info=topics.camera_info, rgb=topics.rgb)
    if not (topics.instances and topics.detections2d):
        raise ValueError("segmentation_source 'bag' needs instances and detections2d topics")
    return BagTopics(depth=topics.depth, camera_info=topics.camera_info,
                     instances=topics.instances, detections2d=topics.detections2d)


def _check_topics(path: Path, topics: BagTopics, distro: str) -> None:
    """Raise BagTopicError before any output exists when a requested topic is missing."""
    present = bag_topics(path, distro)
    missing = sorted(set(topics.roles().values()) - set(present))
    if missing:
        raise BagTopicError('%s has no topic %s; it has: %s' % (
            path, ', '.join(missing), ', '.join(sorted(present))))


def _count(path: Path, topic: str, distro: str) -> Optional[int]:
    return bag_topics(path, distro).get(topic, (None, None))[1]


def _progress(frames, enabled: bool, total: Optional[int]):
    if not enabled:
        return frames
    from tqdm import tqdm
    return tqdm(frames, total=total, unit='frame', desc='catpose')


def _process_frame(core: PoseNodeCore, segmentation: Any, frame: Any, bag: BagWriterHelper,
                   summary: BagProcessingSummary) -> PoseOutputs:
    """Segment (when asked) and estimate one frame; count skips."""
    messages = frame.messages
    instances, detections = messages.get('instances'), messages.get('detections2d')
    segmentation_ms = {}
    if segmentation is not None:
        segmented = segmentation.process(messages['rgb'], messages['depth'])
        instances, detections = segmented.instances, segmented.detections
        segmentation_ms = {'segmentation_' + k: v for k, v in segmented.latency_ms.items()}
        if segmented.skip_reason is None:
            topics = OutputTopics()
            bag.write(topics.instances, instances)
            bag.write(topics.detections2d, detections)
    outputs = core.process(messages['depth'], messages['camera_info'], instances, detections,
                           want_cloud=core.params.output.publish_debug_cloud)
    outputs.latency_ms.update(segmentation_ms)
    if outputs.processed:
        summary.frames_processed += 1
        summary.objects += len(outputs.objects)
    else:
        summary.frames_skipped += 1
        summary.skip_reasons[outputs.skip_reason] += 1
    return outputs


def _write_outputs(bag: BagWriterHelper, outputs: PoseOutputs) -> None:
    """Write what the live node would publish, stamped with the input stamp."""
    topics = OutputTopics()
    stamp = outputs.stamp_ns or None
    for topic, message in ((topics.detections, outputs.detections),
                           (topics.markers, outputs.markers), (topics.tf, outputs.tf),
                           (topics.cloud, outputs.cloud),
                           (topics.diagnostics, outputs.diagnostics)):
        if message is not None:
            bag.write(topic, message, stamp_ns=stamp)


def _read_ground_truth(path: Path, distro: str) -> Dict[int, List[conv.ObjectPose]]:
    """Return {stamp: ground-truth objects} from GROUND_TRUTH_TOPIC, {} when absent."""
    from rosbags.highlevel import AnyReader
    result = {}
    with AnyReader([path], default_typestore=make_typestore(distro)) as reader:
        connections = [c for c in reader.connections if c.topic == GROUND_TRUTH_TOPIC]
        for connection, _, raw in reader.messages(connections=connections):
            message = reader.deserialize(raw, connection.msgtype)
            result[conv.stamp_to_ns(message.header.stamp)] = \
                conv.detection3d_array_to_poses(message)
    return result


def _handle_visible(truth: conv.ObjectPose) -> bool:
    """On the ground-truth topic the hypothesis score is the handle visibility (see bag_io)."""
    return truth.score >= 0.5


def _box(obj: conv.ObjectPose, score: float = 1.0, handle_visible: bool = True):
    from catpose_ros.evaluation.nocs_map import PosedBox
    return PosedBox(obj.category, obj.rotation, obj.translation, obj.size, score,
                    handle_visible)


class _Recorder:
    """Collect per-frame latency and ground-truth matches while the bag is processed."""

    def __init__(self, ground_truth: Dict[int, List[conv.ObjectPose]]):
        self.ground_truth = ground_truth
        self.latencies: Dict[str, List[float]] = {}
        self.pairs: List[tuple] = []
        self.missed: Counter = Counter()
        self.frame_results: List[Dict] = []

    def add(self, outputs: PoseOutputs) -> None:
        if not outputs.processed:
            return
        for stage, value in outputs.latency_ms.items():
            self.latencies.setdefault(stage, []).append(float(value))
        truth = self.ground_truth.get(outputs.stamp_ns)
        if truth is not None:
            self._match(truth, list(outputs.objects))

    def _match(self, truth: List[conv.ObjectPose], estimates: List[conv.ObjectPose]) -> None:
        """Pair ground truth with estimates (evaluation.metrics.pair_nearest); keep the frame."""
        from catpose_ros.evaluation.metrics import pair_nearest
        from catpose_ros.evaluation.nocs_map import frame_result
        known = [e for e in estimates if _known_category(e.category)]
        pairs, missed = pair_nearest(
            [g.category for g in truth], np.array([g.translation for g in truth]),
            [e.category for e in estimates], np.array([e.translation for e in estimates]),
            MATCH_DISTANCE_M)
        self.pairs.extend((truth[i], estimates[j]) for i, j in pairs)
        self.missed.update(truth[i].category for i in missed)
        self.frame_results.append(frame_result(
            [_box(g, handle_visible=_handle_visible(g)) for g in truth
             if _known_category(g.category)],
            [_box(e, e.score) for e in known]))

    def latency_summary(self) -> Dict[str, Dict[str, float]]:
        return {stage: {'mean': float(np.mean(values)), 'median': float(np.median(values)),
                        'p95': float(np.percentile(values, 95)), 'max': float(np.max(values))}
                for stage, values in self.latencies.items()}

    def accuracy(self) -> Dict[str, Dict[str, float]]:
        from catpose_ros.evaluation.metrics import pose_errors, symmetric_flags
        categories = sorted({gt.category for gt, _ in self.pairs} | set(self.missed))
        result = {}
        for name in categories + ['all']:
            pairs = [p for p in self.pairs if name in ('all', p[0].category)]
            missed = sum(self.missed.values()) if name == 'all' else self.missed[name]
            if pairs:
                errors = pose_errors(
                    np.stack([e.rotation for _, e in pairs]),
                    np.stack([e.translation for _, e in pairs]),
                    np.stack([g.rotation for g, _ in pairs]),
                    np.stack([g.translation for g, _ in pairs]),
                    symmetric_flags([g.category for g, _ in pairs],
                                    [_handle_visible(g) for g, _ in pairs]))
                figures = errors.summary()
            else:
                figures = {key: math.nan for key in (
                    'median_rotation_deg', 'median_translation_cm', '5deg2cm', '10deg5cm')}
            figures.update(matched=len(pairs), missed=missed)
            result[name] = figures
        return result

    def nocs_map(self) -> Dict[str, Any]:
        from catpose_ros.evaluation.nocs_map import nocs_map
        return nocs_map(self.frame_results).as_dict()


def _known_category(category: str) -> bool:
    from catpose_ros.categories import category_names
    return category in category_names()
