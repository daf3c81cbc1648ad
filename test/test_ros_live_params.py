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

"""Live parameter changes: which are accepted while configured, and that they take effect."""

from dataclasses import replace

import pytest
from support import FAST_PARAMS, frame_messages, save_tiny_checkpoint

from catpose_ros.ros.live_params import (change_note, REQUIRES_RECONFIGURE,
                                         review_parameter_changes)
from catpose_ros.ros.messages import RosbagsFactory
from catpose_ros.ros.params import (CatposeParams, parameter_specs, POSE_NODE,
                                    SEGMENTATION_NODE)
from catpose_ros.ros.pose_pipeline import load_estimator, PoseNodeCore


def _values(node=POSE_NODE, **changes):
    values = CatposeParams.from_dict(FAST_PARAMS).to_dict(node)
    values.update(changes)
    return values


def test_live_change_is_accepted_while_configured():
    review = review_parameter_changes(POSE_NODE, _values(),
                                      {'output.publish_debug_cloud': True}, configured=True)
    assert review.accepted and review.live_names == ('output.publish_debug_cloud',)
    assert review.params.output.publish_debug_cloud


@pytest.mark.parametrize('name, value', [('model.device', 'cuda'), ('sync.slop', 0.1),
                                         ('model.checkpoint', '/m.pt'), ('sync.qos', 'reliable')])
def test_other_changes_are_refused_with_the_reason_while_configured(name, value):
    review = review_parameter_changes(POSE_NODE, _values(), {name: value}, configured=True)
    assert not review.accepted
    assert name in review.reason and REQUIRES_RECONFIGURE in review.reason


def test_unconfigured_node_accepts_any_valid_change_for_its_next_configure():
    review = review_parameter_changes(POSE_NODE, _values(), {'model.device': 'cuda'},
                                      configured=False)
    assert review.accepted and review.live_names == ()


def test_a_mixed_request_is_refused_as_a_whole():
    review = review_parameter_changes(
        POSE_NODE, _values(), {'output.publish_tf': False, 'model.head': 'regression'},
        configured=True)
    assert not review.accepted and 'model.head' in review.reason


def test_unchanged_values_foreign_names_and_bad_values():
    assert review_parameter_changes(POSE_NODE, _values(), {'model.device': 'cpu',
                                                           'use_sim_time': True},
                                    configured=True).accepted
    bad = review_parameter_changes(POSE_NODE, _values(), {'depth.min_depth': 9.0},
                                   configured=True)
    assert not bad.accepted and 'depth.min_depth' in bad.reason
    start = review_parameter_changes(POSE_NODE, _values(), {'autostart': False},
                                     configured=False)
    assert not start.accepted and 'starts' in start.reason


def test_segmentation_node_takes_only_the_input_age_live():
    values = _values(SEGMENTATION_NODE)
    assert review_parameter_changes(SEGMENTATION_NODE, values, {'sync.max_input_age_s': 2.0},
                                    configured=True).accepted
    refused = review_parameter_changes(SEGMENTATION_NODE, values,
                                       {'segmentation.score_threshold': 0.9}, configured=True)
    assert not refused.accepted and REQUIRES_RECONFIGURE in refused.reason


def test_every_parameter_says_how_a_change_applies():
    for node in (POSE_NODE, SEGMENTATION_NODE):
        for spec in parameter_specs(node):
            assert change_note(spec, node)


@pytest.fixture
def estimator(tmp_path):
    # A fresh estimator per test: live changes reconfigure it in place.
    checkpoint = save_tiny_checkpoint(tmp_path / 'tiny.pt')
    params = CatposeParams.from_dict(dict(FAST_PARAMS, **{'model.checkpoint': str(checkpoint)}))
    return params, load_estimator(params)


def _apply(core, **changes):
    review = review_parameter_changes(POSE_NODE, core.params.to_dict(POSE_NODE), changes,
                                      configured=True)
    assert review.accepted, review.reason
    core.apply_params(review.params)


def test_applied_parameters_change_the_next_frame(estimator):
    params, model = estimator
    factory = RosbagsFactory('jazzy')
    core = PoseNodeCore(params, model, factory)
    assert core.process(*frame_messages(factory, 0)).tf is not None
    _apply(core, **{'output.publish_tf': False, 'sampler.steps': 2,
                    'tracking.max_rotation_jump_deg': 30.0, 'depth.max_depth': 0.75,
                    'segmentation.min_mask_pixels': 60})
    outputs = core.process(*frame_messages(factory, 1))
    assert outputs.processed and outputs.tf is None
    assert model.sampler.config.steps == 2 and model.max_depth == 0.75
    assert core.tracker.config.max_rotation_jump_deg == 30.0
    assert core.tracker.config.min_points == 60 and model.min_points == 60
    # The bowl lies at 0.8 m, now beyond depth.max_depth: only the mug is estimated.
    assert [o.category for o in outputs.objects] == ['mug']


def test_an_unusable_live_value_changes_nothing(estimator):
    params, model = estimator
    core = PoseNodeCore(params, model, RosbagsFactory('jazzy'))
    review = review_parameter_changes(POSE_NODE, params.to_dict(POSE_NODE),
                                      {'tracking.max_translation_jump_m': 0.0},
                                      configured=True)
    assert not review.accepted and 'max_translation_jump_m' in review.reason
    # Past the declared ranges, the core's own checks still leave the node as it was.
    unusable = replace(params, tracking=replace(params.tracking, max_translation_jump_m=0.0))
    with pytest.raises(ValueError, match='max_translation_jump_m'):
        core.apply_params(unusable)
    assert core.params is params and core.tracker.config.max_translation_jump_m == 0.1
