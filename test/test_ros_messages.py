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


# RIHS01 type hashes of vision_msgs 4.1.1 (ros2 branch), computed from its own .msg files:
# what ROS 2 Jazzy nodes compare when they match a topic's type. A copied definition that
# drifts from the release changes its hash.
VISION_MSGS_RIHS01 = {
    'BoundingBox2D': '008eacbb0cf8f26e83795547bed013eec3675485ef386ec056d80eaaf1c1ce2f',
    'BoundingBox3D': 'bbb73a65c163d7f9bb29009c7bde9f7faa576bd2d23299c4511d19230dab4698',
    'Detection2D': '0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea',
    'Detection2DArray': '214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968',
    'Detection3D': 'ddd703be132ab0b69d33121f1bb034132bfbb3b0ac5f9fb1516005ba1c8a265b',
    'Detection3DArray': '793f5eab9595ac1c0da07873cc859db42eae51f0ee76056db8562515d830e018',
    'LabelInfo': '3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783',
    'ObjectHypothesisWithPose':
        '41c12344c0396c48b81df12467c192d99b2a0eb1463c5c37194e4223251c80bc',
    'VisionInfo': '95d3116a17484ad91c9a2686e1d54890bbfc3ff6c6a2de137738c4950d45d284',
}


@pytest.mark.parametrize('name', sorted(VISION_MSGS_RIHS01))
def test_vision_msgs_definitions_hash_like_the_release(name):
    typestore = RosbagsFactory('jazzy').typestore
    assert typestore.hash_rihs01('vision_msgs/msg/' + name) == \
        'RIHS01_' + VISION_MSGS_RIHS01[name]


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
