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

"""Closed-form checks of the samplers and the guidance schedules.

The data distribution is a 1-D two-mode Gaussian mixture (modes -2 and +2, std 0.2, weights
0.3 / 0.7); its VE-perturbed score is exact (a mixture of N(mu_k, s^2 + sigma(t)^2)), so the
samplers are the only thing under test. Measured with 4000 samples, seed 0 (CPU, float32):

| sampler, schedule            | minority fraction | spread (-2 mode, +2 mode) |
|------------------------------|-------------------|---------------------------|
| DDIM 50 steps, none          | 0.306             | 0.208, 0.202              |
| PF-ODE RK45 1e-5, none       | 0.308 (176 NFE)   | 0.191, 0.200              |
| DDIM 50, constant w = 3      | 0.000             | -, 0.000                  |
| DDIM 50, linear 1 -> 3       | 0.034             | 0.027, 0.012              |
| DDIM 50, exponential default | 0.302             | 0.140, 0.139              |
| PF-ODE, exponential default  | 0.307             | 0.133, 0.133              |
"""

import pytest
import scipy.integrate
import torch

from catpose_ros.model.guidance import (ConstantGuidance, GuidanceConfig, LinearGuidance,
                                        make_guidance, NoGuidance)
from catpose_ros.model.samplers import ddim_sample, geometric_sigmas, pf_ode_sample
from catpose_ros.model.sde import VESDE

SDE = VESDE()
MEANS = torch.tensor([-2.0, 2.0])
WEIGHTS = torch.tensor([0.3, 0.7])
MODE_STD = 0.2
NUM_SAMPLES = 4000


def mixture_score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Return the exact score of the mixture convolved with N(0, sigma(t)^2)."""
    variance = MODE_STD ** 2 + SDE.sigma(t)[:, None] ** 2
    offset = x - MEANS
    log_density = torch.log(WEIGHTS) - 0.5 * offset ** 2 / variance - 0.5 * torch.log(variance)
    posterior = torch.softmax(log_density, dim=-1)
    return (posterior * (-offset / variance)).sum(-1, keepdim=True)


def prior_draw(t0: float = 1.0, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    t = torch.full((NUM_SAMPLES,), t0)
    return SDE.prior_sample((NUM_SAMPLES, 1), t, generator=generator), t


def mode_statistics(x: torch.Tensor):
    """Return (fraction near -2, std of the -2 samples, std of the +2 samples)."""
    left = x[:, 0] < 0
    left_std = x[left, 0].std().item() if left.sum() > 1 else 0.0
    return left.float().mean().item(), left_std, x[~left, 0].std().item()


def sample(method: str, guidance, steps: int = 50):
    x_init, t0 = prior_draw()
    if method == 'ddim':
        return ddim_sample(mixture_score, SDE, x_init, t0, steps, guidance), steps
    return pf_ode_sample(mixture_score, SDE, x_init, t0, guidance)


@pytest.fixture(scope='module')
def unguided_ode():
    return sample('ode', NoGuidance())


@pytest.mark.parametrize('method', ['ddim', 'ode'])
def test_unguided_samplers_recover_the_mixture(method, unguided_ode):
    x, nfe = unguided_ode if method == 'ode' else sample(method, NoGuidance())
    minority, left_std, right_std = mode_statistics(x)
    print(method, 'nfe', nfe, 'minority %.3f stds %.3f %.3f' % (minority, left_std, right_std))
    assert abs(minority - 0.3) < 0.03
    assert left_std == pytest.approx(MODE_STD, rel=0.15)
    assert right_std == pytest.approx(MODE_STD, rel=0.15)


def test_constant_scaling_collapses_onto_the_dominant_mode():
    # At high noise the perturbed density is one broad bump centred near the mixture mean
    # (+0.8); w = 3 contracts every sample onto it long before the modes separate, and +0.8
    # lies in the +2 basin, so the 0.3 minority mode empties (measured 0.000).
    x, _ = sample('ddim', ConstantGuidance(3.0))
    minority, _, right_std = mode_statistics(x)
    assert minority < 0.01
    assert right_std < 0.05


def test_linear_scaling_still_loses_most_minority_mass():
    x, _ = sample('ddim', LinearGuidance(1.0, 3.0))
    assert mode_statistics(x)[0] < 0.1


@pytest.mark.parametrize('method', ['ddim', 'ode'])
def test_exponential_scaling_keeps_both_modes_and_sharpens_them(method, unguided_ode):
    x, _ = sample(method, make_guidance(GuidanceConfig()))
    minority, left_std, right_std = mode_statistics(x)
    _, base_left, base_right = mode_statistics(unguided_ode[0])
    print(method, 'minority %.3f stds %.3f %.3f' % (minority, left_std, right_std))
    assert abs(minority - 0.3) < 0.03
    assert left_std < 0.8 * base_left
    assert right_std < 0.8 * base_right


def gaussian_flow_map(x_init, t0, t_end, scale):
    """Exact guided PF-ODE map for N(0, s^2) with constant weight: x * ratio^(w / 2)."""
    ratio = (MODE_STD ** 2 + SDE.sigma(t_end) ** 2) / (MODE_STD ** 2 + SDE.sigma(t0) ** 2)
    return x_init * ratio[:, None] ** (scale / 2)


def gaussian_score(x, t):
    return -x / (MODE_STD ** 2 + SDE.sigma(t)[:, None] ** 2)


@pytest.mark.parametrize('scale', [1.0, 2.5])
def test_pf_ode_matches_the_exact_flow_with_per_row_start_times(scale):
    t0 = torch.tensor([1.0, 0.55, 0.15, 0.3], dtype=torch.float64)
    x_init = torch.tensor([[30.0, -3.0], [1.0, 0.5], [0.02, -0.05], [0.2, 0.1]],
                          dtype=torch.float64)
    guidance = ConstantGuidance(scale)
    x, nfe = pf_ode_sample(gaussian_score, SDE, x_init, t0, guidance, rtol=1e-7, atol=1e-9)
    expected = gaussian_flow_map(x_init, t0, torch.full_like(t0, SDE.eps), scale)
    assert torch.allclose(x, expected, rtol=1e-5, atol=1e-7)
    assert nfe < 1000


def test_ddim_converges_to_the_exact_flow_as_steps_grow():
    t0 = torch.tensor([1.0, 0.55, 0.15], dtype=torch.float64)
    x_init = torch.tensor([[30.0], [1.0], [0.05]], dtype=torch.float64)
    expected = gaussian_flow_map(x_init, t0, torch.full_like(t0, SDE.eps), 1.0)
    errors = [(ddim_sample(gaussian_score, SDE, x_init, t0, steps) - expected).abs().max()
              for steps in (50, 200, 800)]
    assert errors[2] < errors[1] < errors[0] < 0.05
    assert errors[1] / errors[2] > 3.0  # first order: four times the steps, ~4x smaller


def test_pf_ode_follows_scipy_rk45_step_for_step():
    t0 = torch.tensor([1.0], dtype=torch.float64)
    x_init = torch.tensor([[1.3]], dtype=torch.float64) * SDE.sigma(t0)

    def drift(s, y):
        t = torch.tensor([SDE.eps + s * (1.0 - SDE.eps)], dtype=torch.float64)
        x = torch.from_numpy(y).reshape(1, 1)
        return (-0.5 * SDE.g2(t) * mixture_score(x, t)[0, 0] * (1.0 - SDE.eps)).numpy()

    reference = scipy.integrate.solve_ivp(drift, (1.0, 0.0), x_init[0].numpy(), method='RK45',
                                          rtol=1e-5, atol=1e-5)
    x, nfe = pf_ode_sample(mixture_score, SDE, x_init, t0, rtol=1e-5, atol=1e-5)
    # Same tableau, step control and initial step: same path (measured 104 NFE each).
    assert x[0, 0].item() == pytest.approx(reference.y[0, -1], abs=1e-8)
    assert nfe == reference.nfev


def test_geometric_sigmas_run_per_row_from_t0_to_eps():
    t0 = torch.tensor([0.55, 0.15])
    sigmas = geometric_sigmas(SDE, t0, 10)
    assert sigmas.shape == (11, 2)
    assert torch.allclose(sigmas[0], SDE.sigma(t0))
    assert torch.allclose(sigmas[-1], SDE.sigma(torch.full((2,), SDE.eps)))
    ratios = sigmas[1:] / sigmas[:-1]
    assert torch.allclose(ratios, ratios[:1].expand_as(ratios), rtol=1e-5)


def test_ddim_costs_exactly_its_steps():
    calls = []

    def counting_score(x, t):
        calls.append(t.shape)
        return gaussian_score(x, t)

    ddim_sample(counting_score, SDE, torch.zeros(3, 9), torch.full((3,), 0.55), 7)
    assert len(calls) == 7


def test_samplers_reject_bad_shapes_and_steps():
    x = torch.zeros(4, 9)
    with pytest.raises(ValueError, match='t0'):
        ddim_sample(gaussian_score, SDE, x, torch.zeros(3), 5)
    with pytest.raises(ValueError, match='steps'):
        ddim_sample(gaussian_score, SDE, x, torch.full((4,), 0.5), 0)
    with pytest.raises(ValueError, match='x_init'):
        pf_ode_sample(gaussian_score, SDE, torch.zeros(9), torch.zeros(9))
    with pytest.raises(RuntimeError, match='did not reach'):
        pf_ode_sample(gaussian_score, SDE, x, torch.full((4,), 1.0), max_steps=2)


def test_pf_ode_rows_are_integrated_independently():
    # Per-row step control: a hard row (far out, t0 = 1) makes the loop longer but does not
    # change the easy row's steps, so the easy row's result equals its solo run.
    easy_x, easy_t0 = torch.tensor([[0.3]], dtype=torch.float64), torch.tensor(
        [0.15], dtype=torch.float64)
    hard_x, hard_t0 = torch.tensor([[80.0]], dtype=torch.float64), torch.tensor(
        [1.0], dtype=torch.float64)
    solo, solo_nfe = pf_ode_sample(mixture_score, SDE, easy_x, easy_t0)
    both, both_nfe = pf_ode_sample(mixture_score, SDE, torch.cat((easy_x, hard_x)),
                                   torch.cat((easy_t0, hard_t0)))
    assert both_nfe > solo_nfe
    assert torch.allclose(both[:1], solo, rtol=0, atol=1e-12)


def point_mass_score(mode: float):
    """Score of a point mass at `mode` smoothed to noise level sigma: (mode - x) / sigma^2."""
    def score(x, t):
        return (mode - x) / SDE.sigma(t)[:, None] ** 2
    return score


def test_exact_guided_update_never_overshoots_where_euler_does():
    x_init = torch.tensor([[0.3], [-0.2]], dtype=torch.float64)
    t0 = torch.full((2,), 0.55, dtype=torch.float64)
    strong = ConstantGuidance(10.0)
    euler = ddim_sample(point_mass_score(0.0), SDE, x_init, t0, 10, strong, update='euler')
    exact = ddim_sample(point_mass_score(0.0), SDE, x_init, t0, 10, strong, update='exact')
    assert (euler.abs() > 1.0).all()  # |1 - 10 (1 - r)|^10 grows the offset
    assert (exact.abs() < 1e-6).all()
    assert (torch.sign(exact) == torch.sign(x_init)).all() or (exact == 0).all()
    # w = 1: the exact update is VE-DDIM, which maps a point-mass flow exactly.
    ddim = ddim_sample(point_mass_score(0.0), SDE, x_init, t0, 7, None, update='exact')
    sigma = SDE.sigma(torch.tensor([SDE.eps, 0.55], dtype=torch.float64))
    assert ddim == pytest.approx(x_init * sigma[0] / sigma[1], rel=1e-9)


def test_final_denoise_removes_the_noise_left_at_sigma_min():
    from catpose_ros.model.samplers import denoise
    x = torch.tensor([[0.02], [-0.01]], dtype=torch.float64)
    assert denoise(point_mass_score(0.005), SDE, x) == pytest.approx(
        torch.full_like(x, 0.005), abs=1e-12)
