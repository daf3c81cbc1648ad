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

"""Tests of the training objectives: exact optima, known values and the pairing of draws."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
import torch

from catpose_ros.geometry.rotation import matrix_to_rotation_6d, rotation_6d_to_matrix
from catpose_ros.model.losses import dsm_loss, regression_loss
from catpose_ros.model.sde import VESDE

SDE = VESDE()


def exact_point_mass_score(x, t, features):
    """Score of N(features, sigma(t)^2): optimal for a single clean pose per object."""
    return -(x - features) / SDE.sigma(t)[:, None] ** 2


def rotation_about(axis: str, angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    matrices = {
        'x': [[1, 0, 0], [0, c, -s], [0, s, c]],
        'y': [[c, 0, s], [0, 1, 0], [-s, 0, c]],
        'z': [[c, -s, 0], [s, c, 0], [0, 0, 1]],
    }
    return torch.tensor(matrices[axis], dtype=torch.float64)


def test_dsm_loss_vanishes_for_the_exact_score_of_each_object():
    x0 = torch.randn(5, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # The exact score only matches if every draw is paired with its own object's feature.
    loss = dsm_loss(exact_point_mass_score, x0.clone(), x0, SDE, num_draws=7,
                    generator=torch.Generator().manual_seed(1))
    assert loss.item() < 1e-12


def test_dsm_loss_of_a_scaled_score_is_the_expected_noise_energy():
    x0 = torch.zeros(200, 9, dtype=torch.float64)

    def half_score(x, t, features):
        return 0.5 * exact_point_mass_score(x, t, features)

    loss = dsm_loss(half_score, x0, x0, SDE, num_draws=20,
                    generator=torch.Generator().manual_seed(2))
    assert loss.item() == pytest.approx(0.25 * 9, rel=0.03)  # E||z / 2||^2 = 9 / 4


def test_dsm_loss_draws_times_in_range_and_repeats_features():
    seen = {}

    def recording_score(x, t, features):
        seen.update(x=x, t=t, features=features)
        return torch.zeros_like(x)

    features = torch.arange(3.0)[:, None].expand(3, 4)
    dsm_loss(recording_score, features, torch.zeros(3, 9), SDE, num_draws=4,
             generator=torch.Generator().manual_seed(3))
    assert seen['x'].shape == (12, 9)
    assert torch.equal(seen['features'][:, 0], torch.tensor([0.0] * 4 + [1.0] * 4 + [2.0] * 4))
    assert bool(((seen['t'] >= SDE.eps) & (seen['t'] <= 1.0)).all())


def test_dsm_loss_is_reproducible_and_differentiable():
    layer = torch.nn.Linear(9 + 1 + 4, 9)

    def model(x, t, features):
        return layer(torch.cat((x, t[:, None], features), -1))

    features, x0 = torch.randn(2, 4), torch.randn(2, 9)
    first = dsm_loss(model, features, x0, SDE, generator=torch.Generator().manual_seed(4))
    second = dsm_loss(model, features, x0, SDE, generator=torch.Generator().manual_seed(4))
    assert torch.equal(first, second)
    first.backward()
    assert layer.weight.grad is not None and torch.isfinite(layer.weight.grad).all()


def test_dsm_loss_rejects_mismatched_batches():
    with pytest.raises(ValueError, match='share B'):
        dsm_loss(exact_point_mass_score, torch.zeros(2, 4), torch.zeros(3, 9), SDE)


def pose_prediction(rotation: torch.Tensor, translation) -> torch.Tensor:
    return torch.cat((matrix_to_rotation_6d(rotation),
                      torch.as_tensor(translation, dtype=rotation.dtype)), -1)[None]


def test_regression_loss_is_zero_at_the_truth_and_adds_its_parts():
    rotation = rotation_about('z', 0.3) @ rotation_about('x', 1.1)
    translation = torch.tensor([[0.01, -0.02, 0.03]], dtype=torch.float64)
    total, parts = regression_loss(pose_prediction(rotation, translation[0]), rotation[None],
                                   translation)
    assert total.item() == pytest.approx(0.0, abs=1e-6)
    offset = torch.tensor([0.03, 0.0, -0.04], dtype=torch.float64)
    total, parts = regression_loss(pose_prediction(rotation_about('x', 0.5) @ rotation,
                                                   translation[0] + offset),
                                   rotation[None], translation)
    assert parts['rotation'].item() == pytest.approx(0.5, abs=1e-6)
    assert parts['translation'].item() == pytest.approx(0.05 / 0.1, abs=1e-6)  # 5 cm
    assert total.item() == pytest.approx(1.0, abs=1e-6)


def test_symmetric_rows_ignore_rotation_about_the_y_axis():
    truth = torch.eye(3, dtype=torch.float64)[None].expand(2, 3, 3)
    pred = torch.cat((pose_prediction(rotation_about('y', 2.0), [0, 0, 0]),
                      pose_prediction(rotation_about('y', 2.0), [0, 0, 0])))
    _, parts = regression_loss(pred, truth, torch.zeros(2, 3, dtype=torch.float64),
                               symmetric=torch.tensor([True, False]))
    assert parts['rotation'].item() == pytest.approx(1.0, abs=1e-6)  # (0 + 2) / 2


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=12, max_size=12))
def test_geodesic_part_equals_the_arccos_formula(values):
    vectors = torch.tensor(values, dtype=torch.float64).reshape(2, 6) + torch.tensor(
        [1.0, 0, 0, 0, 1, 0], dtype=torch.float64) * 1.5
    truth = rotation_6d_to_matrix(vectors[1])[None]
    pred = torch.cat((vectors[0], torch.zeros(3, dtype=torch.float64)))[None]
    _, parts = regression_loss(pred, truth, torch.zeros(1, 3, dtype=torch.float64))
    estimate = rotation_6d_to_matrix(vectors[0])
    cosine = ((torch.trace(estimate.T @ truth[0]) - 1) / 2).clamp(-1, 1)
    assert parts['rotation'].item() == pytest.approx(torch.arccos(cosine).item(), abs=1e-6)


def test_regression_loss_gradient_is_finite_at_zero_error():
    pred = pose_prediction(torch.eye(3), [0.0, 0.0, 0.0]).requires_grad_(True)
    total, _ = regression_loss(pred, torch.eye(3)[None], torch.zeros(1, 3))
    total.backward()
    assert torch.isfinite(pred.grad).all()
