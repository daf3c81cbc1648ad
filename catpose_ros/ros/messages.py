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

"""One way to build ROS 2 messages, whether rosbags or rclpy provides the classes.

Conversions are pure functions that take a `MessageFactory` and call
`factory.make('pkg/msg/Name', field=value, ...)` with plain Python and numpy values. Each
factory coerces those values to what its backend accepts and fills every field left out:

- `RosbagsFactory` (tests, offline bags): rosbags dataclasses from a ROS 2 Humble or Jazzy
  typestore with vision_msgs registered; numeric arrays become numpy arrays of the field's
  dtype, as rosbags' CDR serialiser requires.
- `RclpyFactory` (the nodes): the installed rclpy message classes; `uint8[]` becomes
  `array.array('B')` (rclpy rejects numpy there), fixed numeric arrays numpy arrays of the
  exact dtype, `byte` fields `bytes`, and numeric scalars Python `int` / `float` (rclpy
  asserts the Python type).

Type names may be given as 'pkg/msg/Name' or 'pkg/Name'.
"""

import array
from functools import lru_cache
import importlib
import re
from typing import Any, Dict, Protocol, Tuple

import numpy as np

DISTROS = ('humble', 'jazzy')

# vision_msgs 4.1.1 (ros2 branch), the release in both Humble and Jazzy: field definitions
# as in vision_msgs/msg/*.msg, comments left out (they do not change the type or its hash).
# test/test_ros_messages.py pins their RIHS01 hashes to those of the release's own files.
VISION_MSGS_DEFINITIONS: Dict[str, str] = {
    'Point2D': 'float64 x\nfloat64 y\n',
    'Pose2D': 'vision_msgs/Point2D position\nfloat64 theta\n',
    'BoundingBox2D': 'vision_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y\n',
    'BoundingBox2DArray': 'std_msgs/Header header\nvision_msgs/BoundingBox2D[] boxes\n',
    'BoundingBox3D': 'geometry_msgs/Pose center\ngeometry_msgs/Vector3 size\n',
    'BoundingBox3DArray': 'std_msgs/Header header\nvision_msgs/BoundingBox3D[] boxes\n',
    'ObjectHypothesis': 'string class_id\nfloat64 score\n',
    'ObjectHypothesisWithPose': (
        'ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n'),
    'Classification': 'std_msgs/Header header\nObjectHypothesis[] results\n',
    'Detection2D': (
        'std_msgs/Header header\nObjectHypothesisWithPose[] results\n'
        'BoundingBox2D bbox\nstring id\n'),
    'Detection2DArray': 'std_msgs/Header header\nDetection2D[] detections\n',
    'Detection3D': (
        'std_msgs/Header header\nObjectHypothesisWithPose[] results\n'
        'BoundingBox3D bbox\nstring id\n'),
    'Detection3DArray': 'std_msgs/Header header\nDetection3D[] detections\n',
    'VisionClass': 'uint16 class_id\nstring class_name\n',
    'LabelInfo': (
        'std_msgs/Header header\nvision_msgs/VisionClass[] class_map\nfloat32 threshold\n'),
    'VisionInfo': (
        'std_msgs/Header header\nstring method\nstring database_location\n'
        'int32 database_version\n'),
}

# Defaults that ROS 2 .msg files declare but rosbags' typestores do not carry.
_FIELD_DEFAULTS: Dict[Tuple[str, str], Any] = {('geometry_msgs/msg/Quaternion', 'w'): 1.0}

_NUMPY_DTYPES = {
    'bool': np.bool_, 'byte': np.uint8, 'char': np.uint8, 'int8': np.int8, 'uint8': np.uint8,
    'int16': np.int16, 'uint16': np.uint16, 'int32': np.int32, 'uint32': np.uint32,
    'int64': np.int64, 'uint64': np.uint64, 'float32': np.float32, 'float64': np.float64,
}
_FLOAT_TYPES = ('float32', 'float64', 'float', 'double')
_STRING_TYPES = ('string', 'wstring')


class MessageTypeError(KeyError):
    """Raised for a message type or field the backend does not know."""


def normalise_type_name(type_name: str) -> str:
    """Return 'pkg/msg/Name' for 'pkg/msg/Name' or 'pkg/Name'."""
    parts = type_name.strip('/').split('/')
    if len(parts) == 2:
        return '%s/msg/%s' % tuple(parts)
    if len(parts) == 3:
        return type_name.strip('/')
    raise MessageTypeError('not a message type name: %r' % (type_name,))


class MessageFactory(Protocol):
    """Builds messages of one backend from plain Python and numpy values."""

    def make(self, type_name: str, **fields: Any) -> Any:
        """Return a message of type_name with the given fields, every other field default."""


def _coerce_scalar(base: str, value: Any) -> Any:
    """Turn numpy and Python scalars into the exact Python type of a ROS base type."""
    if base in _FLOAT_TYPES:
        return float(value)
    if base in ('bool', 'boolean'):
        return bool(value)
    if base in _STRING_TYPES:
        if not isinstance(value, str):
            raise TypeError('expected str, got %r' % (type(value).__name__,))
        return value
    return int(value)


def _numeric_array(value: Any, dtype: type) -> np.ndarray:
    """Return value as a 1-D contiguous numpy array of dtype (bytes are read as raw bytes)."""
    if isinstance(value, (bytes, bytearray, memoryview, array.array)) and dtype == np.uint8:
        return np.frombuffer(value, dtype=np.uint8).copy()
    return np.ascontiguousarray(np.asarray(value, dtype=dtype).reshape(-1))


@lru_cache(maxsize=None)
def make_typestore(distro: str = 'jazzy'):
    """Return the rosbags typestore of a ROS 2 distro with vision_msgs registered (cached)."""
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores
    stores = {'humble': Stores.ROS2_HUMBLE, 'jazzy': Stores.ROS2_JAZZY}
    if distro not in stores:
        raise ValueError('unknown ROS 2 distro %r; known: %s' % (distro, ', '.join(DISTROS)))
    typestore = get_typestore(stores[distro])
    types = {}
    for name, text in VISION_MSGS_DEFINITIONS.items():
        types.update(get_types_from_msg(text, 'vision_msgs/msg/' + name))
    typestore.register(types)
    return typestore


class RosbagsFactory:
    """Messages as rosbags dataclasses of a ROS 2 distro's typestore, plus CDR helpers."""

    def __init__(self, distro: str = 'jazzy'):
        self.distro = distro
        self.typestore = make_typestore(distro)

    def make(self, type_name: str, **fields: Any) -> Any:
        """Return a message with the given fields; every field left out gets its default."""
        name = normalise_type_name(type_name)
        field_defs = self._field_defs(name)
        unknown = set(fields) - {field for field, _ in field_defs}
        if unknown:
            raise MessageTypeError('%s has no field(s) %s' % (name, ', '.join(sorted(unknown))))
        values = {}
        for field, spec in field_defs:
            if field in fields:
                values[field] = self._coerce(spec, fields[field])
            else:
                values[field] = _FIELD_DEFAULTS.get((name, field), self._default(spec))
        return self.typestore.types[name](**values)

    def serialize(self, message: Any) -> bytes:
        """Serialise to CDR bytes (little endian), as rosbag2 and DDS carry them."""
        return bytes(self.typestore.serialize_cdr(message, message.__msgtype__))

    def deserialize(self, data: bytes, type_name: str) -> Any:
        """Deserialise CDR bytes into a message of type_name."""
        return self.typestore.deserialize_cdr(data, normalise_type_name(type_name))

    def _field_defs(self, name: str):
        try:
            return self.typestore.fielddefs[name][1]
        except KeyError:
            raise MessageTypeError(
                'the %s typestore has no type %s' % (self.distro, name)) from None

    def _default(self, spec) -> Any:
        from rosbags.interfaces import Nodetype
        kind, detail = spec
        if kind == Nodetype.BASE:
            return _coerce_scalar(detail[0], '' if detail[0] in _STRING_TYPES else 0)
        if kind == Nodetype.NAME:
            return self.make(detail)
        element, length = detail
        if kind == Nodetype.ARRAY:
            if element[0] == Nodetype.BASE and element[1][0] in _NUMPY_DTYPES:
                return np.zeros(length, dtype=_NUMPY_DTYPES[element[1][0]])
            return [self._default(element) for _ in range(length)]
        if element[0] == Nodetype.BASE and element[1][0] in _NUMPY_DTYPES:
            return np.zeros(0, dtype=_NUMPY_DTYPES[element[1][0]])
        return []

    def _coerce(self, spec, value: Any) -> Any:
        from rosbags.interfaces import Nodetype
        kind, detail = spec
        if kind == Nodetype.BASE:
            return _coerce_scalar(detail[0], value)
        if kind == Nodetype.NAME:
            return value
        element, length = detail
        if element[0] == Nodetype.BASE and element[1][0] in _NUMPY_DTYPES:
            result = _numeric_array(value, _NUMPY_DTYPES[element[1][0]])
            if kind == Nodetype.ARRAY and result.size != length:
                raise ValueError('fixed array of %d expected, got %d values' % (
                    length, result.size))
            return result
        return list(value)


_RCLPY_ARRAY = re.compile(r'^(?P<base>[\w/]+?)(?:<\d+>)?\[(?P<size>\d+)\]$')
_RCLPY_SEQUENCE = re.compile(r'^sequence<(?P<base>[\w/]+?)(?:<\d+>)?(?:, ?\d+)?>$')
_RCLPY_NUMPY = {
    'boolean': np.bool_, 'octet': np.uint8, 'char': np.uint8, 'int8': np.int8,
    'uint8': np.uint8, 'int16': np.int16, 'uint16': np.uint16, 'int32': np.int32,
    'uint32': np.uint32, 'int64': np.int64, 'uint64': np.uint64, 'float': np.float32,
    'double': np.float64,
}
_RCLPY_ARRAY_CODES = {
    'int8': 'b', 'uint8': 'B', 'int16': 'h', 'uint16': 'H', 'int32': 'i', 'uint32': 'I',
    'int64': 'q', 'uint64': 'Q', 'float': 'f', 'double': 'd',
}


def coerce_for_rclpy(field_type: str, value: Any) -> Any:
    """Convert value to what rclpy accepts for a field of IDL type field_type.

    field_type is what `MsgClass.get_fields_and_field_types()` reports, e.g. 'double[9]',
    'sequence<uint8>', 'octet', 'int32', 'string' or 'geometry_msgs/Pose'.
    """
    match = _RCLPY_ARRAY.match(field_type)
    if match and match.group('base') in _RCLPY_NUMPY:
        return _numeric_array(value, _RCLPY_NUMPY[match.group('base')])
    match = _RCLPY_SEQUENCE.match(field_type)
    if match and match.group('base') in _RCLPY_ARRAY_CODES:
        code = _RCLPY_ARRAY_CODES[match.group('base')]
        result = array.array(code)
        result.frombytes(_numeric_array(value, np.dtype(code).type).tobytes())
        return result
    if match or (field_type.endswith(']') and '/' in field_type):
        return list(value)
    if field_type == 'octet':
        return value if isinstance(value, bytes) else bytes([int(value)])
    base = field_type.split('<')[0]
    if base in _RCLPY_NUMPY or base in _STRING_TYPES:
        return _coerce_scalar({'boolean': 'bool'}.get(base, base), value)
    return value


class RclpyFactory:
    """Messages as the installed rclpy classes (only where ROS 2 is sourced)."""

    def make(self, type_name: str, **fields: Any) -> Any:
        """Return a message of the rclpy class with the given fields, coerced for rclpy."""
        message_class = self.message_class(type_name)
        field_types = message_class.get_fields_and_field_types()
        unknown = set(fields) - set(field_types)
        if unknown:
            raise MessageTypeError('%s has no field(s) %s' % (
                type_name, ', '.join(sorted(unknown))))
        return message_class(**{
            field: coerce_for_rclpy(field_types[field], value) for field, value in fields.items()})

    @staticmethod
    @lru_cache(maxsize=None)
    def message_class(type_name: str) -> type:
        """Import and return the rclpy class of type_name."""
        package, _, name = normalise_type_name(type_name).split('/')
        return getattr(importlib.import_module(package + '.msg'), name)
