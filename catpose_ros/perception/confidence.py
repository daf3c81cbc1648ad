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

"""Pose confidence: how well independent samples from the same features agree with a pose.

One diffusion sample says nothing about its own reliability. Where the learned pose
distribution is narrow, a second cold sample from the same encoder features lands next to
the first; where it is wide (an ambiguous view of a camera, a mug whose handle decides its
turn, a false detection), it lands elsewhere. The agreement costs one more row of the
sampler's batch per object (the encoder, which dominates a frame, runs once) and ranks
estimates by how likely they are to be right: on the validation split the estimates that
agree best are the accurate ones far more often than a random order would have them.

confidence = 0.5 ** (mean disagreement in degrees / HALF_CONFIDENCE_DEG): 1 for samples that
coincide, one half at 10 degrees. Views that look the same at every turn about the y axis
compare only their axes, as the NOCS error does (the estimator marks bodies of revolution
and mugs whose handle does not show); every other view compares whole rotations.
"""

import torch

from catpose_ros.geometry.rotation import symmetry_aware_angle

# Mean disagreement between the pose and its check samples that halves the confidence.
HALF_CONFIDENCE_DEG = 10.0


def agreement_confidence(rotations: torch.Tensor, checks: torch.Tensor,
                         symmetric: torch.Tensor) -> torch.Tensor:
    """Return confidences [B] in (0, 1] of rotations [B, 3, 3] given checks [B, M, 3, 3].

    symmetric [B] (bool) marks views whose turn about y is not compared.
    """
    if checks.dim() != 4 or checks.shape[0] != rotations.shape[0] or checks.shape[1] == 0:
        raise ValueError('checks must be [B, M >= 1, 3, 3] for rotations [B, 3, 3], got %s '
                         'for %s' % (tuple(checks.shape), tuple(rotations.shape)))
    symmetric = torch.as_tensor(symmetric, dtype=torch.bool, device=rotations.device)
    angle = symmetry_aware_angle(rotations[:, None].expand_as(checks), checks,
                                 symmetric[:, None].expand(checks.shape[:2]))
    degrees = torch.rad2deg(angle).mean(-1)
    return torch.exp2(-degrees / HALF_CONFIDENCE_DEG)
