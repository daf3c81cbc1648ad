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

"""Training objectives: denoising score matching and the geodesic + L2 regression loss.

The diffusion head learns by DSM (paper eq. 6), the regression head by L_R = L_rot + L_t
(paper eqs. 3-5).

`dsm_loss` follows GenPose: lambda(t) = sigma(t)^2, so the loss is the noise-prediction MSE
||sigma s + z||^2 summed over the pose dimensions; each object gets several noise draws that
share its (expensive) encoder feature.
"""

from typing import Callable, Dict, Optional, Tuple

import torch

from catpose_ros.geometry.rotation import geodesic_angle, rotation_6d_to_matrix, y_axis_angle
from catpose_ros.model.sde import VESDE

ScoreModel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def dsm_loss(score_model: ScoreModel, features: torch.Tensor, x0: torch.Tensor, sde: VESDE,
             num_draws: int = 20, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Return the sigma^2-weighted denoising score-matching loss (a scalar).

    features [B, F] and clean poses x0 [B, D] are repeated `num_draws` times (repeat_interleave),
    t ~ U(eps, 1) and z ~ N(0, I) are drawn per copy, and score_model(x_t, t, features) is
    asked for the score of the perturbed copy. A generator, if given, must live on x0's device.
    """
    if features.dim() != 2 or x0.dim() != 2 or features.shape[0] != x0.shape[0]:
        raise ValueError('features [B, F] and x0 [B, D] must share B; got %s and %s'
                         % (tuple(features.shape), tuple(x0.shape)))
    if num_draws < 1:
        raise ValueError('num_draws must be >= 1, got %r' % (num_draws,))
    features = features.repeat_interleave(num_draws, dim=0)
    x0 = x0.repeat_interleave(num_draws, dim=0)
    t = torch.rand(x0.shape[0], generator=generator, device=x0.device, dtype=x0.dtype)
    t = sde.eps + (1.0 - sde.eps) * t
    x_t, noise, sigma = sde.perturb(x0, t, generator=generator)
    score = score_model(x_t, t, features)
    return (sigma * score + noise).pow(2).sum(-1).mean()


TRANSLATION_SCALE = 0.1  # metres of translation error that weigh as much as 1 rad


def regression_loss(pred9: torch.Tensor, rotation_gt: torch.Tensor,
                    translation_gt_rel: torch.Tensor,
                    symmetric: Optional[torch.Tensor] = None,
                    translation_scale: float = TRANSLATION_SCALE
                    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Return (L_rot + L_t, {'rotation': L_rot, 'translation': L_t}) (paper eq. 5).

    pred9 [B, 9] = [6D rotation, translation relative to the point centroid]; the 6D part is
    decoded by Gram-Schmidt. L_rot is the mean geodesic angle arccos((tr(R^T R_gt) - 1) / 2)
    in radians, computed in atan2 form (same value, finite gradients near 0 and pi). Where
    `symmetric` [B] (bool) is true, the angle between the y axes is used instead: that mirrors
    the NOCS rotation metric for y-symmetric objects and is our choice, the paper does not say.
    L_t is the L2 (Euclidean) translation error divided by `translation_scale`, averaged over
    the batch: the squared error in metres (about 4e-4 for 2 cm) gave translation almost no
    gradient beside a rotation loss in radians, so with the default 0.1 m a 1 cm error weighs
    as much as a 5.7 deg one (torch's norm has a zero, finite gradient at a zero error). The
    scale is our choice; the paper does not give its loss weights.
    """
    if pred9.dim() != 2 or pred9.shape[-1] != 9:
        raise ValueError('pred9 must be [B, 9], got %s' % (tuple(pred9.shape),))
    rotation = rotation_6d_to_matrix(pred9[:, :6])
    angle = geodesic_angle(rotation, rotation_gt)
    if symmetric is not None:
        symmetric = torch.as_tensor(symmetric, dtype=torch.bool, device=pred9.device)
        angle = torch.where(symmetric, y_axis_angle(rotation, rotation_gt), angle)
    rotation_loss = angle.mean()
    error = torch.linalg.vector_norm(pred9[:, 6:] - translation_gt_rel, dim=-1)
    translation_loss = error.mean() / translation_scale
    parts = {'rotation': rotation_loss, 'translation': translation_loss}
    return rotation_loss + translation_loss, parts
