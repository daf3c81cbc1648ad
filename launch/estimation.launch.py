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

"""Per-frame pose estimation (no warm starts): tracking.launch.py with mode:=estimate.

Example: ros2 launch catpose_ros estimation.launch.py device:=cpu

Takes every argument of tracking.launch.py except mode.
"""

import os

from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

LAUNCH_DIR = os.path.dirname(os.path.abspath(__file__))


def generate_launch_description():
    """Include tracking.launch.py with tracking.mode forced to estimate."""
    return LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(LAUNCH_DIR, 'tracking.launch.py')),
        launch_arguments={'mode': 'estimate'}.items())])
