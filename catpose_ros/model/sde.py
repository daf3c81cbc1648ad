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

"""The variance-exploding SDE of GenPose: sigma(t) = sigma_min (sigma_max / sigma_min)^t.

Forward: dx = g(t) dW with g(t)^2 = d sigma^2 / dt = 2 sigma(t)^2 ln(sigma_max / sigma_min).
The probability-flow ODE is dx/dt = -1/2 g(t)^2 score(x, t).
"""

from dataclasses import dataclass
import math
from typing import Optional, Sequence

import torch


@dataclass(frozen=True)
class VESDE:
    """VE-SDE with GenPose's settings; times live in [eps, 1]."""

    sigma_min: float = 0.01
    sigma_max: float = 50.0
    eps: float = 1e-5

    @property
    def log_ratio(self) -> float:
        """Return ln(sigma_max / sigma_min)."""
        return math.log(self.sigma_max / self.sigma_min)

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        """Return the noise level at time t (the marginal std of x(t) given x(0))."""
        return self.sigma_min * torch.exp(t * self.log_ratio)

    def time_of_sigma(self, sigma: torch.Tensor) -> torch.Tensor:
        """Return the time whose noise level is sigma."""
        return torch.log(sigma / self.sigma_min) / self.log_ratio

    def g2(self, t: torch.Tensor) -> torch.Tensor:
        """Return the squared diffusion coefficient g(t)^2."""
        return 2.0 * self.log_ratio * self.sigma(t) ** 2

    def perturb(self, x0: torch.Tensor, t: torch.Tensor,
                generator: Optional[torch.Generator] = None):
        """Draw x(t) = x0 + sigma(t) z; returns (x_t, z, sigma) with sigma shaped [B, 1]."""
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        sigma = self.sigma(t)[:, None]
        return x0 + sigma * noise, noise, sigma

    def prior_sample(self, shape: Sequence[int], t0: torch.Tensor,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Sample N(0, sigma(t0)^2 I) for per-row start times t0 of shape [B]."""
        noise = torch.randn(tuple(shape), generator=generator, device=t0.device, dtype=t0.dtype)
        return noise * self.sigma(t0)[:, None]
