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

"""Message factories: complete messages on both distros, vision_msgs types, rclpy coercion."""

import array

import numpy as np
import pytest

from catpose_ros.ros.messages import (coerce_for_rclpy, DISTROS, make_typestore,
                                      MessageTypeError, normalise_type_name, RosbagsFactory,
                                      VISION_MSGS_DEFINITIONS)


@pytest.fixture(params=DISTROS)
def factory(request):
    return RosbagsFactory(request.param)


def test_type_names_normalise():
    assert normalise_type_name('sensor_msgs/Image') == 'sensor_msgs/msg/Image'
    assert normalise_type_name('/sensor_msgs/msg/Image') == 'sensor_msgs/msg/Image'
    with pytest.raises(MessageTypeError):
        normalise_type_name('Image')


@pytest.mark.parametrize('name', sorted(VISION_MSGS_DEFINITIONS))
def test_every_vision_msgs_type_round_trips_empty(factory, name):
    message = factory.make('vision_msgs/' + name)
    again = factory.deserialize(factory.serialize(message), 'vision_msgs/' + name)
    assert factory.serialize(again) == factory.serialize(message)


def test_vision_msgs_layout_matches_the_ros2_branch(factory):
    fields = dict(factory.typestore.fielddefs['vision_msgs/msg/BoundingBox2D'][1])
    assert fields['center'][1] == 'vision_msgs/msg/Pose2D'
    pose2d = dict(factory.typestore.fielddefs['vision_msgs/msg/Pose2D'][1])
    assert pose2d['position'][1] == 'vision_msgs/msg/Point2D'
    detection = [f for f, _ in factory.typestore.fielddefs['vision_msgs/msg/Detection3D'][1]]
    assert detection == ['header', 'results', 'bbox', 'id']


def test_omitted_fields_get_ros_defaults(factory):
    info = factory.make('sensor_msgs/CameraInfo')
    assert info.k.dtype == np.float64 and info.k.shape == (9,)
    assert info.d.shape == (0,)
    assert factory.make('geometry_msgs/Pose').orientation.w == 1.0
    assert factory.make('sensor_msgs/Image').data.dtype == np.uint8


def test_values_are_coerced_for_the_serialiser(factory):
    image = factory.make('sensor_msgs/Image', height=np.uint32(1), width=2, data=b'\x01\x02')
    assert isinstance(image.height, int) and image.data.dtype == np.uint8
    assert factory.make('geometry_msgs/Point', x=1).x == 1.0
    with pytest.raises(ValueError):
        factory.make('sensor_msgs/CameraInfo', k=np.zeros(8))


def test_unknown_types_and_fields_raise(factory):
    with pytest.raises(MessageTypeError):
        factory.make('vision_msgs/NoSuchType')
    with pytest.raises(MessageTypeError):
        factory.make('std_msgs/Header', stamp_ns=1)


def test_typestores_are_distinct_per_distro():
    assert make_typestore('humble') is not make_typestore('jazzy')
    assert 'visualization_msgs/msg/MeshFile' in make_typestore('humble').fielddefs
    with pytest.raises(ValueError):
        make_typestore('rolling-2099')


def test_rclpy_coercion_uses_the_python_types_rclpy_asserts():
    data = coerce_for_rclpy('sequence<uint8>', np.arange(3, dtype=np.uint8))
    assert isinstance(data, array.array) and data.typecode == 'B' and list(data) == [0, 1, 2]
    k = coerce_for_rclpy('double[9]', range(9))
    assert isinstance(k, np.ndarray) and k.dtype == np.float64 and k.shape == (9,)
    d = coerce_for_rclpy('sequence<double>', np.zeros(5))
    assert isinstance(d, array.array) and d.typecode == 'd' and len(d) == 5
    assert coerce_for_rclpy('octet', 2) == b'\x02'
    assert type(coerce_for_rclpy('double', np.float32(0.5))) is float
    assert type(coerce_for_rclpy('uint32', np.uint32(7))) is int
    assert coerce_for_rclpy('boolean', np.True_) is True
    points = coerce_for_rclpy('sequence<geometry_msgs/Point>', (1, 2))
    assert points == [1, 2]
    assert coerce_for_rclpy('string<10>', 'abc') == 'abc'
