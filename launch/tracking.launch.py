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

"""Category-level pose tracking: segmentation + pose node, TF frames catpose/<class>_<id>.

Example: ros2 launch catpose_ros tracking.launch.py device:=cuda launch_rviz:=true

model:=/path/to/checkpoint.pt overrides model.checkpoint of params_file; left empty, the
params file decides (its default: share/catpose_ros/models/catpose_default.pt).
segmentation_weights:=/path/to/weights.pt does the same for segmentation.weights.

With segmentation_source:=topic the pose node reads an external mono16 instance label image
(instances_topic) and its Detection2DArray (detections_topic) instead of starting
catpose_segmentation.
"""

import os

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

LAUNCH_DIR = os.path.dirname(os.path.abspath(__file__))
SHARE_DIR = os.path.dirname(LAUNCH_DIR)

# (name, default, description): the arguments `--show-args` lists.
ARGUMENTS = (
    ('namespace', 'catpose', 'Namespace of the catpose nodes.'),
    ('params_file', os.path.join(SHARE_DIR, 'config', 'catpose.yaml'),
     'ROS parameters file (/** section) for both nodes.'),
    ('model', '', 'Model checkpoint file; overrides model.checkpoint of params_file when set.'),
    ('segmentation_weights', '',
     'Segmenter weights file; overrides segmentation.weights of params_file when set.'),
    ('device', 'auto', 'Torch device: auto, cpu, cuda or cuda:<index>.'),
    ('mode', 'track', 'track: warm starts and stable ids; estimate: every frame cold.'),
    ('depth_topic', '/camera/camera/aligned_depth_to_color/image_raw',
     'Depth image aligned to the RGB image (16UC1 or 32FC1).'),
    ('camera_info_topic', '/camera/camera/aligned_depth_to_color/camera_info',
     'CameraInfo of the depth image.'),
    ('rgb_topic', '/camera/camera/color/image_raw', 'RGB image for catpose_segmentation.'),
    ('segmentation_source', 'node',
     'node: start catpose_segmentation; topic: read instances_topic and detections_topic.'),
    ('instances_topic', 'catpose_segmentation/instances',
     'mono16 instance label image (0 = background), relative to the namespace.'),
    ('detections_topic', 'catpose_segmentation/detections',
     'Detection2DArray whose id is the label value, relative to the namespace.'),
    ('use_sim_time', 'false', 'Use /clock (bag replay).'),
    ('launch_rviz', 'false', 'Start RViz with TF and marker displays.'),
    ('log_level', 'info', 'Log level of the nodes.'),
)


def pose_overrides(context: LaunchContext, config: dict) -> dict:
    """Return the launch-argument parameters of catpose_pose (checkpoint only when given)."""
    overrides = {'model.device': config['device'], 'tracking.mode': config['mode'],
                 'use_sim_time': config['use_sim_time']}
    if context.perform_substitution(config['model']):
        overrides['model.checkpoint'] = ParameterValue(config['model'], value_type=str)
    return overrides


def pose_node(context: LaunchContext, config: dict) -> list:
    """Return catpose_pose, built once the launch arguments are known."""
    return [Node(
        package='catpose_ros', executable='pose_node', name='catpose_pose',
        namespace=config['namespace'], output='screen',
        parameters=[config['params_file'], pose_overrides(context, config)],
        remappings=[('depth/image', config['depth_topic']),
                    ('depth/camera_info', config['camera_info_topic']),
                    ('segmentation/instances', config['instances_topic']),
                    ('segmentation/detections', config['detections_topic'])],
        arguments=['--ros-args', '--log-level', config['log_level']])]


def generate_launch_description():
    """Declare the arguments and start catpose_pose (+ catpose_segmentation, RViz)."""
    config = {name: LaunchConfiguration(name) for name, _, _ in ARGUMENTS}
    segmentation = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(LAUNCH_DIR, 'segmentation.launch.py')),
        condition=IfCondition(PythonExpression(
            ["'", config['segmentation_source'], "' == 'node'"])),
        launch_arguments={name: config[name] for name in (
            'namespace', 'params_file', 'segmentation_weights', 'device', 'rgb_topic',
            'depth_topic', 'use_sim_time', 'log_level')}.items())
    pose = OpaqueFunction(function=pose_node, args=[config])
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2', output='screen',
        arguments=['-d', os.path.join(SHARE_DIR, 'rviz', 'catpose.rviz')],
        parameters=[{'use_sim_time': config['use_sim_time']}],
        condition=IfCondition(config['launch_rviz']))
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS] + [segmentation, pose, rviz])
