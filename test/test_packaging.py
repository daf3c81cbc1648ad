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

"""Installation: package.xml declares what the code imports; pip and colcon both work."""

import ast
from pathlib import Path
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Python module -> the ROS package (rosdep key) that provides it.
ROS_MODULES = {
    'rclpy': 'rclpy', 'rcl_interfaces': 'rcl_interfaces', 'launch': 'launch',
    'launch_ros': 'launch_ros', 'ament_index_python': 'ament_index_python',
    'message_filters': 'message_filters', 'tf2_ros': 'tf2_ros_py', 'tf2_msgs': 'tf2_msgs',
    'std_msgs': 'std_msgs', 'std_srvs': 'std_srvs', 'geometry_msgs': 'geometry_msgs',
    'sensor_msgs': 'sensor_msgs', 'visualization_msgs': 'visualization_msgs',
    'diagnostic_msgs': 'diagnostic_msgs', 'vision_msgs': 'vision_msgs',
    'lifecycle_msgs': 'lifecycle_msgs', 'builtin_interfaces': 'builtin_interfaces'}


def _declared(kind: str = 'exec_depend') -> set:
    root = ET.parse(ROOT / 'package.xml').getroot()
    return {element.text.strip() for element in root.iter(kind)}


def _imported_top_level_modules(paths) -> set:
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split('.')[0])
    return found


def test_every_ros_package_the_code_imports_is_an_exec_depend():
    sources = list((ROOT / 'catpose_ros').rglob('*.py')) + list((ROOT / 'launch').glob('*.py'))
    imported = _imported_top_level_modules(sources) & set(ROS_MODULES)
    assert {'rclpy', 'rcl_interfaces', 'vision_msgs', 'tf2_ros'} <= imported
    missing = {ROS_MODULES[module] for module in imported} - _declared()
    assert not missing, 'package.xml lacks exec_depend %s' % sorted(missing)


def test_no_key_that_rosdep_cannot_resolve():
    # lifecycle support is part of rclpy; there is no rclpy_lifecycle package.
    assert 'rclpy_lifecycle' not in _declared()


def test_pip_builds_through_pyproject_and_setup_py_has_no_obsolete_options():
    build = tomllib.loads((ROOT / 'pyproject.toml').read_text())['build-system']
    assert build['build-backend'] == 'setuptools.build_meta'
    assert 'tests_require' not in (ROOT / 'setup.py').read_text()


@pytest.mark.slow
def test_colcon_style_install_puts_node_executables_under_lib(tmp_path):
    """The command colcon's ament_python build runs (without --symlink-install)."""
    source = tmp_path / 'src'
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        '.venv', '.git', 'build', 'install', 'log', '*.egg-info', '__pycache__', 'datasets',
        'runs'))
    build, prefix = tmp_path / 'build', tmp_path / 'install'
    build.mkdir()
    subprocess.run(
        [sys.executable, 'setup.py', 'egg_info', '--egg-base', str(build), 'build',
         '--build-base', str(build / 'build'), 'install', '--prefix', str(prefix),
         '--record', str(build / 'install.log'), '--single-version-externally-managed'],
        cwd=source, check=True, capture_output=True)
    for executable in ('pose_node', 'segmentation_node'):
        assert (prefix / 'lib' / 'catpose_ros' / executable).is_file()
    share = prefix / 'share' / 'catpose_ros'
    assert (share / 'launch' / 'tracking.launch.py').is_file()
    assert (share / 'package.xml').is_file()
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' /
            'catpose_ros').is_file()
