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

"""PoseSampler on a toy score model whose exact posterior is a Gaussian around a known pose.

The toy model reads the target pose from the features (F = 9) and returns the exact VE
score of N(target, diag(s^2)), so every result below has a closed-form expectation.
"""

import math

import pytest
import torch

from catpose_ros.geometry.rotation import (average_rotations, geodesic_angle,
                                           matrix_to_rotation_6d, rotation_6d_to_matrix)
from catpose_ros.model.guidance import GuidanceConfig
from catpose_ros.model.pose_sampler import GENPOSE_T0, PoseSampler, SamplerConfig
from catpose_ros.model.sde import VESDE

SDE = VESDE()


def paper_config(**changes) -> SamplerConfig:
    """Return the paper's (GenPose's) cold start: noise around 0 at t0 = 0.55."""
    values = {'cold_start': 'noise', 't0': GENPOSE_T0, 'track_t0': 0.15,
              'final_denoise': False, 'guidance': GuidanceConfig()}
    values.update(changes)
    return SamplerConfig(**values)


UNGUIDED = GuidanceConfig(kind='none')


class GaussianPosterior:
    """Exact score of N(features, diag(std^2)) convolved with N(0, sigma(t)^2 I)."""

    def __init__(self, std=0.005):
        self.std = torch.as_tensor(std, dtype=torch.float32)
        self.first_times = None

    def __call__(self, x, t, features):
        if self.first_times is None:
            self.first_times = t.clone()
        variance = self.std ** 2 + SDE.sigma(t)[:, None] ** 2
        return -(x - features) / variance


def random_poses(count: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    rotation = rotation_6d_to_matrix(torch.randn(count, 6, generator=generator))
    translation = 0.05 * torch.randn(count, 3, generator=generator)
    return torch.cat((matrix_to_rotation_6d(rotation), translation), dim=-1)


def errors(poses: torch.Tensor, targets: torch.Tensor):
    """Return (rotation error in degrees, translation error in metres) per row."""
    angle = geodesic_angle(rotation_6d_to_matrix(poses[:, :6]),
                           rotation_6d_to_matrix(targets[:, :6]))
    return torch.rad2deg(angle), (poses[:, 6:] - targets[:, 6:]).norm(dim=-1)


@pytest.mark.parametrize('method', ['ddim', 'pf_ode'])
def test_cold_rows_converge_to_the_target_pose(method):
    targets = random_poses(16)
    sampler = PoseSampler(SDE, paper_config(method=method))
    result = sampler.sample(GaussianPosterior(), targets,
                            generator=torch.Generator().manual_seed(1))
    rotation_error, translation_error = errors(result.poses, targets)
    assert result.poses.shape == (16, 9) and result.candidates.shape == (16, 1, 9)
    assert result.covariance is None
    assert float(rotation_error.max()) < 1.0 and float(translation_error.max()) < 0.005
    if method == 'ddim':   # one score evaluation per step, no final denoising here
        assert result.nfe == sampler.config.steps
    else:  # Dormand-Prince with FSAL: two to choose the first step, then six per tried step
        assert result.nfe >= 8 and (result.nfe - 2) % 6 == 0


def test_candidates_are_proper_rotations():
    result = PoseSampler(SDE, paper_config(num_candidates=3)).sample(
        GaussianPosterior(std=0.3), random_poses(4), generator=torch.Generator().manual_seed(2))
    rotation = rotation_6d_to_matrix(result.candidates[..., :6])
    identity = torch.eye(3).expand_as(rotation)
    assert torch.allclose(rotation.transpose(-1, -2) @ rotation, identity, atol=1e-5)
    assert torch.allclose(result.candidates[..., :6], matrix_to_rotation_6d(rotation),
                          atol=1e-6)


def test_cold_and_warm_rows_share_one_batch_with_their_own_start_times():
    # Warm rows start 10 cm off in x. Unguided, the exact PF-ODE contracts an offset by
    # sqrt((s^2 + sigma(eps)^2) / (s^2 + sigma(t0)^2)), which for track_t0 leaves ~38 % of
    # it, while cold rows (t0 = 0.55) arrive at the target.
    rows = 400
    targets = random_poses(1).expand(rows, 9).contiguous()
    init = targets.clone()
    init[:, 6] += 0.1
    warm = torch.arange(rows) % 2 == 0
    model = GaussianPosterior(std=0.01)
    config = paper_config(method='pf_ode', guidance=UNGUIDED, rtol=1e-6, atol=1e-7)
    result = PoseSampler(SDE, config).sample(model, targets, init_poses=init, warm=warm,
                                             generator=torch.Generator().manual_seed(3))
    start = torch.where(warm, config.track_t0, config.t0)
    assert torch.allclose(model.first_times, start, atol=1e-6)

    def contraction(t0):
        sigma0, sigma_end = SDE.sigma(torch.tensor(t0)), SDE.sigma(torch.tensor(SDE.eps))
        return math.sqrt((0.01 ** 2 + sigma_end ** 2) / (0.01 ** 2 + sigma0 ** 2))

    offset = result.poses[:, 6] - targets[:, 6]
    expected_warm = 0.1 * contraction(config.track_t0)
    spread = float(SDE.sigma(torch.tensor(config.track_t0))) * contraction(config.track_t0)
    standard_error = spread / math.sqrt(rows / 2)
    assert float(offset[warm].mean()) == pytest.approx(expected_warm, abs=4 * standard_error)
    assert abs(float(offset[~warm].mean())) < 0.002


def test_warm_start_defaults_to_all_rows_when_init_poses_are_given():
    targets = random_poses(3)
    model = GaussianPosterior()
    PoseSampler(SDE, paper_config(steps=5)).sample(model, targets, init_poses=targets)
    assert torch.allclose(model.first_times, torch.full((3,), 0.15), atol=1e-6)


def test_mean_and_first_aggregation_of_candidates():
    targets = random_poses(2)
    generator_seed = 4
    outputs = {}
    for aggregation in ('first', 'mean'):
        config = paper_config(num_candidates=50, aggregation=aggregation, guidance=UNGUIDED)
        outputs[aggregation] = PoseSampler(SDE, config).sample(
            GaussianPosterior(std=0.05), targets,
            generator=torch.Generator().manual_seed(generator_seed))
    first, mean = outputs['first'], outputs['mean']
    assert torch.equal(first.candidates, mean.candidates)
    assert torch.equal(first.poses, first.candidates[:, 0])
    expected_rotation = average_rotations(rotation_6d_to_matrix(mean.candidates[..., :6]))
    assert torch.allclose(rotation_6d_to_matrix(mean.poses[:, :6]), expected_rotation,
                          atol=1e-5)
    assert torch.allclose(mean.poses[:, 6:], mean.candidates[..., 6:].mean(1))
    # Averaging 50 draws of a 5 cm-wide posterior lands far closer than one draw does.
    _, first_error = errors(first.poses, targets)
    _, mean_error = errors(mean.poses, targets)
    assert float(mean_error.max()) < 0.035 and float(mean_error.mean()) < float(
        first_error.mean())


def test_covariance_matches_the_posterior_in_camera_axes():
    # The 6D part holds the object x and y axes in camera coordinates. The object is turned
    # +90 deg about camera x (object y = camera z). Noise on entry 1 (x axis toward camera y)
    # rotates about camera Z, entry 2 (x axis toward camera z) about camera Y, entry 4
    # (y axis toward camera y) about camera X. In object axes (R_mean^T R_k) the large
    # variance would sit on the object's y axis (index 4) instead of camera Z (index 5).
    std = torch.full((9,), 0.02)
    std[1] = 0.1
    std[6:] = torch.tensor([0.01, 0.02, 0.03])
    turn = torch.tensor([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    target = torch.cat((matrix_to_rotation_6d(turn), torch.zeros(3)))[None]
    config = paper_config(method='pf_ode', num_candidates=3000, guidance=UNGUIDED)
    result = PoseSampler(SDE, config).sample(GaussianPosterior(std), target,
                                             generator=torch.Generator().manual_seed(5))
    variance = (std ** 2 + SDE.sigma(torch.tensor(SDE.eps)) ** 2)
    expected = torch.tensor([variance[6], variance[7], variance[8],
                             variance[4], variance[2], variance[1]])
    covariance = result.covariance[0]
    assert covariance.shape == (6, 6)
    assert torch.allclose(covariance.diagonal(), expected, rtol=0.15)
    scale = covariance.diagonal().sqrt()
    correlation = covariance / (scale[:, None] * scale[None, :]) - torch.eye(6)
    assert float(correlation.abs().max()) < 0.1  # independent dimensions, 3000 draws


def test_empty_batch_and_bad_inputs():
    sampler = PoseSampler(SDE, paper_config(num_candidates=2))
    empty = sampler.sample(GaussianPosterior(), torch.zeros(0, 9))
    assert empty.poses.shape == (0, 9) and empty.covariance.shape == (0, 6, 6)
    with pytest.raises(ValueError, match='init_poses'):
        sampler.sample(GaussianPosterior(), torch.zeros(2, 9), warm=torch.tensor([True, False]))
    with pytest.raises(ValueError, match='init_poses'):
        sampler.sample(GaussianPosterior(), torch.zeros(2, 9), init_poses=torch.zeros(3, 9))
    with pytest.raises(ValueError, match='warm'):
        sampler.sample(GaussianPosterior(), torch.zeros(2, 9), init_poses=torch.zeros(2, 9),
                       warm=torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match='method'):
        SamplerConfig(method='euler')
    with pytest.raises(ValueError, match='aggregation'):
        SamplerConfig(aggregation='median')


def test_cuda_graph_switch_leaves_other_devices_unchanged():
    targets = random_poses(4)
    plain, switched = (PoseSampler(SDE, paper_config(steps=5, cuda_graph=flag))
                       for flag in (False, True))
    first = plain.sample(GaussianPosterior(), targets,
                         generator=torch.Generator().manual_seed(2))
    second = switched.sample(GaussianPosterior(), targets,
                             generator=torch.Generator().manual_seed(2))
    assert torch.equal(first.poses, second.poses) and second.nfe == 5


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_graph_replay_matches_eager_sampling():
    targets = random_poses(6).cuda()
    init = random_poses(6, seed=3).cuda()
    warm = torch.tensor([True, False] * 3, device='cuda')
    eager = PoseSampler(SDE, paper_config(steps=10))
    graphed = PoseSampler(SDE, paper_config(steps=10, cuda_graph=True))
    results = [sampler.sample(GaussianPosterior(), targets, init, warm,
                              torch.Generator(device='cuda').manual_seed(4)).poses
               for sampler in (eager, graphed, graphed)]      # eager, recording, replay
    torch.testing.assert_close(results[1], results[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(results[2], results[0], rtol=1e-5, atol=1e-6)


def test_cold_rows_can_start_around_a_given_centre():
    from catpose_ros.model.pose_sampler import cold_centres
    sde = VESDE()
    config = paper_config(steps=2, t0=1e-3, guidance=GuidanceConfig(kind='none'))
    centre = torch.tensor([[1.0, 0, 0, 0, 1, 0, 0.5, -0.4, 0.3]])
    samples = PoseSampler(sde, config).sample(lambda x, t, f: torch.zeros_like(x),
                                              torch.zeros(1, 4), cold_centre=centre)
    assert torch.allclose(samples.poses, centre, atol=0.05)  # noise of sigma(1e-3) ~ 0.01

    class Regressor:

        def regress(self, features):
            return centre.expand(len(features), -1)

    assert cold_centres(Regressor(), config, torch.zeros(1, 4)) is None
    regression = SamplerConfig(cold_start='regression')
    assert torch.allclose(cold_centres(Regressor(), regression, torch.zeros(1, 4)), centre)
    with pytest.raises(ValueError, match='cold_start'):
        SamplerConfig(cold_start='prior')
