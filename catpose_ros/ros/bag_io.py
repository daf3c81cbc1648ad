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

"""rosbag2 files without ROS: synchronised input frames, output writing, synthetic bags.

Reading and writing go through rosbags (MCAP and sqlite3 storage). `BagFrameReader` pairs
each depth image with the camera_info, RGB, instance label image and Detection2DArray of
the same header stamp (within a slop), as the pose node's synchroniser does live.
`sequence_to_bag` turns a rendered sequence into a bag with camera topics, ground-truth
segmentation topics (so the pose pipeline runs from the bag without a trained segmenter)
and the ground-truth poses as a Detection3DArray.
"""

from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
import logging
from pathlib import Path
import shutil
import tempfile
from typing import Any, Deque, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from catpose_ros.data.frame import Frame
from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.ros import conversions as conv
from catpose_ros.ros.bag_layout import BagTopics, STORAGES, SyntheticTopics  # noqa: F401
from catpose_ros.ros.messages import make_typestore, RosbagsFactory

LOGGER = logging.getLogger(__name__)

DEFAULT_FRAME_ID = 'camera_color_optical_frame'
# 2023-11-14T22:13:20Z: a fixed, non-zero start keeps synthetic bags reproducible and avoids
# the all-zero stamps that time synchronisers and TF treat as "no time".
DEFAULT_START_NS = 1_700_000_000 * 1_000_000_000


# custom_data key of bags this package writes: 'complete', or 'partial: <reason>'.
STATUS_KEY = 'catpose_ros.status'
PARTIAL_SUFFIX = '.partial'


class BagTopicError(ValueError):
    """Raised when a requested topic is not in the bag."""


class BagOutputError(RuntimeError):
    """Raised when writing an output bag failed; says what became of the partial output."""


@dataclass
class BagFrame:
    """One synchronised input frame: the original messages by role, decoded on demand."""

    stamp_ns: int
    messages: Dict[str, Any]
    depth_scale: float = conv.DEFAULT_DEPTH_SCALE
    log_time_ns: int = 0

    @property
    def header(self) -> Any:
        """Return the depth image header: stamp and optical frame of every output."""
        return self.messages['depth'].header

    @property
    def frame_id(self) -> str:
        """The optical frame of the depth image."""
        return str(self.header.frame_id)

    @cached_property
    def depth_m(self) -> np.ndarray:
        """Depth in metres (float32, invalid = 0)."""
        return conv.depth_to_metres(self.messages['depth'], self.depth_scale)

    @cached_property
    def intrinsics(self) -> CameraIntrinsics:
        """Intrinsics from the camera_info."""
        return conv.camera_info_to_intrinsics(self.messages['camera_info'])

    @cached_property
    def rgb(self) -> Optional[np.ndarray]:
        """RGB image (H, W, 3) uint8, or None when no rgb topic was read."""
        message = self.messages.get('rgb')
        return None if message is None else conv.image_to_rgb(message)

    @cached_property
    def instances(self) -> Optional[np.ndarray]:
        """Instance label image (0 = background), or None when not read."""
        message = self.messages.get('instances')
        return None if message is None else conv.image_to_numpy(message)

    @cached_property
    def detections(self) -> Optional[List[conv.Detection2DRecord]]:
        """2D detections whose ids are label values, or None when not read."""
        message = self.messages.get('detections2d')
        return None if message is None else conv.detection2d_array_to_records(message)


def _storage_plugin(storage: str):
    from rosbags.rosbag2 import StoragePlugin
    plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
    if storage not in plugins:
        raise ValueError('unknown bag storage %r; choose %s' % (storage, ' or '.join(STORAGES)))
    return plugins[storage]


class _Synchroniser:
    """Approximate-time pairing of depth images with the other roles, in log order.

    Per-topic stamps are assumed to increase, so a depth frame whose partner topic has
    already moved past stamp + slop without a match can never be matched and is dropped.
    camera_info is taken as the closest one received (intrinsics rarely change).
    """

    def __init__(self, roles: Iterable[str], slop_ns: int, queue: int):
        self.partner_roles = [r for r in roles if r not in ('depth', 'camera_info')]
        self.slop_ns = slop_ns
        self.queue = queue
        self.pending: Deque[Tuple[int, int, Any]] = deque()
        self.buffers: Dict[str, Deque[Tuple[int, Any]]] = {
            role: deque(maxlen=queue) for role in self.partner_roles + ['camera_info']}
        self.dropped = 0

    def add(self, role: str, stamp_ns: int, log_time_ns: int, message: Any) -> None:
        if role == 'depth':
            self.pending.append((stamp_ns, log_time_ns, message))
            if len(self.pending) > self.queue:
                self.pending.popleft()
                self.dropped += 1
        else:
            self.buffers[role].append((stamp_ns, message))

    def ready(self, final: bool = False) -> Iterator[Tuple[int, int, Dict[str, Any]]]:
        """Yield (stamp, log time, messages) of every pending depth frame that is decided."""
        while self.pending:
            stamp, log_time, depth = self.pending[0]
            decision = self._match(stamp, final)
            if decision is None:
                return
            self.pending.popleft()
            if decision is False:
                self.dropped += 1
                continue
            decision['depth'] = depth
            yield stamp, log_time, decision

    def _match(self, stamp: int, final: bool):
        """Return the partner messages, False when unmatchable, None to wait for more."""
        matched = {}
        info = self.buffers['camera_info']
        if not info:
            return False if final else None
        matched['camera_info'] = min(info, key=lambda item: abs(item[0] - stamp))[1]
        for role in self.partner_roles:
            buffer = self.buffers[role]
            # Stamps increase per topic: once one at or after the depth stamp is in, no
            # closer partner can come; before that, a nearer one may still be on its way
            # (a frame's depth logged before its own label image must not take the last).
            complete = final or any(item[0] >= stamp for item in buffer)
            close = [item for item in buffer if abs(item[0] - stamp) <= self.slop_ns]
            if close and complete:
                best = min(close, key=lambda item: abs(item[0] - stamp))
                matched[role] = best[1]
                while buffer and buffer[0][0] < best[0]:
                    buffer.popleft()
            elif not close and (final or any(item[0] > stamp + self.slop_ns for item in buffer)):
                return False
            else:
                return None
        return matched


class BagFrameReader:
    """Iterate the synchronised frames of a rosbag2 (MCAP or sqlite3) in log order.

    The depth topic drives: each depth image gets the camera_info, and the rgb, instances
    and detections2d messages (those topics that are set) whose header stamps lie within
    `slop_s` of its own (0 = exact). Depth images without a full set are dropped and counted
    in `dropped`.
    """

    def __init__(self, path: Path, topics: BagTopics, slop_s: float = 0.0,
                 depth_scale: float = conv.DEFAULT_DEPTH_SCALE, distro: str = 'jazzy',
                 queue: int = 30):
        self.path = Path(path)
        self.topics = topics
        self.slop_ns = int(round(slop_s * 1e9))
        self.depth_scale = depth_scale
        self.distro = distro
        self.queue = queue
        self.dropped = 0
        self.frames = 0

    def __iter__(self) -> Iterator[BagFrame]:
        from rosbags.highlevel import AnyReader
        roles = self.topics.roles()
        with AnyReader([self.path], default_typestore=make_typestore(self.distro)) as reader:
            role_by_topic = {topic: role for role, topic in roles.items()}
            connections = [c for c in reader.connections if c.topic in role_by_topic]
            missing = set(role_by_topic) - {c.topic for c in connections}
            if missing:
                raise BagTopicError('%s has no topic %s; it has: %s' % (
                    self.path, ', '.join(sorted(missing)),
                    ', '.join(sorted({c.topic for c in reader.connections}))))
            sync = _Synchroniser(roles, self.slop_ns, self.queue)
            for connection, log_time, raw in reader.messages(connections=connections):
                message = reader.deserialize(raw, connection.msgtype)
                sync.add(role_by_topic[connection.topic], conv.stamp_to_ns(message.header.stamp),
                         log_time, message)
                yield from self._frames(sync.ready())
            yield from self._frames(sync.ready(final=True))
            self.dropped = sync.dropped
        if self.dropped:
            LOGGER.info('%s: %d depth images had no synchronised partners', self.path,
                        self.dropped)

    def _frames(self, ready) -> Iterator[BagFrame]:
        for stamp, log_time, messages in ready:
            self.frames += 1
            yield BagFrame(stamp_ns=stamp, messages=messages, depth_scale=self.depth_scale,
                           log_time_ns=log_time)


def _refuse_existing(path: Path) -> None:
    if path.exists():
        raise FileExistsError('%s already exists; rosbag2 output is never overwritten, '
                              'choose a new path or remove it' % (path,))


def _describe(error: BaseException) -> str:
    """Return 'Type: message' of an error on one line."""
    text = ' '.join(str(error).split())
    return '%s: %s' % (type(error).__name__, text) if text else type(error).__name__


@contextmanager
def staged_bag_output(out_path: Path, keep_partial: bool = False) -> Iterator[Path]:
    """Yield a temporary bag path beside out_path; rename it to out_path on success.

    A failure never leaves a complete-looking bag at out_path: the partial bag is removed,
    or with keep_partial moved to '<out_path>.partial' (its metadata custom_data says
    'partial: <reason>', see BagWriterHelper). The error is re-raised as BagOutputError
    saying which of the two happened; KeyboardInterrupt is re-raised as it is.
    """
    out_path = Path(out_path)
    _refuse_existing(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix='.%s.' % out_path.name, suffix='.tmp',
                                    dir=out_path.parent))
    staged = staging / out_path.name
    try:
        yield staged
        _refuse_existing(out_path)
        staged.rename(out_path)
    except BaseException as error:
        outcome = _discard_partial(staged, out_path, keep_partial)
        if not isinstance(error, Exception):
            raise
        raise BagOutputError('%s; %s' % (_describe(error), outcome)) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _discard_partial(staged: Path, out_path: Path, keep_partial: bool) -> str:
    """Remove or set aside a partial bag; return what was done, for the error message."""
    if not staged.exists():
        return 'no output written'
    kept = out_path.with_name(out_path.name + PARTIAL_SUFFIX)
    if keep_partial and not kept.exists():
        staged.rename(kept)
        return 'partial output kept at %s (marked partial in its metadata)' % kept
    return 'partial output removed'


def bag_topics(path: Path, distro: str = 'jazzy') -> Dict[str, Tuple[str, int]]:
    """Return {topic: (message type, message count)} of a bag."""
    from rosbags.highlevel import AnyReader
    with AnyReader([Path(path)], default_typestore=make_typestore(distro)) as reader:
        return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}


def _message_stamp_ns(message: Any) -> Optional[int]:
    """Return the header stamp of a message, or of the first element of TF/marker arrays."""
    if hasattr(message, 'header'):
        return conv.stamp_to_ns(message.header.stamp)
    for items in ('transforms', 'markers'):
        elements = getattr(message, items, None)
        if elements:
            return conv.stamp_to_ns(elements[0].header.stamp)
    return None


class BagWriterHelper:
    """Write messages of any typestore type (vision_msgs included) to a new rosbag2.

    Connections are added on first use of a topic. The log time of a message is its header
    stamp unless `stamp_ns` is given, so bag replay reproduces the original timing.
    """

    def __init__(self, path: Path, distro: str = 'jazzy', storage: str = 'mcap'):
        from rosbags.rosbag2 import Writer
        self.path = Path(path)
        _refuse_existing(self.path)
        self.factory = RosbagsFactory(distro)
        self._writer = Writer(self.path, version=9, storage_plugin=_storage_plugin(storage))
        self._connections: Dict[str, Any] = {}
        self.counts: Dict[str, int] = {}

    def __enter__(self) -> 'BagWriterHelper':
        self._writer.open()
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        """Close the bag, marking it in custom_data as complete or partial (with the reason)."""
        if exc_type is None:
            self._writer.set_custom_data(STATUS_KEY, 'complete')
            self._writer.close()
            return
        self._writer.set_custom_data(STATUS_KEY, 'partial: %s' % _describe(exc_value))
        try:
            self._writer.close()
        except Exception as error:  # the original error is the one to report
            LOGGER.debug('closing the partial bag %s failed: %s', self.path, error)

    def write(self, topic: str, message: Any, stamp_ns: Optional[int] = None) -> None:
        """Serialise message with this distro's typestore and append it to topic."""
        msgtype = message.__msgtype__
        connection = self._connections.get(topic)
        if connection is None:
            connection = self._writer.add_connection(topic, msgtype,
                                                     typestore=self.factory.typestore)
            self._connections[topic] = connection
        elif connection.msgtype != msgtype:
            raise ValueError('topic %s carries %s, not %s' % (topic, connection.msgtype, msgtype))
        if stamp_ns is None:
            stamp_ns = _message_stamp_ns(message)
            if stamp_ns is None:
                raise ValueError('a %s without header on %s needs an explicit stamp_ns' % (
                    msgtype, topic))
        self._writer.write(connection, stamp_ns, self.factory.serialize(message))
        self.counts[topic] = self.counts.get(topic, 0) + 1


def _frame_detections(frame: Frame) -> List[conv.Detection2DRecord]:
    """Return one score-1 detection per annotated object that is visible in the mask."""
    detections = []
    for obj in frame.objects:
        mask = frame.mask == obj.instance_id
        if mask.any():
            detections.append(conv.Detection2DRecord(
                obj.instance_id, obj.category, 1.0, conv.mask_box(mask)))
    return detections


def _ground_truth(frame: Frame) -> List[conv.ObjectPose]:
    """Ground-truth poses; the hypothesis score carries the handle visibility (1 or 0)."""
    return [conv.ObjectPose(track_id=obj.instance_id, category=obj.category,
                            score=1.0 if obj.handle_visible else 0.0, rotation=obj.rotation,
                            translation=obj.translation, size=obj.size)
            for obj in frame.objects]


def _depth_message(factory: RosbagsFactory, depth: np.ndarray, header: Any,
                   depth_scale: float) -> Any:
    """Encode depth as 16UC1: floats are metres, integer arrays already sensor units."""
    if np.issubdtype(np.asarray(depth).dtype, np.integer):
        return conv.numpy_to_image(factory, depth, '16UC1', header)
    return conv.metres_to_depth_image(factory, depth, header, '16UC1', depth_scale)


@dataclass
class SyntheticBagSummary:
    """What `sequence_to_bag` wrote."""

    path: Path
    frames: int
    counts: Dict[str, int] = field(default_factory=dict)


def write_frame(bag: BagWriterHelper, frame: Frame, stamp_ns: int, topics: SyntheticTopics,
                frame_id: str = DEFAULT_FRAME_ID,
                depth_scale: float = conv.DEFAULT_DEPTH_SCALE) -> None:
    """Write one rendered frame (camera, segmentation and ground-truth topics) at stamp_ns."""
    factory = bag.factory
    header = conv.make_header(factory, stamp_ns, frame_id)
    info = conv.intrinsics_to_camera_info(factory, frame.intrinsics, header)
    bag.write(topics.color, conv.numpy_to_image(factory, frame.color, 'rgb8', header))
    bag.write(topics.color_info, info)
    bag.write(topics.depth, _depth_message(factory, frame.depth, header, depth_scale))
    bag.write(topics.depth_info, info)
    bag.write(topics.instances, conv.numpy_to_image(factory, frame.mask, 'mono16', header))
    bag.write(topics.detections2d, conv.detections_to_detection2d_array(
        factory, _frame_detections(frame), header))
    bag.write(topics.ground_truth, conv.poses_to_detection3d_array(
        factory, _ground_truth(frame), header))


def sequence_to_bag(frames: Iterable[Frame], out_path: Path,
                    topics: Optional[SyntheticTopics] = None, distro: str = 'jazzy',
                    storage: str = 'mcap', rate_hz: float = 30.0,
                    start_ns: int = DEFAULT_START_NS, frame_id: str = DEFAULT_FRAME_ID,
                    depth_scale: float = conv.DEFAULT_DEPTH_SCALE) -> SyntheticBagSummary:
    """Write a rendered sequence as a rosbag2, one frame every 1 / rate_hz seconds.

    Depth and colour share one pixel grid, so both camera_infos carry the same intrinsics
    and every topic the optical frame frame_id.
    """
    if rate_hz <= 0:
        raise ValueError('rate_hz must be positive, got %r' % (rate_hz,))
    topics = topics or SyntheticTopics()
    count = 0
    with BagWriterHelper(out_path, distro=distro, storage=storage) as bag:
        for index, frame in enumerate(frames):
            stamp_ns = start_ns + int(round(index * 1e9 / rate_hz))
            write_frame(bag, frame, stamp_ns, topics, frame_id, depth_scale)
            count += 1
    return SyntheticBagSummary(Path(out_path), count, dict(bag.counts))
