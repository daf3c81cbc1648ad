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

"""The two heads on the shared point-cloud feature.

`RegressionHead` is Lee & Kim's direct pose regressor (6D rotation + centroid-relative
translation), trained jointly with the diffusion head and unused at inference.
`ScoreNet` is GenPose's `PoseScoreNet` ('Rx_Ry_and_T'): it predicts -noise and returns
the score -noise / sigma.
"""

import math

import torch
from torch import nn

POSE_DIM = 9


class RegressionHead(nn.Module):
    """Two-layer MLP: feature (B, F) -> pose vector (B, 9) = [R[:, 0], R[:, 1], t - c]."""

    def __init__(self, feature_dim: int = 1024, hidden: int = 256, pose_dim: int = POSE_DIM):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, pose_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Regress the pose vector from the encoder feature."""
        return self.mlp(features)


class GaussianFourierEmbedding(nn.Module):
    """[sin 2 pi t W, cos 2 pi t W] with a fixed random W ~ N(0, scale^2).

    W is a persistent buffer, not a parameter: it is never trained, yet a checkpoint must
    carry it because it is random.
    """

    def __init__(self, embed_dim: int = 128, scale: float = 30.0):
        super().__init__()
        self.register_buffer('weight', torch.randn(embed_dim // 2) * scale)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Embed times (B,) -> (B, embed_dim)."""
        angles = 2.0 * math.pi * t[:, None] * self.weight[None, :]
        return torch.cat((angles.sin(), angles.cos()), -1)


def _zero_init(layer: nn.Linear) -> nn.Linear:
    """Zero a layer so the score starts at 0 (GenPose's zero_module)."""
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _tail(in_dim: int, hidden: int) -> nn.Sequential:
    """One output head: Linear + ReLU, then a zero-initialised Linear to 3 numbers."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True),
                         _zero_init(nn.Linear(hidden, 3)))


class ScoreNet(nn.Module):
    """Conditional score s(x, t | O) of the 9-d pose, GenPose's fusion-by-concatenation."""

    def __init__(self, feature_dim: int = 1024, pose_dim: int = POSE_DIM,
                 time_dim: int = 128, pose_hidden: int = 256, head_hidden: int = 256,
                 fourier_scale: float = 30.0):
        super().__init__()
        if pose_dim != POSE_DIM:
            raise ValueError('ScoreNet predicts rot-x, rot-y and t: pose_dim must be 9')
        self.time_encoder = nn.Sequential(GaussianFourierEmbedding(time_dim, fourier_scale),
                                          nn.Linear(time_dim, time_dim), nn.ReLU(inplace=True))
        self.pose_encoder = nn.Sequential(
            nn.Linear(pose_dim, pose_hidden), nn.ReLU(inplace=True),
            nn.Linear(pose_hidden, pose_hidden), nn.ReLU(inplace=True))
        fused = feature_dim + time_dim + pose_hidden
        self.rot_x_head = _tail(fused, head_hidden)
        self.rot_y_head = _tail(fused, head_hidden)
        self.translation_head = _tail(fused, head_hidden)

    def forward(self, x: torch.Tensor, t: torch.Tensor, features: torch.Tensor,
                sigma: torch.Tensor) -> torch.Tensor:
        """Score (B, 9) of noisy poses x (B, 9) at times t (B,) with noise levels sigma (B,)."""
        fused = torch.cat((features, self.time_encoder(t), self.pose_encoder(x)), -1)
        noise = torch.cat((self.rot_x_head(fused), self.rot_y_head(fused),
                           self.translation_head(fused)), -1)
        return noise / (sigma[:, None] + 1e-7)
