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

"""Guided samplers of the VE-SDE's probability-flow ODE, generic over the dimension D.

Both samplers take `score_fn(x [B, D], t [B]) -> [B, D]`, a start state `x_init` [B, D] and
per-row start times `t0` [B]; they know nothing about poses, networks or datasets. Every
operation stays on x_init's device: no scipy and no host round trip per step (the adaptive
sampler reads one flag from the device every `sync_every` iterations to know when to stop).
The guidance weight w(t) multiplies the score (paper eq. 8).
"""

from typing import Optional, Tuple

import torch

from catpose_ros.model.guidance import Guidance, NoGuidance
from catpose_ros.model.sde import VESDE

# Dormand-Prince 5(4) tableau, as in scipy.integrate.RK45 (FSAL: the 7th stage is f(x_new)).
_DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
_DP_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
_DP_E = (-71 / 57600, 0.0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40)
_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0


def _check_inputs(x_init: torch.Tensor, t0: torch.Tensor, sde: VESDE) -> None:
    if x_init.dim() != 2:
        raise ValueError('x_init must be [B, D], got shape %s' % (tuple(x_init.shape),))
    if t0.shape != x_init.shape[:1]:
        raise ValueError('t0 must be [B] = [%d], got shape %s'
                         % (x_init.shape[0], tuple(t0.shape)))


def geometric_sigmas(sde: VESDE, t0: torch.Tensor, steps: int) -> torch.Tensor:
    """Return [steps + 1, B] noise levels spaced geometrically from sigma(t0) to sigma(eps)."""
    log_start = torch.log(sde.sigma(t0))
    log_end = torch.log(sde.sigma(torch.full_like(t0, sde.eps)))
    fraction = torch.linspace(0.0, 1.0, steps + 1, device=t0.device, dtype=t0.dtype)[:, None]
    return torch.exp(log_start + fraction * (log_end - log_start))


UPDATES = ('exact', 'euler')


def ddim_sample(score_fn, sde: VESDE, x_init: torch.Tensor, t0: torch.Tensor, steps: int,
                guidance: Optional[Guidance] = None, update: str = 'exact') -> torch.Tensor:
    """Run the deterministic DDIM sampler in sigma space with score scaling.

    Step i goes from sigma_i to sigma_{i+1} (geometric spacing per row, rows in lockstep by
    step index). Both updates first predict x0 = x + sigma_i^2 s(x, t_i):
    - 'exact': x <- x0 + (x - x0) (sigma_{i+1} / sigma_i)^w(t_i), the exact solution of the
      guided flow dx/dsigma = -sigma w s when the score is that of a sharp mode at x0
      (w = 1 is VE-DDIM itself). It can never overshoot the mode, whatever w;
    - 'euler': x <- x + sigma_i (sigma_i - sigma_{i+1}) w(t_i) s, one Euler step, which
      multiplies the offset from a sharp mode by 1 - w (1 - sigma_{i+1} / sigma_i) and so
      overshoots (a factor near -1.3 at w = 10 and 10 steps).
    It ends at sigma(eps) and costs exactly `steps` score evaluations.
    """
    _check_inputs(x_init, t0, sde)
    if int(steps) != steps or steps < 1:
        raise ValueError('steps must be a positive integer, got %r' % (steps,))
    if update not in UPDATES:
        raise ValueError('update must be one of %s, got %r' % (UPDATES, update))
    guidance = guidance or NoGuidance()
    sigmas = geometric_sigmas(sde, t0.to(x_init.dtype), int(steps))
    times = sde.time_of_sigma(sigmas)
    x = x_init
    for i in range(int(steps)):
        weight = guidance(times[i])
        if update == 'euler':
            factor = sigmas[i] * (sigmas[i] - sigmas[i + 1]) * weight
            x = x + factor[:, None] * score_fn(x, times[i])
        else:
            x0 = x + sigmas[i][:, None] ** 2 * score_fn(x, times[i])
            x = x0 + (x - x0) * ((sigmas[i + 1] / sigmas[i]) ** weight)[:, None]
    return x


def denoise(score_fn, sde: VESDE, x: torch.Tensor) -> torch.Tensor:
    """Tweedie's estimate of the clean sample at sigma(eps): x + sigma^2 s(x, eps).

    One extra score evaluation that removes the last sigma_min of noise a sampler leaves.
    """
    t = torch.full(x.shape[:1], sde.eps, dtype=x.dtype, device=x.device)
    return x + sde.sigma(t)[:, None] ** 2 * score_fn(x, t)


class _GuidedFlow:
    """Guided PF-ODE drift in normalised time tau = 1 - s in [0, 1], one start time per row.

    t(tau) = t0 - tau (t0 - eps), so dx/dtau = 1/2 g^2(t) w(t) s(x, t) (t0 - eps).
    """

    def __init__(self, score_fn, sde: VESDE, t0: torch.Tensor, guidance: Guidance):
        self.score_fn, self.sde, self.t0, self.guidance = score_fn, sde, t0, guidance
        self.span = t0 - sde.eps
        self.evaluations = 0

    def __call__(self, tau: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        t = self.t0 - tau * self.span
        self.evaluations += 1
        weight = 0.5 * self.sde.g2(t) * self.guidance(t) * self.span
        return weight[:, None] * self.score_fn(x, t)


def _rms(values: torch.Tensor) -> torch.Tensor:
    return values.pow(2).mean(-1).sqrt()


def _initial_step(flow: _GuidedFlow, x: torch.Tensor, f0: torch.Tensor,
                  rtol: float, atol: float) -> torch.Tensor:
    """Pick a per-row first step the way scipy's select_initial_step does (order 4)."""
    scale = atol + x.abs() * rtol
    d0, d1 = _rms(x / scale), _rms(f0 / scale)
    h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), torch.full_like(d0, 1e-6),
                     0.01 * d0 / d1.clamp_min(1e-30))
    h0 = h0.clamp(max=1.0)
    f1 = flow(h0, x + h0[:, None] * f0)
    d2 = _rms((f1 - f0) / scale) / h0
    h1 = torch.where((d1 <= 1e-15) & (d2 <= 1e-15), torch.maximum(torch.full_like(h0, 1e-6),
                     h0 * 1e-3), (0.01 / torch.maximum(d1, d2).clamp_min(1e-30)) ** 0.2)
    return torch.minimum(100 * h0, h1)


def _dormand_prince_step(flow: _GuidedFlow, tau: torch.Tensor, x: torch.Tensor,
                         f0: torch.Tensor, h: torch.Tensor):
    """Take one RK45 step of per-row size h; return (x_new, f_new, error estimate)."""
    stages = [f0]
    for c, a in zip(_DP_C[1:], _DP_A[1:]):
        increment = sum(coef * k for coef, k in zip(a, stages))
        stages.append(flow(tau + c * h, x + h[:, None] * increment))
    x_new = x + h[:, None] * sum(b * k for b, k in zip(_DP_B, stages))
    f_new = flow(tau + h, x_new)
    stages.append(f_new)
    error = h[:, None] * sum(e * k for e, k in zip(_DP_E, stages))
    return x_new, f_new, error


def pf_ode_sample(score_fn, sde: VESDE, x_init: torch.Tensor, t0: torch.Tensor,
                  guidance: Optional[Guidance] = None, rtol: float = 1e-5, atol: float = 1e-5,
                  max_steps: int = 1000,
                  sync_every: Optional[int] = None) -> Tuple[torch.Tensor, int]:
    """Integrate the guided PF-ODE from t0 to eps with adaptive Dormand-Prince RK45.

    All rows share one integration in normalised time (t_i = eps + s (t0_i - eps), s: 1 -> 0)
    but each row has its own step size, error norm (RMS of error / (atol + rtol |x|)) and
    accept / reject decision, so one hard row does not shrink the others' steps; rows that
    have arrived wait with a zero step. Every iteration evaluates the score on the whole
    batch (7 evaluations per iteration minus the reused first stage, FSAL).

    Returns the samples at eps and the number of batched score evaluations (NFE). The loop
    checks for completion every `sync_every` iterations (1 on CPU, 4 elsewhere), the only
    device-to-host read. Raises RuntimeError if max_steps iterations do not reach eps.
    """
    _check_inputs(x_init, t0, sde)
    guidance = guidance or NoGuidance()
    if sync_every is None:
        sync_every = 1 if x_init.device.type == 'cpu' else 4
    flow = _GuidedFlow(score_fn, sde, t0.to(x_init.dtype), guidance)
    x = x_init
    tau = torch.zeros_like(flow.t0)
    f = flow(tau, x)
    h = _initial_step(flow, x, f, rtol, atol)
    rejected_before = torch.zeros_like(tau, dtype=torch.bool)
    for iteration in range(1, max_steps + 1):
        h_row = torch.minimum(h, 1.0 - tau)
        x_new, f_new, error = _dormand_prince_step(flow, tau, x, f, h_row)
        scale = atol + torch.maximum(x.abs(), x_new.abs()) * rtol
        error_norm = _rms(error / scale)
        accept = (error_norm <= 1.0) | (h_row <= 0)
        factor = (_SAFETY * error_norm.clamp_min(1e-10) ** -0.2).clamp(_MIN_FACTOR, _MAX_FACTOR)
        factor = torch.where(accept & rejected_before, factor.clamp(max=1.0), factor)
        x = torch.where(accept[:, None], x_new, x)
        f = torch.where(accept[:, None], f_new, f)
        tau = torch.where(accept, torch.where(h_row >= 1.0 - tau, torch.ones_like(tau),
                                              tau + h_row), tau)
        h = torch.where(tau >= 1.0, h, h * factor)
        rejected_before = ~accept
        if iteration % sync_every == 0 and bool((tau >= 1.0).all()):
            return x, flow.evaluations
    if bool((tau >= 1.0).all()):
        return x, flow.evaluations
    raise RuntimeError('PF-ODE did not reach eps within %d steps (rtol=%g, atol=%g)'
                       % (max_steps, rtol, atol))
