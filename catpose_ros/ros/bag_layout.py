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

"""Bag layout: storage formats and topic names, with no heavy imports.

`catpose bag --help` and other light callers read these without loading torch; the bag
reader and writer (ros/bag_io.py) use the same definitions.
"""

from dataclasses import dataclass
from typing import Dict, Optional

STORAGES = ('mcap', 'sqlite3')
# The camera topics of the RealSense ROS 2 wrapper with depth aligned to colour (the depth
# image shares the colour camera's intrinsics): the launch files' defaults.
COLOR_TOPIC = '/camera/camera/color/image_raw'
COLOR_INFO_TOPIC = '/camera/camera/color/camera_info'
DEPTH_TOPIC = '/camera/camera/aligned_depth_to_color/image_raw'
DEPTH_INFO_TOPIC = '/camera/camera/aligned_depth_to_color/camera_info'

# The segmentation node's outputs under the launch files' namespace: a synthetic bag carries
# them as if the node had run, and `catpose bag process` writes them under the same names.
SEGMENTATION_INSTANCES_TOPIC = '/catpose/catpose_segmentation/instances'
SEGMENTATION_DETECTIONS_TOPIC = '/catpose/catpose_segmentation/detections'


@dataclass
class BagTopics:
    """Input topics of one bag; depth and camera_info are required, the rest optional."""

    depth: str = DEPTH_TOPIC
    camera_info: str = DEPTH_INFO_TOPIC
    rgb: Optional[str] = None
    instances: Optional[str] = None
    detections2d: Optional[str] = None

    def roles(self) -> Dict[str, str]:
        """Return {role: topic} of the topics that are set."""
        names = ('depth', 'camera_info', 'rgb', 'instances', 'detections2d')
        return {name: getattr(self, name) for name in names if getattr(self, name)}


@dataclass
class SyntheticTopics:
    """Topics that `sequence_to_bag` writes: the launch files' defaults.

    So a synthetic bag plays straight into `ros2 launch catpose_ros tracking.launch.py`.

    ground_truth is a Detection3DArray whose hypothesis score is the handle visibility (1:
    visible or no handle, 0: a mug whose handle is hidden), which the symmetry rule needs.
    """

    color: str = COLOR_TOPIC
    color_info: str = COLOR_INFO_TOPIC
    depth: str = DEPTH_TOPIC
    depth_info: str = DEPTH_INFO_TOPIC
    instances: str = SEGMENTATION_INSTANCES_TOPIC
    detections2d: str = SEGMENTATION_DETECTIONS_TOPIC
    ground_truth: str = '/catpose/ground_truth'

    def reader_topics(self) -> BagTopics:
        """Return the BagTopics that read a bag written with these topics back."""
        return BagTopics(depth=self.depth, camera_info=self.depth_info, rgb=self.color,
                         instances=self.instances, detections2d=self.detections2d)
