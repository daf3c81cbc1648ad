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

"""Pure conversions between ROS 2 messages and numpy / catpose_ros types.

Readers accept messages of either backend (rosbags dataclasses or rclpy classes): they only
read attributes and buffers. Writers take a `MessageFactory` (ros/messages.py) and copy the
input header unchanged, so every output carries the stamp and optical frame of the depth
image it came from.

Conventions:
- Detection3D.id = str(track id); results[0].hypothesis.class_id = category name;
  bbox.center = results[0].pose.pose = object -> camera pose; bbox.size = metric size.
- Pose covariance is row-major 6x6 over (x, y, z, rot x, rot y, rot z). An unknown
  covariance is sent as all zeros with element 0 set to -1 (as REP 145 marks a missing
  estimate).
- Detection2D.id = str(instance label value); class_id = category name.
- TF child frame = f'{tf_prefix}{category}_{track_id}', e.g. 'catpose/mug_3'.
"""

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from catpose_ros.categories import category_color, NOCS_CATEGORIES
from catpose_ros.geometry import backprojection
from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.geometry.rotation import matrix_to_quaternion_xyzw, quaternion_xyzw_to_matrix
from catpose_ros.perception.instances import mask_box as segmentation_mask_box
from catpose_ros.ros.messages import MessageFactory

UNKNOWN_COVARIANCE_MARK = -1.0
DEFAULT_DEPTH_SCALE = 0.001

# encoding -> (numpy dtype, channels); sensor_msgs/image_encodings.hpp names.
IMAGE_ENCODINGS: Dict[str, Tuple[np.dtype, int]] = {
    'mono8': (np.dtype(np.uint8), 1),
    '8UC1': (np.dtype(np.uint8), 1),
    'mono16': (np.dtype(np.uint16), 1),
    '16UC1': (np.dtype(np.uint16), 1),
    '32FC1': (np.dtype(np.float32), 1),
    'rgb8': (np.dtype(np.uint8), 3),
    'bgr8': (np.dtype(np.uint8), 3),
    'rgba8': (np.dtype(np.uint8), 4),
    'bgra8': (np.dtype(np.uint8), 4),
}
DEPTH_ENCODINGS = ('16UC1', 'mono16', '32FC1')
INT32_MIN, INT32_MAX = -2 ** 31, 2 ** 31 - 1
# Detection2D ids are values of a mono16 instance label image; 0 is the background.
MAX_INSTANCE_ID = 2 ** 16 - 1
# How far R^T R may be from the identity before a rotation is refused for publishing.
ROTATION_TOLERANCE = 1e-2

# visualization_msgs/Marker constants.
MARKER_ARROW, MARKER_CUBE, MARKER_LINE_LIST, MARKER_TEXT = 0, 1, 5, 9
MARKER_ADD, MARKER_DELETE, MARKER_DELETEALL = 0, 2, 3
MARKER_NAMESPACES = ('bbox', 'axes', 'label')
# sensor_msgs/PointField.FLOAT32
POINTFIELD_FLOAT32 = 7
# diagnostic_msgs/DiagnosticStatus levels
DIAGNOSTIC_OK, DIAGNOSTIC_WARN, DIAGNOSTIC_ERROR, DIAGNOSTIC_STALE = 0, 1, 2, 3


class ConversionError(ValueError):
    """Raised for a message that cannot be converted (bad encoding, size, calibration)."""


# ---------------------------------------------------------------- time and headers

def stamp_to_ns(stamp: Any) -> int:
    """Return a builtin_interfaces/Time as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def check_stamp(stamp: Any, what: str = 'message') -> int:
    """Return a stamp as nanoseconds; ConversionError unless it is a normalised Time.

    builtin_interfaces/Time keeps nanosec in [0, 1e9); a stamp outside that (or beyond the
    int32 seconds of the wire) would turn into an output stamp that no longer serialises.
    """
    sec, nanosec = int(stamp.sec), int(stamp.nanosec)
    if not 0 <= nanosec < 1_000_000_000:
        raise ConversionError('%s stamp has nanosec %d, outside [0, 1e9)' % (what, nanosec))
    if not INT32_MIN <= sec <= INT32_MAX:
        raise ConversionError('%s stamp has sec %d, outside int32' % (what, sec))
    return stamp_to_ns(stamp)


def ns_to_stamp(factory: MessageFactory, ns: int) -> Any:
    """Return integer nanoseconds as a builtin_interfaces/Time (nanosec in [0, 1e9))."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    if not INT32_MIN <= sec <= INT32_MAX:
        raise ConversionError('%d ns is beyond the int32 seconds of builtin_interfaces/Time'
                              % int(ns))
    return factory.make('builtin_interfaces/msg/Time', sec=sec, nanosec=nanosec)


def make_header(factory: MessageFactory, stamp_ns: int, frame_id: str) -> Any:
    """Return a std_msgs/Header."""
    return factory.make('std_msgs/msg/Header', stamp=ns_to_stamp(factory, stamp_ns),
                        frame_id=frame_id)


def copy_header(factory: MessageFactory, header: Any) -> Any:
    """Return a copy of header built by factory (so it may come from the other backend)."""
    return make_header(factory, stamp_to_ns(header.stamp), str(header.frame_id))


# ---------------------------------------------------------------- images

def _image_layout(msg: Any) -> Tuple[np.dtype, int]:
    """Check an Image's encoding and sizes; return its dtype and channel count."""
    encoding = str(msg.encoding)
    if encoding not in IMAGE_ENCODINGS:
        raise ConversionError('unsupported image encoding %r; supported: %s' % (
            encoding, ', '.join(IMAGE_ENCODINGS)))
    dtype, channels = IMAGE_ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ConversionError('empty %s image (%dx%d)' % (encoding, width, height))
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ConversionError('%s image step %d is smaller than width * bytes per pixel = %d' % (
            encoding, step, row_bytes))
    size = len(memoryview(msg.data).cast('B'))
    if size < step * height:
        raise ConversionError('%s image data has %d bytes, step * height needs %d' % (
            encoding, size, step * height))
    return dtype, channels


def image_to_numpy(msg: Any) -> np.ndarray:
    """Return a sensor_msgs/Image as a contiguous native-endian (H, W) or (H, W, C) array.

    Row padding (step > width * bytes per pixel) is dropped and big-endian data is
    byte-swapped. Channels keep the encoding's order (bgr8 stays BGR).
    """
    dtype, channels = _image_layout(msg)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    raw = np.frombuffer(msg.data, dtype=np.uint8, count=step * height).reshape(height, step)
    rows = np.ascontiguousarray(raw[:, :width * channels * dtype.itemsize])
    wire = dtype.newbyteorder('>' if msg.is_bigendian else '<')
    pixels = rows.view(wire).astype(dtype, copy=False)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return np.ascontiguousarray(pixels.reshape(shape))


def image_to_rgb(msg: Any) -> np.ndarray:
    """Return a colour or mono8 Image as (H, W, 3) uint8 RGB, what segmenters expect."""
    pixels = image_to_numpy(msg)
    encoding = str(msg.encoding)
    if encoding in ('mono8', '8UC1'):
        return np.repeat(pixels[..., None], 3, axis=-1)
    if pixels.dtype != np.uint8 or pixels.ndim != 3:
        raise ConversionError('%s is not a colour encoding' % (encoding,))
    if encoding.startswith('bgr'):
        pixels = pixels[..., 2::-1]
    return np.ascontiguousarray(pixels[..., :3])


def _cast_pixels(pixels: np.ndarray, dtype: np.dtype, encoding: str) -> np.ndarray:
    """Cast pixels to dtype when no value changes (ints in range, floats to float32)."""
    if dtype.kind == 'f' and pixels.dtype.kind == 'f':
        return pixels.astype(dtype)
    if dtype.kind == 'u' and pixels.dtype.kind in 'biu':
        limits = np.iinfo(dtype)
        if pixels.min() >= limits.min and pixels.max() <= limits.max:
            return pixels.astype(dtype)
        raise ConversionError('%s pixel values must lie in [%d, %d], got [%d, %d]' % (
            encoding, limits.min, limits.max, pixels.min(), pixels.max()))
    raise ConversionError('%s needs %s pixels, got %s' % (encoding, dtype, pixels.dtype))


def numpy_to_image(factory: MessageFactory, pixels: np.ndarray, encoding: str,
                   header: Any) -> Any:
    """Return a little-endian, unpadded sensor_msgs/Image holding pixels in encoding."""
    if encoding not in IMAGE_ENCODINGS:
        raise ConversionError('unsupported image encoding %r; supported: %s' % (
            encoding, ', '.join(IMAGE_ENCODINGS)))
    dtype, channels = IMAGE_ENCODINGS[encoding]
    pixels = np.asarray(pixels)
    expected_ndim = 2 if channels == 1 else 3
    if pixels.ndim != expected_ndim or (channels > 1 and pixels.shape[2] != channels):
        raise ConversionError('%s needs an array of %s, got shape %s' % (
            encoding, '(H, W)' if channels == 1 else '(H, W, %d)' % channels, pixels.shape))
    if pixels.size == 0:
        raise ConversionError('cannot encode an empty image')
    if pixels.dtype != dtype:
        pixels = _cast_pixels(pixels, dtype, encoding)
    height, width = pixels.shape[:2]
    data = np.ascontiguousarray(pixels, dtype=dtype.newbyteorder('<')).view(np.uint8)
    return factory.make(
        'sensor_msgs/msg/Image', header=header, height=height, width=width, encoding=encoding,
        is_bigendian=0, step=width * channels * dtype.itemsize, data=data.reshape(-1))


def check_depth_encoding(msg: Any) -> None:
    """Raise ConversionError unless msg has a one-channel depth encoding."""
    if str(msg.encoding) not in DEPTH_ENCODINGS:
        raise ConversionError('depth image encoding %r is not one of %s' % (
            str(msg.encoding), ', '.join(DEPTH_ENCODINGS)))


def depth_to_metres(msg: Any, depth_scale: float = DEFAULT_DEPTH_SCALE) -> np.ndarray:
    """Return a depth Image in metres as float32; invalid (0, NaN, inf, negative) -> 0.

    16UC1 / mono16 values are multiplied by depth_scale (0.001 for millimetres); 32FC1 is
    already in metres.
    """
    check_depth_encoding(msg)
    return backprojection.depth_to_metres(image_to_numpy(msg), depth_scale)


def metres_to_depth_image(factory: MessageFactory, depth_m: np.ndarray, header: Any,
                          encoding: str = '16UC1',
                          depth_scale: float = DEFAULT_DEPTH_SCALE) -> Any:
    """Return a depth Image from metres: 16UC1 in units of depth_scale (rounded) or 32FC1."""
    depth_m = np.nan_to_num(np.asarray(depth_m, dtype=np.float64), nan=0.0, posinf=0.0)
    depth_m = np.clip(depth_m, 0.0, None)
    if encoding == '32FC1':
        return numpy_to_image(factory, depth_m.astype(np.float32), encoding, header)
    if encoding not in ('16UC1', 'mono16'):
        raise ConversionError('depth encoding must be 16UC1, mono16 or 32FC1, not %r' % (
            encoding,))
    units = np.rint(depth_m / depth_scale)
    if units.size and units.max() > np.iinfo(np.uint16).max:
        raise ConversionError('depth %.3f m does not fit 16 bits at scale %g' % (
            float(depth_m.max()), depth_scale))
    return numpy_to_image(factory, units.astype(np.uint16), encoding, header)


# ---------------------------------------------------------------- camera info

def camera_info_to_intrinsics(msg: Any) -> CameraIntrinsics:
    """Return the pinhole intrinsics of a CameraInfo (K row-major, width and height)."""
    k = np.asarray(msg.k, dtype=np.float64).reshape(-1)
    if k.size != 9 or not np.any(k):
        raise ConversionError('camera_info %r has an all-zero K: the camera is uncalibrated' % (
            str(msg.header.frame_id),))
    try:
        return CameraIntrinsics.from_matrix(k, int(msg.width), int(msg.height))
    except ValueError as error:
        raise ConversionError('camera_info %r: %s' % (str(msg.header.frame_id), error)) from None


def intrinsics_to_camera_info(factory: MessageFactory, intrinsics: CameraIntrinsics,
                              header: Any) -> Any:
    """Return a rectified plumb_bob CameraInfo with zero distortion for intrinsics."""
    k = intrinsics.matrix
    projection = np.zeros((3, 4))
    projection[:, :3] = k
    return factory.make(
        'sensor_msgs/msg/CameraInfo', header=header, height=intrinsics.height,
        width=intrinsics.width, distortion_model='plumb_bob', d=np.zeros(5), k=k.reshape(-1),
        r=np.eye(3).reshape(-1), p=projection.reshape(-1))


# ---------------------------------------------------------------- poses

def _make_pose(factory: MessageFactory, rotation: np.ndarray, translation: np.ndarray) -> Any:
    x, y, z, w = matrix_to_quaternion_xyzw(np.asarray(rotation, dtype=np.float64))
    tx, ty, tz = np.asarray(translation, dtype=np.float64).reshape(3)
    return factory.make(
        'geometry_msgs/msg/Pose',
        position=factory.make('geometry_msgs/msg/Point', x=tx, y=ty, z=tz),
        orientation=factory.make('geometry_msgs/msg/Quaternion', x=x, y=y, z=z, w=w))


def _read_pose(pose: Any) -> Tuple[np.ndarray, np.ndarray]:
    q, p = pose.orientation, pose.position
    quaternion = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    position = np.array([p.x, p.y, p.z], dtype=np.float64)
    if not (np.isfinite(quaternion).all() and np.isfinite(position).all()):
        raise ConversionError('pose holds non-finite values')
    with np.errstate(over='ignore'):
        norm = np.linalg.norm(quaternion)
    if not (np.isfinite(norm) and norm > 0):
        raise ConversionError('pose has a zero or overflowing quaternion')
    return quaternion_xyzw_to_matrix(quaternion / norm), position


def _vector3(factory: MessageFactory, values: np.ndarray) -> Any:
    x, y, z = np.asarray(values, dtype=np.float64).reshape(3)
    return factory.make('geometry_msgs/msg/Vector3', x=x, y=y, z=z)


@dataclass
class ObjectPose:
    """One estimated (or ground-truth) object: identity, category, pose and metric size."""

    track_id: int
    category: str
    score: float
    rotation: np.ndarray
    translation: np.ndarray
    size: np.ndarray
    covariance: Optional[np.ndarray] = None


def _covariance_values(covariance: Optional[np.ndarray]) -> np.ndarray:
    """Return the 36 covariance values; a missing or non-finite one is sent as unknown."""
    values = None if covariance is None else np.asarray(covariance, dtype=np.float64)
    if values is not None and values.shape != (6, 6):
        raise ConversionError('pose covariance must be 6x6, got %s' % (values.shape,))
    if values is None or not np.isfinite(values).all():
        values = np.zeros(36)
        values[0] = UNKNOWN_COVARIANCE_MARK
        return values
    return values.reshape(-1)


def _finite_array(value: Any, shape: Tuple[int, ...]) -> Optional[np.ndarray]:
    """Return value as a float64 array of shape, or None when it is not finite or fits not."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if array.shape != shape or not np.isfinite(array).all():
        return None
    return array


def object_pose_problem(obj: ObjectPose) -> Optional[str]:
    """Say why an object cannot be published (non-finite or improper pose), or None.

    The rotation must be a proper rotation (R^T R = I within ROTATION_TOLERANCE, det > 0):
    a zero, NaN or reflected matrix has no quaternion. Translation, size (>= 0) and score
    must be finite; a bad covariance is not a problem (it is sent as unknown).
    """
    rotation = _finite_array(obj.rotation, (3, 3))
    if rotation is None:
        return 'rotation is not a finite 3x3 matrix'
    with np.errstate(over='ignore', invalid='ignore'):
        improper = not (np.abs(rotation.T @ rotation - np.eye(3)).max() <= ROTATION_TOLERANCE
                        and np.linalg.det(rotation) > 0)
    if improper:
        return 'rotation is not a proper rotation (zero, scaled or reflected)'
    if _finite_array(obj.translation, (3,)) is None:
        return 'translation is not 3 finite numbers'
    size = _finite_array(obj.size, (3,))
    if size is None or (size < 0).any():
        return 'size is not 3 finite, non-negative numbers'
    try:
        score, track_id = float(obj.score), int(obj.track_id)
    except (TypeError, ValueError, OverflowError):
        return 'score or track id is not a number'
    if not np.isfinite(score):
        return 'score %r is not finite' % score
    if not INT32_MIN <= track_id <= INT32_MAX:
        return 'track id %d does not fit a marker id (int32)' % track_id
    return None


def publishable_poses(poses: Iterable[ObjectPose]
                      ) -> Tuple[List[ObjectPose], List[Tuple[int, str]]]:
    """Split objects into those that can be published and (track id, reason) for the rest."""
    kept, dropped = [], []
    for obj in poses:
        problem = object_pose_problem(obj)
        if problem is None:
            kept.append(obj)
        else:
            dropped.append((_safe_int(obj.track_id), problem))
    return kept, dropped


def _safe_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return -1


def poses_to_detection3d_array(factory: MessageFactory, poses: Iterable[ObjectPose],
                               header: Any) -> Any:
    """Return a vision_msgs/Detection3DArray with one Detection3D per publishable object.

    Objects that `object_pose_problem` refuses are left out: nothing non-finite is sent.
    """
    detections = []
    for obj in publishable_poses(poses)[0]:
        pose = _make_pose(factory, obj.rotation, obj.translation)
        hypothesis = factory.make(
            'vision_msgs/msg/ObjectHypothesisWithPose',
            hypothesis=factory.make('vision_msgs/msg/ObjectHypothesis',
                                    class_id=obj.category, score=float(obj.score)),
            pose=factory.make('geometry_msgs/msg/PoseWithCovariance', pose=pose,
                              covariance=_covariance_values(obj.covariance)))
        detections.append(factory.make(
            'vision_msgs/msg/Detection3D', header=header, results=[hypothesis],
            bbox=factory.make('vision_msgs/msg/BoundingBox3D',
                              center=_make_pose(factory, obj.rotation, obj.translation),
                              size=_vector3(factory, obj.size)),
            id=str(int(obj.track_id))))
    return factory.make('vision_msgs/msg/Detection3DArray', header=header, detections=detections)


def _parse_id(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConversionError('%s id %r is not an integer' % (what, text)) from None


def detection3d_array_to_poses(msg: Any) -> List[ObjectPose]:
    """Return the objects of a Detection3DArray (inverse of poses_to_detection3d_array)."""
    poses = []
    for detection in msg.detections:
        if not detection.results:
            raise ConversionError('Detection3D %r has no hypothesis' % (str(detection.id),))
        result = detection.results[0]
        rotation, translation = _read_pose(result.pose.pose)
        covariance = np.asarray(result.pose.covariance, dtype=np.float64).reshape(6, 6)
        size = detection.bbox.size
        poses.append(ObjectPose(
            track_id=_parse_id(str(detection.id), 'Detection3D'),
            category=str(result.hypothesis.class_id), score=float(result.hypothesis.score),
            rotation=rotation, translation=translation,
            size=np.array([size.x, size.y, size.z], dtype=np.float64),
            covariance=None if covariance[0, 0] == UNKNOWN_COVARIANCE_MARK else covariance))
    return poses


# ---------------------------------------------------------------- 2D detections

@dataclass
class Detection2DRecord:
    """One 2D detection: label value in the instance image, category, score, pixel box.

    box is (x1, y1, x2, y2), inclusive-exclusive, as in perception.instances.Instance.
    """

    instance_id: int
    category: str
    score: float
    box: Tuple[int, int, int, int]


def detections_to_detection2d_array(factory: MessageFactory, detections: Iterable[Any],
                                    header: Any) -> Any:
    """Return a Detection2DArray of objects with instance_id, category, score and box.

    Accepts `Detection2DRecord`s and `perception.instances.Instance`s alike.
    """
    messages = []
    for det in detections:
        x1, y1, x2, y2 = (float(v) for v in det.box)
        # Halves first: (x1 + x2) / 2 overflows for corners near the float limit.
        center = factory.make('vision_msgs/msg/Pose2D', position=factory.make(
            'vision_msgs/msg/Point2D', x=x1 / 2.0 + x2 / 2.0, y=y1 / 2.0 + y2 / 2.0), theta=0.0)
        hypothesis = factory.make(
            'vision_msgs/msg/ObjectHypothesisWithPose',
            hypothesis=factory.make('vision_msgs/msg/ObjectHypothesis',
                                    class_id=det.category, score=det.score))
        messages.append(factory.make(
            'vision_msgs/msg/Detection2D', header=header, results=[hypothesis],
            bbox=factory.make('vision_msgs/msg/BoundingBox2D', center=center,
                              size_x=x2 - x1, size_y=y2 - y1),
            id=str(int(det.instance_id))))
    return factory.make('vision_msgs/msg/Detection2DArray', header=header, detections=messages)


def detection2d_array_to_records(msg: Any) -> List[Detection2DRecord]:
    """Return the detections of a Detection2DArray whose ids are instance label values.

    Strict: the first invalid detection raises ConversionError (see read_detection2d_array
    for the per-object reading the pose node uses).
    """
    records, skipped = read_detection2d_array(msg)
    if skipped:
        raise ConversionError(skipped[0][1])
    return records


def read_detection2d_array(msg: Any
                           ) -> Tuple[List[Detection2DRecord], List[Tuple[int, str]]]:
    """Return (valid records, [(instance id or 0, reason)]) of a Detection2DArray.

    A detection is skipped, alone, when it has no hypothesis, an id that is not an instance
    label value (an integer in 1..65535), a non-finite score or box. Ids used by more than
    one detection are skipped for all of them: their pixels cannot be told apart.
    """
    parsed, skipped = [], []
    for detection in msg.detections:
        outcome = _detection2d_record(detection)
        if isinstance(outcome, Detection2DRecord):
            parsed.append(outcome)
        else:
            skipped.append(outcome)
    counts: Dict[int, int] = {}
    for record in parsed:
        counts[record.instance_id] = counts.get(record.instance_id, 0) + 1
    records = []
    for record in parsed:
        if counts[record.instance_id] == 1:
            records.append(record)
        else:
            skipped.append((record.instance_id, 'Detection2D id %d is used by %d detections; '
                            'its pixels cannot be labelled' % (record.instance_id,
                                                               counts[record.instance_id])))
    return records, skipped


def _detection2d_record(detection: Any):
    """Return a Detection2DRecord, or (instance id or 0, reason) for an invalid detection."""
    text = str(detection.id)
    try:
        instance_id = int(text)
    except ValueError:
        return 0, 'Detection2D id %r is not an integer instance label' % (text,)
    if not 1 <= instance_id <= MAX_INSTANCE_ID:
        return 0, 'Detection2D id %d is outside the label values 1..%d' % (
            instance_id, MAX_INSTANCE_ID)
    if not detection.results:
        return instance_id, 'Detection2D %d has no hypothesis' % instance_id
    hypothesis = detection.results[0].hypothesis
    score = float(hypothesis.score)
    if not np.isfinite(score):
        return instance_id, 'Detection2D %d has a non-finite score %r' % (instance_id, score)
    bbox = detection.bbox
    values = np.array([bbox.center.position.x, bbox.center.position.y, bbox.size_x,
                       bbox.size_y], dtype=np.float64)
    if not np.isfinite(values).all() or (values[2:] < 0).any():
        return instance_id, 'Detection2D %d has a non-finite or negative box %s' % (
            instance_id, values.tolist())
    cx, cy, width, height = values
    with np.errstate(over='ignore'):
        corners = np.array([cx - width / 2.0, cy - height / 2.0, cx + width / 2.0,
                            cy + height / 2.0])
    if not np.isfinite(corners).all():
        return instance_id, 'Detection2D %d has a box beyond the float range %s' % (
            instance_id, values.tolist())
    box = tuple(int(round(v)) for v in corners)
    return Detection2DRecord(instance_id=instance_id, category=str(hypothesis.class_id),
                             score=score, box=box)


def mask_box(mask: np.ndarray) -> Tuple[int, int, int, int]:
    """Return the (x1, y1, x2, y2) inclusive-exclusive box of a boolean mask."""
    if not np.any(mask):
        raise ConversionError('empty mask has no box')
    return segmentation_mask_box(mask)


# ---------------------------------------------------------------- TF

def child_frame_name(tf_prefix: str, category: str, track_id: int) -> str:
    """Return the stable TF child frame of one track, e.g. 'catpose/mug_3'."""
    return '%s%s_%d' % (tf_prefix, category, int(track_id))


def poses_to_tf_message(factory: MessageFactory, poses: Iterable[ObjectPose], header: Any,
                        tf_prefix: str = 'catpose/') -> Any:
    """Return a tf2_msgs/TFMessage: camera optical frame -> one child frame per object.

    Objects that cannot be published (see `object_pose_problem`) are left out.
    """
    transforms = []
    for obj in publishable_poses(poses)[0]:
        pose = _make_pose(factory, obj.rotation, obj.translation)
        transforms.append(factory.make(
            'geometry_msgs/msg/TransformStamped', header=header,
            child_frame_id=child_frame_name(tf_prefix, obj.category, obj.track_id),
            transform=factory.make(
                'geometry_msgs/msg/Transform',
                translation=_vector3(factory, obj.translation), rotation=pose.orientation)))
    return factory.make('tf2_msgs/msg/TFMessage', transforms=transforms)


# ---------------------------------------------------------------- markers

def _color(factory: MessageFactory, rgb: Sequence[float], alpha: float) -> Any:
    r, g, b = rgb
    return factory.make('std_msgs/msg/ColorRGBA', r=r, g=g, b=b, a=alpha)


def _point(factory: MessageFactory, xyz: Sequence[float]) -> Any:
    x, y, z = (float(v) for v in xyz)
    return factory.make('geometry_msgs/msg/Point', x=x, y=y, z=z)


def _object_markers(factory: MessageFactory, obj: ObjectPose, header: Any) -> List[Any]:
    """Return the bbox CUBE, axes LINE_LIST and label TEXT markers of one object."""
    size = np.asarray(obj.size, dtype=np.float64).reshape(3)
    rotation = np.asarray(obj.rotation, dtype=np.float64)
    translation = np.asarray(obj.translation, dtype=np.float64).reshape(3)
    pose = _make_pose(factory, rotation, translation)
    rgb = category_color(obj.category)
    marker_id = int(obj.track_id)
    axis_length = 0.75 * float(size.max())
    axes_points, axes_colors = [], []
    for axis in range(3):
        tip = np.zeros(3)
        tip[axis] = axis_length
        axes_points += [_point(factory, (0.0, 0.0, 0.0)), _point(factory, tip)]
        axis_rgb = np.eye(3)[axis]
        axes_colors += [_color(factory, axis_rgb, 1.0)] * 2
    label_position = translation + rotation @ np.array([0.0, size[1] / 2.0 + 0.03, 0.0])
    label_pose = factory.make(
        'geometry_msgs/msg/Pose', position=_point(factory, label_position),
        orientation=factory.make('geometry_msgs/msg/Quaternion'))
    return [
        factory.make('visualization_msgs/msg/Marker', header=header, ns='bbox', id=marker_id,
                     type=MARKER_CUBE, action=MARKER_ADD, pose=pose,
                     scale=_vector3(factory, size), color=_color(factory, rgb, 0.4)),
        factory.make('visualization_msgs/msg/Marker', header=header, ns='axes', id=marker_id,
                     type=MARKER_LINE_LIST, action=MARKER_ADD, pose=pose,
                     scale=_vector3(factory, (0.005, 0.0, 0.0)),
                     color=_color(factory, (1.0, 1.0, 1.0), 1.0),
                     points=axes_points, colors=axes_colors),
        factory.make('visualization_msgs/msg/Marker', header=header, ns='label', id=marker_id,
                     type=MARKER_TEXT, action=MARKER_ADD, pose=label_pose,
                     scale=_vector3(factory, (0.0, 0.0, 0.03)),
                     color=_color(factory, rgb, 1.0),
                     text='%s %d (%.2f)' % (obj.category, marker_id, obj.score)),
    ]


class MarkerBook:
    """Build MarkerArrays and remember the ids sent, so vanished objects get DELETEd."""

    def __init__(self):
        self._published: set = set()

    def markers(self, factory: MessageFactory, poses: Iterable[ObjectPose],
                header: Any) -> Any:
        """Return ADD markers for poses and DELETE markers for ids no longer present."""
        markers = []
        for obj in publishable_poses(poses)[0]:
            markers += _object_markers(factory, obj, header)
        current = {(m.ns, int(m.id)) for m in markers}
        for ns, marker_id in sorted(self._published - current):
            markers.append(factory.make('visualization_msgs/msg/Marker', header=header, ns=ns,
                                        id=marker_id, action=MARKER_DELETE))
        self._published = current
        return factory.make('visualization_msgs/msg/MarkerArray', markers=markers)

    def reset(self, factory: MessageFactory, header: Any) -> Any:
        """Forget every id and return a MarkerArray with a DELETEALL per namespace."""
        self._published = set()
        return factory.make('visualization_msgs/msg/MarkerArray', markers=[
            factory.make('visualization_msgs/msg/Marker', header=header, ns=ns,
                         action=MARKER_DELETEALL) for ns in MARKER_NAMESPACES])


# ---------------------------------------------------------------- point clouds

def points_to_cloud(factory: MessageFactory, points: np.ndarray, header: Any) -> Any:
    """Return an unorganised PointCloud2 with float32 x, y, z fields (point_step 12)."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ConversionError('points must be (N, 3), got %s' % (points.shape,))
    points = np.ascontiguousarray(points, dtype=np.dtype('<f4'))
    fields = [factory.make('sensor_msgs/msg/PointField', name=name, offset=4 * index,
                           datatype=POINTFIELD_FLOAT32, count=1)
              for index, name in enumerate('xyz')]
    return factory.make(
        'sensor_msgs/msg/PointCloud2', header=header, height=1, width=len(points),
        fields=fields, is_bigendian=False, point_step=12, row_step=12 * len(points),
        data=points.view(np.uint8).reshape(-1), is_dense=bool(np.isfinite(points).all()))


def cloud_to_points(msg: Any) -> np.ndarray:
    """Return the float32 x, y, z of a PointCloud2 as (N, 3), whatever its padding."""
    offsets = {}
    for field in msg.fields:
        if field.name in ('x', 'y', 'z'):
            if int(field.datatype) != POINTFIELD_FLOAT32:
                raise ConversionError('PointCloud2 field %s is not FLOAT32' % (field.name,))
            offsets[field.name] = int(field.offset)
            if int(field.offset) + 4 > int(msg.point_step):
                raise ConversionError('PointCloud2 field %s at offset %d does not fit '
                                      'point_step %d' % (field.name, int(field.offset),
                                                         int(msg.point_step)))
    if len(offsets) != 3:
        raise ConversionError('PointCloud2 lacks x, y, z fields (has %s)' % (
            ', '.join(str(f.name) for f in msg.fields),))
    count, step = int(msg.height) * int(msg.width), int(msg.point_step)
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if step < 12 or data.size < count * step:
        raise ConversionError('PointCloud2 data has %d bytes, %d points of %d need more' % (
            data.size, count, step))
    if count == 0:   # nothing to view (and a huge point_step would not fit a numpy dtype)
        return np.zeros((0, 3), np.float32)
    element = '>f4' if msg.is_bigendian else '<f4'
    layout = np.dtype({'names': ['x', 'y', 'z'], 'formats': [element] * 3,
                       'offsets': [offsets[a] for a in 'xyz'], 'itemsize': step})
    structured = data[:count * step].view(layout)
    return np.stack([structured[a] for a in 'xyz'], axis=-1).astype(np.float32)


# ---------------------------------------------------------------- diagnostics and labels

def diagnostics_to_msg(factory: MessageFactory, header: Any, name: str,
                       latencies_ms: Mapping[str, float], state: Mapping[str, Any],
                       level: int = DIAGNOSTIC_OK, message: str = '',
                       hardware_id: str = '') -> Any:
    """Return a DiagnosticArray: latency_<stage>_ms per stage, then the tracking state."""
    values = [factory.make('diagnostic_msgs/msg/KeyValue', key='latency_%s_ms' % stage,
                           value='%.2f' % float(ms)) for stage, ms in latencies_ms.items()]
    values += [factory.make('diagnostic_msgs/msg/KeyValue', key=str(key), value=str(value))
               for key, value in state.items()]
    status = factory.make('diagnostic_msgs/msg/DiagnosticStatus', level=level, name=name,
                          message=message, hardware_id=hardware_id, values=values)
    return factory.make('diagnostic_msgs/msg/DiagnosticArray', header=header, status=[status])


def diagnostics_to_dict(msg: Any) -> Dict[str, Dict[str, str]]:
    """Return {status name: {key: value}} of a DiagnosticArray."""
    return {str(s.name): {str(kv.key): str(kv.value) for kv in s.values} for s in msg.status}


def label_info_msg(factory: MessageFactory, header: Any, threshold: float,
                   categories: Sequence[Any] = NOCS_CATEGORIES) -> Any:
    """Return a vision_msgs/LabelInfo mapping class ids to category names."""
    class_map = [factory.make('vision_msgs/msg/VisionClass', class_id=c.class_id,
                              class_name=c.name) for c in categories]
    return factory.make('vision_msgs/msg/LabelInfo', header=header, class_map=class_map,
                        threshold=threshold)


def label_info_to_dict(msg: Any) -> Dict[int, str]:
    """Return {class id: class name} of a LabelInfo."""
    return {int(c.class_id): str(c.class_name) for c in msg.class_map}
