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

"""Pose confidence: the agreement rule, and how the estimator wires its check samples."""

from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from support import TINY
import torch

from catpose_ros.geometry.rotation import matrix_to_rotation_6d
from catpose_ros.geometry.transforms import make_transform
from catpose_ros.model.pose_sampler import PoseSamples, SamplerConfig
from catpose_ros.model.posenet import CatPoseNet
from catpose_ros.perception.confidence import agreement_confidence, HALF_CONFIDENCE_DEG
from catpose_ros.perception.estimator import PoseEstimator
from catpose_ros.perception.instances import Instance


def rotations(*rotvecs_deg) -> torch.Tensor:
    return torch.as_tensor(Rotation.from_rotvec(np.radians(rotvecs_deg)).as_matrix())


def test_confidence_halves_per_half_confidence_angle():
    base = rotations([0, 0, 0], [0, 0, 0], [0, 0, 0])
    checks = rotations([0, 0, 0], [HALF_CONFIDENCE_DEG, 0, 0],
                       [0, 0, 2 * HALF_CONFIDENCE_DEG])[:, None]
    confidence = agreement_confidence(base, checks, torch.zeros(3, dtype=torch.bool))
    np.testing.assert_allclose(confidence.numpy(), [1.0, 0.5, 0.25], atol=1e-9)


def test_bodies_of_revolution_ignore_the_turn_about_their_axis():
    base = rotations([0, 0, 0], [0, 0, 0])
    checks = rotations([0, 120, 0], [0, 120, 0])[:, None]
    confidence = agreement_confidence(base, checks, torch.tensor([True, False]))
    assert confidence[0] == pytest.approx(1.0)
    assert confidence[1] == pytest.approx(0.5 ** (120 / HALF_CONFIDENCE_DEG))


def test_several_checks_average_their_disagreement():
    base = rotations([0, 0, 0])
    checks = rotations([0, 0, 0], [2 * HALF_CONFIDENCE_DEG, 0, 0])[None]
    confidence = agreement_confidence(base, checks, torch.zeros(1, dtype=torch.bool))
    assert confidence[0] == pytest.approx(0.5)


def test_checks_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match='checks must be'):
        agreement_confidence(rotations([0, 0, 0]), rotations([0, 0, 0]), torch.tensor([False]))
    with pytest.raises(ValueError, match='checks must be'):
        agreement_confidence(rotations([0, 0, 0]), torch.zeros(1, 0, 3, 3),
                             torch.tensor([False]))


class ScriptedSampler:
    """Stands in for PoseSampler: row r of the batch gets the rotation turns[r]."""

    def __init__(self, turns_deg):
        self.turns = turns_deg
        self.rows = None

    def sample(self, score, features, init, warm, generator, centre):
        self.rows = features.shape[0]
        matrices = rotations(*self.turns[:self.rows]).float()
        poses = torch.cat((matrix_to_rotation_6d(matrices), torch.zeros(self.rows, 3)), -1)
        return PoseSamples(poses, poses[:, None], None, 1)


def estimator_with(turns_deg, **kwargs) -> PoseEstimator:
    torch.manual_seed(0)
    estimator = PoseEstimator(CatPoseNet(replace(TINY, num_points=128)), SamplerConfig(steps=2),
                              seed=0, **kwargs)
    estimator.sampler = ScriptedSampler(turns_deg)
    return estimator


def clouds(count: int):
    rng = np.random.default_rng(0)
    return [rng.normal([0.0, 0.0, 0.7], 0.03, (300, 3)) for _ in range(count)]


def test_each_cold_object_is_rated_by_its_own_check_row():
    # Rows: camera, bowl (the estimates), then one cold check each, in the same order.
    estimator = estimator_with([[0, 0, 0], [0, 0, 0], [HALF_CONFIDENCE_DEG, 0, 0],
                                [0, 90, 0]])
    camera, bowl = estimator.estimate_points(clouds(2), ['camera', 'bowl'], scores=[0.8, 0.6])
    assert estimator.sampler.rows == 4
    assert camera.pose_confidence == pytest.approx(0.5, abs=1e-6)
    assert bowl.pose_confidence == pytest.approx(1.0, abs=1e-6)   # a turn about its axis
    assert camera.score == pytest.approx(0.4, abs=1e-6)
    assert bowl.score == pytest.approx(0.6, abs=1e-6)


def test_a_warm_object_is_rated_by_its_returned_cold_check():
    # Rows: warm mug, cold camera, the mug's cold check (returned), the camera's check.
    estimator = estimator_with([[0, 0, 0], [0, 0, 0], [2 * HALF_CONFIDENCE_DEG, 0, 0],
                                [0, 0, 0]])
    mug_points, camera_points = clouds(2)
    mask = np.ones((4, 4), bool)
    instances = [Instance(1, 'mug', mask, 1.0, (0, 0, 4, 4)),
                 Instance(2, 'camera', mask, 1.0, (0, 0, 4, 4))]
    result = estimator.estimate_from_clouds(
        instances, {1: mug_points, 2: camera_points},
        {1: make_transform(np.eye(3), [0.0, 0.0, 0.7])}, cold_checks=True)
    assert estimator.sampler.rows == 4
    mug, camera = result.estimates
    assert sorted(result.cold_checks) == [1]
    assert mug.pose_confidence == pytest.approx(0.25, abs=1e-6)
    assert result.cold_checks[1].pose_confidence == mug.pose_confidence
    assert camera.pose_confidence == pytest.approx(1.0, abs=1e-6)


def test_without_the_check_or_with_the_regression_head_no_confidence_is_claimed():
    estimator = estimator_with([[0, 0, 0]], confidence_check=False)
    (estimate,) = estimator.estimate_points(clouds(1), ['laptop'], scores=[0.7])
    assert estimator.sampler.rows == 1
    assert estimate.pose_confidence is None and estimate.score == 0.7
    regression = estimator_with([], head='regression')
    (estimate,) = regression.estimate_points(clouds(1), ['laptop'], scores=[0.7])
    assert regression.sampler.rows is None
    assert estimate.pose_confidence is None and estimate.score == 0.7


def test_a_non_finite_check_gives_no_confidence_and_a_finite_score():
    estimator = estimator_with([[0, 0, 0], [0, 0, 0]])
    scripted = estimator.sampler.sample

    def check_nan(*args):
        samples = scripted(*args)
        samples.poses[1] = float('nan')
        return samples

    estimator.sampler.sample = check_nan
    (estimate,) = estimator.estimate_points(clouds(1), ['laptop'], scores=[0.7])
    assert estimate.pose_confidence == 0.0 and estimate.score == 0.0


def mug_cloud(with_handle: bool) -> np.ndarray:
    """Return a mug's visible half-cylinder about the camera's y axis, with or without a handle."""
    rng = np.random.default_rng(1)
    angle = rng.uniform(np.pi, 2 * np.pi, 400)         # the half facing the camera
    height = rng.uniform(-0.05, 0.05, 400)
    body = np.stack((0.04 * np.cos(angle), height, 0.04 * np.sin(angle)), -1)
    if with_handle:
        handle = np.stack((rng.uniform(0.055, 0.07, 60), rng.uniform(-0.03, 0.03, 60),
                           rng.uniform(-0.01, 0.01, 60)), -1)
        body = np.concatenate((body, handle))
    return body + [0.0, 0.0, 0.7]


@pytest.mark.parametrize('with_handle', [False, True])
def test_a_mug_without_a_visible_handle_is_compared_by_its_axis(with_handle):
    # The check is turned 90 deg about y: the same pose for a mug whose handle is hidden.
    estimator = estimator_with([[0, 0, 0], [0, 90, 0]])
    (mug,) = estimator.estimate_points([mug_cloud(with_handle)], ['mug'])
    expected = 0.5 ** (90 / HALF_CONFIDENCE_DEG) if with_handle else 1.0
    assert mug.pose_confidence == pytest.approx(expected, abs=1e-6)
