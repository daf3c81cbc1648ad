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

"""ament_python package that also installs with plain pip (no ROS needed for the core)."""

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'catpose_ros'


def _share(folder: str, pattern: str = '*'):
    """Install every file of a top-level folder under share/catpose_ros/<folder>."""
    files = [f for f in glob(os.path.join(folder, pattern)) if os.path.isfile(f)]
    return (os.path.join('share', package_name, folder), files)


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={package_name: ['data/assets/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        _share('launch', '*.launch.py'),
        _share('config', '*.yaml'),
        _share('rviz', '*.rviz'),
        _share('models'),
    ],
    python_requires='>=3.10',
    install_requires=[
        'setuptools',
        'numpy>=1.24',
        'numba>=0.60',
        'scipy>=1.10',
        'torch>=2.11',
        'torchvision>=0.26',
        'pycocotools>=2.0.7',
        'opencv-python-headless>=4.8',
        'rosbags>=0.11.9',
        'tqdm>=4.60',
        'PyYAML>=6.0',
        'OpenEXR>=3.2',
    ],
    extras_require={
        'dev': [
            'pytest>=8',
            'hypothesis>=6.100',
            'flake8>=7',
            'flake8-blind-except',
            'flake8-builtins',
            'flake8-class-newline',
            'flake8-comprehensions',
            'flake8-deprecated',
            'flake8-docstrings',
            'flake8-import-order',
            'flake8-quotes',
            'pydocstyle>=6.3',
        ],
    },
    zip_safe=True,
    maintainer='catpose_ros maintainers',
    maintainer_email='maintainers@catpose-ros.dev',
    description='Category-level 6D pose estimation and tracking for ROS 2.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'catpose = catpose_ros.cli.main:main',
            'pose_node = catpose_ros.ros.pose_node:main',
            'segmentation_node = catpose_ros.ros.segmentation_node:main',
        ],
    },
)
