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

"""Launch files and the RViz config: checked statically here, for real where launch exists."""

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

from catpose_ros.ros.bag_layout import SyntheticTopics

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_DIR = ROOT / 'launch'
LAUNCH_FILES = sorted(LAUNCH_DIR.glob('*.launch.py'))
DOCUMENTED = {
    'tracking.launch.py': {
        'namespace', 'params_file', 'model', 'segmentation_weights', 'device', 'mode',
        'depth_topic', 'camera_info_topic', 'rgb_topic', 'segmentation_source', 'instances_topic',
        'detections_topic', 'use_sim_time', 'launch_rviz', 'log_level'},
    'segmentation.launch.py': {
        'namespace', 'params_file', 'segmentation_weights', 'device', 'rgb_topic',
        'depth_topic', 'use_sim_time', 'log_level'},
}


def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _declared_arguments(path: Path) -> dict:
    """Return the ARGUMENTS table of a launch file, read without importing launch."""
    for node in _module(path).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == 'ARGUMENTS':
            rows = []
            for row in node.value.elts:
                default = row.elts[1]
                rows.append((row.elts[0].value, default.value
                             if isinstance(default, ast.Constant) else None))
            return dict(rows)
    return {}


def test_launch_files_exist_and_define_generate_launch_description():
    assert {p.name for p in LAUNCH_FILES} >= {'tracking.launch.py', 'estimation.launch.py'}
    for path in LAUNCH_FILES:
        names = {n.name for n in _module(path).body if isinstance(n, ast.FunctionDef)}
        assert 'generate_launch_description' in names, path.name


@pytest.mark.parametrize('name', sorted(DOCUMENTED))
def test_documented_arguments_are_declared(name):
    arguments = _declared_arguments(LAUNCH_DIR / name)
    assert set(arguments) == DOCUMENTED[name]
    assert arguments['namespace'] == 'catpose'
    assert arguments['use_sim_time'] == 'false'
    if name == 'tracking.launch.py':
        assert arguments['launch_rviz'] == 'false'
        assert arguments['segmentation_source'] == 'node'
        assert arguments['mode'] == 'track'
        assert arguments['model'] == ''


def test_error_messages_name_launch_arguments_that_exist(tmp_path):
    from catpose_ros.resources import LAUNCH_ARGUMENTS, ModelNotFoundError, resolve_checkpoint
    tracking = _declared_arguments(LAUNCH_DIR / 'tracking.launch.py')
    segmentation = _declared_arguments(LAUNCH_DIR / 'segmentation.launch.py')
    assert set(LAUNCH_ARGUMENTS.values()) <= set(tracking)
    assert LAUNCH_ARGUMENTS['segmentation.weights'] in segmentation
    for parameter, argument in LAUNCH_ARGUMENTS.items():
        with pytest.raises(ModelNotFoundError) as error:
            resolve_checkpoint(str(tmp_path / 'absent.pt'), parameter=parameter)
        assert '%s:=/path/to/file' % argument in str(error.value)
        assert parameter in str(error.value)


def test_camera_topic_defaults_are_the_synthetic_bag_topics():
    """`catpose bag from-synthetic` output plays into the launch files without remapping."""
    bag = SyntheticTopics()
    tracking = _declared_arguments(LAUNCH_DIR / 'tracking.launch.py')
    segmentation = _declared_arguments(LAUNCH_DIR / 'segmentation.launch.py')
    assert tracking['depth_topic'] == segmentation['depth_topic'] == bag.depth
    assert tracking['camera_info_topic'] == bag.depth_info
    assert tracking['rgb_topic'] == segmentation['rgb_topic'] == bag.color
    namespace = '/' + tracking['namespace'] + '/'
    assert namespace + tracking['instances_topic'] == bag.instances
    assert namespace + tracking['detections_topic'] == bag.detections2d


def test_estimation_includes_tracking_in_estimate_mode():
    text = (LAUNCH_DIR / 'estimation.launch.py').read_text()
    assert "'tracking.launch.py'" in text
    assert "{'mode': 'estimate'}" in text


def test_launch_files_start_the_installed_executables():
    setup = (ROOT / 'setup.py').read_text()
    for path in LAUNCH_FILES:
        for node in ast.walk(_module(path)):
            if isinstance(node, ast.keyword) and node.arg == 'executable' and \
                    node.value.value != 'rviz2':
                assert '%s = catpose_ros.ros.' % node.value.value in setup


def test_rviz_config_shows_tf_and_markers_in_the_optical_frame():
    config = yaml.safe_load((ROOT / 'rviz' / 'catpose.rviz').read_text())
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'camera_color_optical_frame'
    displays = {d['Class']: d for d in manager['Displays']}
    assert 'rviz_default_plugins/TF' in displays
    markers = displays['rviz_default_plugins/MarkerArray']
    assert markers['Topic']['Value'] == '/catpose/catpose_pose/markers'


def _load_launch_module(path: Path):
    spec = importlib.util.spec_from_file_location(path.name.replace('.', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.ros
@pytest.mark.parametrize('name', ['tracking.launch.py', 'estimation.launch.py',
                                  'segmentation.launch.py'])
def test_launch_description_builds_with_launch_ros(name):
    pytest.importorskip('launch_ros')
    description = _load_launch_module(LAUNCH_DIR / name).generate_launch_description()
    declared = {argument.name for argument in description.get_launch_arguments()}
    expected = DOCUMENTED.get(name, DOCUMENTED['tracking.launch.py'])
    assert expected <= declared


@pytest.mark.ros
@pytest.mark.parametrize('model', ['', '/models/mug.pt'])
def test_model_argument_overrides_the_checkpoint_only_when_set(model):
    pytest.importorskip('launch_ros')
    from launch import LaunchContext
    from launch.substitutions import LaunchConfiguration
    tracking = _load_launch_module(LAUNCH_DIR / 'tracking.launch.py')
    context = LaunchContext()
    context.launch_configurations.update(
        {'model': model, 'device': 'cpu', 'mode': 'track', 'use_sim_time': 'false'})
    config = {name: LaunchConfiguration(name) for name in context.launch_configurations}
    overrides = tracking.pose_overrides(context, config)
    assert ('model.checkpoint' in overrides) == bool(model)
    if model:
        assert context.perform_substitution(overrides['model.checkpoint'].value[0]) == model


@pytest.mark.ros
@pytest.mark.parametrize('weights', ['', '/models/maskrcnn.pt'])
def test_segmentation_weights_argument_overrides_the_parameter_only_when_set(weights):
    pytest.importorskip('launch_ros')
    from launch import LaunchContext
    from launch.substitutions import LaunchConfiguration
    segmentation = _load_launch_module(LAUNCH_DIR / 'segmentation.launch.py')
    context = LaunchContext()
    context.launch_configurations.update(
        {'segmentation_weights': weights, 'device': 'cpu', 'use_sim_time': 'false'})
    config = {name: LaunchConfiguration(name) for name in context.launch_configurations}
    overrides = segmentation.segmentation_overrides(context, config)
    assert ('segmentation.weights' in overrides) == bool(weights)
    if weights:
        value = overrides['segmentation.weights'].value[0]
        assert context.perform_substitution(value) == weights
