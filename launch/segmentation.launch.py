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

"""Instance segmentation alone: RGB (+ aligned depth) -> ~/instances, ~/detections.

Example: ros2 launch catpose_ros segmentation.launch.py rgb_topic:=/camera/color/image_raw \
    segmentation_weights:=/path/to/maskrcnn.pt

segmentation_weights:=FILE overrides segmentation.weights of params_file; left empty, the
params file decides.
"""

import os

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

SHARE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, default, description): the arguments `--show-args` lists.
ARGUMENTS = (
    ('namespace', 'catpose', 'Namespace of the catpose nodes.'),
    ('params_file', os.path.join(SHARE_DIR, 'config', 'catpose.yaml'),
     'ROS parameters file (/** section) for both nodes.'),
    ('segmentation_weights', '',
     'Segmenter weights file; overrides segmentation.weights of params_file when set.'),
    ('device', 'auto', 'Torch device: auto, cpu, cuda or cuda:<index>.'),
    ('rgb_topic', '/camera/camera/color/image_raw', 'RGB image (rgb8 or bgr8).'),
    ('depth_topic', '/camera/camera/aligned_depth_to_color/image_raw',
     'Depth image aligned to the RGB image (16UC1 or 32FC1).'),
    ('use_sim_time', 'false', 'Use /clock (bag replay).'),
    ('log_level', 'info', 'Log level of the nodes.'),
)


def segmentation_overrides(context: LaunchContext, config: dict) -> dict:
    """Return the launch-argument parameters of catpose_segmentation (weights only when set)."""
    overrides = {'model.device': config['device'], 'use_sim_time': config['use_sim_time']}
    if context.perform_substitution(config['segmentation_weights']):
        overrides['segmentation.weights'] = ParameterValue(config['segmentation_weights'],
                                                           value_type=str)
    return overrides


def segmentation_node(context: LaunchContext, config: dict) -> list:
    """Return catpose_segmentation, built once the launch arguments are known."""
    return [Node(
        package='catpose_ros', executable='segmentation_node', name='catpose_segmentation',
        namespace=config['namespace'], output='screen',
        parameters=[config['params_file'], segmentation_overrides(context, config)],
        remappings=[('image', config['rgb_topic']), ('depth/image', config['depth_topic'])],
        arguments=['--ros-args', '--log-level', config['log_level']])]


def generate_launch_description():
    """Declare the arguments and start catpose_segmentation."""
    config = {name: LaunchConfiguration(name) for name, _, _ in ARGUMENTS}
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        + [OpaqueFunction(function=segmentation_node, args=[config])])
