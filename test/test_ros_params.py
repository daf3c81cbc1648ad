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

"""The parameter table: one declaration, the shipped YAML, validation, checkpoint lookup."""

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
import pytest
import yaml

from catpose_ros.ros import params as P

ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILES = sorted((ROOT / 'config').glob('*.yaml'))


def test_names_are_unique_and_dotted_by_group():
    names = [spec.name for spec in P.parameter_specs()]
    assert len(names) == len(set(names))
    assert all(name.count('.') == 1 for name in names if name != 'autostart')
    for expected in ('model.checkpoint', 'model.device', 'model.num_points', 'sync.slop',
                     'sync.queue', 'sync.qos', 'sync.max_input_age_s', 'depth.scale',
                     'tracking.mode', 'output.tf_prefix', 'autostart'):
        assert expected in names


def test_each_node_gets_its_subset():
    pose = {spec.name for spec in P.parameter_specs(P.POSE_NODE)}
    segmentation = {spec.name for spec in P.parameter_specs(P.SEGMENTATION_NODE)}
    assert 'segmentation.backend' in segmentation - pose
    assert 'tracking.mode' in pose - segmentation
    assert {'autostart', 'model.device', 'sync.slop'} <= pose & segmentation
    with pytest.raises(P.InvalidParameterError):
        P.parameter_specs('nonexistent')


def test_every_spec_default_passes_its_own_validation():
    for spec in P.parameter_specs():
        assert spec.coerce(spec.default) == spec.default
        assert spec.value_type in (bool, int, float, str)
        assert spec.description.endswith('.')


@pytest.mark.parametrize('path', CONFIG_FILES, ids=lambda p: p.name)
def test_config_names_exactly_the_declared_parameters(path):
    sections = P.flatten_yaml_parameters(yaml.safe_load(path.read_text()))
    assert '/**' in sections
    names = set().union(*(set(values) for values in sections.values()))
    assert names == {spec.name for spec in P.parameter_specs()}
    for values in sections.values():
        P.CatposeParams.from_dict(values)


def test_shipped_config_equals_the_declared_defaults():
    params = P.load_params_file(str(ROOT / 'config' / 'catpose.yaml'))
    assert params == P.CatposeParams()


def test_from_dict_round_trips_and_rejects_unknown_names():
    values = P.CatposeParams().to_dict()
    values.update({'sync.slop': 0.2, 'model.device': 'cuda:1', 'depth.min_depth': 0})
    params = P.CatposeParams.from_dict(values)
    assert params.sync.slop == 0.2 and params.model.device == 'cuda:1'
    assert isinstance(params.depth.min_depth, float)
    assert P.CatposeParams.from_dict(params.to_dict()) == params
    with pytest.raises(P.InvalidParameterError, match='sync.slopp'):
        P.CatposeParams.from_dict({'sync.slopp': 0.1})


@pytest.mark.parametrize('name, value', [
    ('sync.slop', -0.1), ('sync.qos', 'fast'), ('model.device', 'tpu'),
    ('model.device', 'cuda:x'), ('tracking.mode', 'both'), ('model.num_points', 10.5),
    ('output.publish_tf', 1), ('sync.queue', True), ('depth.min_depth', 5.0)])
def test_bad_values_name_the_parameter(name, value):
    with pytest.raises(P.InvalidParameterError, match=name.replace('.', r'\.')):
        P.CatposeParams.from_dict({name: value})


@given(st.floats(0.0, 10.0), st.integers(1, 100))
def test_in_range_values_are_kept(slop, queue):
    params = P.CatposeParams.from_dict({'sync.slop': slop, 'sync.queue': queue})
    assert (params.sync.slop, params.sync.queue) == (slop, queue)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(P.ModelNotFoundError, match='model.checkpoint'):
        P.resolve_checkpoint(str(tmp_path / 'absent.pt'))
    present = tmp_path / 'model.pt'
    present.write_bytes(b'x')
    assert P.resolve_checkpoint(str(present)) == present
    share = tmp_path / 'share'
    (share / 'models').mkdir(parents=True)
    (share / 'models' / P.DEFAULT_CHECKPOINT_NAME).write_bytes(b'x')
    assert P.resolve_checkpoint('', share_dir=str(share)).parent.parent == share


def test_ros_sampler_defaults_equal_the_core_sampler_defaults():
    from catpose_ros.model.pose_sampler import SamplerConfig
    from catpose_ros.ros.pose_pipeline import sampler_config_from_params
    assert sampler_config_from_params(P.CatposeParams()) == SamplerConfig()


def test_ros_tracking_defaults_equal_the_core_tracking_defaults():
    from catpose_ros.perception.tracking import TrackingConfig
    from catpose_ros.ros.pose_pipeline import tracking_config_from_params
    params = P.CatposeParams()
    core = TrackingConfig(min_points=params.segmentation.min_mask_pixels)
    assert tracking_config_from_params(params) == core


@pytest.mark.slow
def test_shipped_model_samples_with_the_ros_defaults():
    from catpose_ros.model.checkpoint import load_checkpoint
    from catpose_ros.perception.estimator import stored_sampler_config
    from catpose_ros.resources import resolve_checkpoint
    from catpose_ros.ros.pose_pipeline import sampler_config_from_params
    _, _, meta = load_checkpoint(resolve_checkpoint(''))
    assert stored_sampler_config(meta) == sampler_config_from_params(P.CatposeParams())
