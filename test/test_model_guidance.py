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

"""Score-scaling schedules: endpoints, monotonicity, shapes and the config factory."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
import torch

from catpose_ros.model.guidance import (ConstantGuidance, ExponentialGuidance, GuidanceConfig,
                                        LinearGuidance, make_guidance, NoGuidance)

TIMES = torch.linspace(1.0, 0.0, 11, dtype=torch.float64)


def test_fixed_schedules():
    assert torch.equal(NoGuidance()(TIMES), torch.ones_like(TIMES))
    assert torch.equal(ConstantGuidance(2.5)(TIMES), torch.full_like(TIMES, 2.5))


def test_linear_schedule_runs_from_w_min_at_one_to_w_max_at_zero():
    weights = LinearGuidance(1.0, 3.0)(TIMES)
    assert weights[0].item() == pytest.approx(1.0)
    assert weights[-1].item() == pytest.approx(3.0)
    assert torch.allclose(weights[1:] - weights[:-1], torch.full((10,), 0.2, dtype=TIMES.dtype))


def test_exponential_schedule_is_paper_equation_nine():
    weights = ExponentialGuidance(1.0, 10.0, 10.0)(TIMES)
    expected = 1.0 + 9.0 * torch.exp(-10.0 * TIMES)
    assert torch.allclose(weights, expected)
    assert weights[-1].item() == pytest.approx(10.0)
    # GenPose's cold start t0 = 0.55 is nearly unguided with the defaults.
    assert ExponentialGuidance(1.0, 10.0, 10.0)(torch.tensor([0.55])).item() == pytest.approx(
        1.0 + 9.0 * math.exp(-5.5), rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(w_min=st.floats(0.5, 2.0), extra=st.floats(0.0, 20.0), beta=st.floats(0.1, 50.0))
def test_exponential_schedule_rises_toward_t_zero_within_its_bounds(w_min, extra, beta):
    weights = ExponentialGuidance(w_min, w_min + extra, beta)(TIMES)
    assert bool((weights[1:] >= weights[:-1] - 1e-12).all())
    assert bool((weights >= w_min - 1e-12).all() and (weights <= w_min + extra + 1e-12).all())


@pytest.mark.parametrize('kind', ['none', 'constant', 'linear', 'exponential'])
def test_make_guidance_keeps_shape_dtype_and_device(kind):
    schedule = make_guidance(GuidanceConfig(kind=kind))
    t = torch.rand(7, dtype=torch.float64)
    weights = schedule(t)
    assert weights.shape == t.shape and weights.dtype == t.dtype and weights.device == t.device


def test_make_guidance_builds_the_configured_schedule():
    config = GuidanceConfig(kind='exponential', w_min=1.5, w_max=4.0, beta=7.0)
    assert make_guidance(config) == ExponentialGuidance(1.5, 4.0, 7.0)
    assert make_guidance(GuidanceConfig(kind='constant', w=2.0)) == ConstantGuidance(2.0)
    assert make_guidance(GuidanceConfig(kind='linear', w_min=1.0, w_max=2.0)) == (
        LinearGuidance(1.0, 2.0))
    assert make_guidance(GuidanceConfig(kind='none')) == NoGuidance()


def test_default_is_the_exponential_schedule_chosen_from_the_mixture_experiments():
    assert make_guidance(GuidanceConfig()) == ExponentialGuidance(1.0, 10.0, 10.0)


def test_unknown_kind_is_rejected_with_the_valid_names():
    with pytest.raises(ValueError, match='unknown guidance kind .cosine.*exponential'):
        make_guidance(GuidanceConfig(kind='cosine'))
