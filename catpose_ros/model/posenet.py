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

"""The whole network: one PointNet++ feature per object, shared by two heads.

The regression head supervises the encoder directly (Lee & Kim's joint learning); the
score net is the diffusion head that the sampler integrates at inference.
"""

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn

from catpose_ros.categories import category_names
from catpose_ros.config_dicts import strict_fields
from catpose_ros.model.heads import POSE_DIM, RegressionHead, ScoreNet
from catpose_ros.model.pointnet2 import (LIGHT_MLPS, LIGHT_NPOINTS, LIGHT_NSAMPLES,
                                         LIGHT_RADII, PointNet2Encoder)
from catpose_ros.model.sde import VESDE


@dataclass(frozen=True)
class ModelConfig:
    """Every size of the network and its SDE; stored inside each checkpoint."""

    num_points: int = 1024
    categories: Tuple[str, ...] = field(default_factory=category_names)
    sa_npoints: Tuple[Optional[int], ...] = LIGHT_NPOINTS
    sa_radii: Tuple[Tuple[Optional[float], ...], ...] = LIGHT_RADII
    sa_nsamples: Tuple[Tuple[Optional[int], ...], ...] = LIGHT_NSAMPLES
    sa_mlps: Tuple[Tuple[Tuple[int, ...], ...], ...] = LIGHT_MLPS
    regression_hidden: int = 256
    time_embed_dim: int = 128
    fourier_scale: float = 30.0
    pose_hidden: int = 256
    head_hidden: int = 256
    sigma_min: float = 0.01
    sigma_max: float = 50.0
    sde_eps: float = 1e-5

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict of lists and numbers (safe for `torch.load(weights_only=True)`)."""
        return {key: _to_lists(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> 'ModelConfig':
        """Rebuild from `to_dict`'s output; unknown keys are an error, missing ones default."""
        values = strict_fields(cls, values, 'model config keys')
        return cls(**{key: _to_tuples(value) for key, value in values.items()})

    @classmethod
    def from_file(cls, path: str) -> 'ModelConfig':
        """Read the fields to change from a YAML or JSON mapping; the rest keep defaults."""
        import yaml

        with open(path, encoding='utf-8') as stream:
            values = yaml.safe_load(stream) or {}
        if not isinstance(values, dict):
            raise ValueError('%s must hold a mapping of ModelConfig fields' % path)
        return cls.from_dict(values)

    def sde(self) -> VESDE:
        """Return the VE-SDE these settings describe."""
        return VESDE(self.sigma_min, self.sigma_max, self.sde_eps)


def _to_lists(value: Any) -> Any:
    """Turn nested tuples into nested lists."""
    if isinstance(value, (tuple, list)):
        return [_to_lists(v) for v in value]
    return value


def _to_tuples(value: Any) -> Any:
    """Turn nested lists into nested tuples (the config is frozen and hashable)."""
    if isinstance(value, (tuple, list)):
        return tuple(_to_tuples(v) for v in value)
    return value


class CatPoseNet(nn.Module):
    """PointNet++ encoder + regression head + score net, with the VE-SDE they assume."""

    def __init__(self, config: Optional[ModelConfig] = None):
        super().__init__()
        self.config = config or ModelConfig()
        cfg = self.config
        self.encoder = PointNet2Encoder(cfg.sa_npoints, cfg.sa_radii, cfg.sa_nsamples,
                                        cfg.sa_mlps)
        self.regression_head = RegressionHead(self.encoder.feature_dim, cfg.regression_hidden,
                                              POSE_DIM)
        self.score_net = ScoreNet(self.encoder.feature_dim, POSE_DIM, cfg.time_embed_dim,
                                  cfg.pose_hidden, cfg.head_hidden, cfg.fourier_scale)
        self.sde = cfg.sde()

    @property
    def feature_dim(self) -> int:
        """Size of the per-object feature."""
        return self.encoder.feature_dim

    def encode(self, points: torch.Tensor) -> torch.Tensor:
        """Raw camera-frame points (B, N, 3) -> features (B, F); run once per object."""
        return self.encoder(points)

    def regress(self, features: torch.Tensor) -> torch.Tensor:
        """Direct pose vector (B, 9), translation relative to the points' centroid."""
        return self.regression_head(features)

    def score(self, x: torch.Tensor, t: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Score (B, 9) of noisy pose vectors x (B, 9) at times t (B,) given features."""
        return self.score_net(x, t, features, self.sde.sigma(t))

    def count_parameters(self) -> Dict[str, int]:
        """Trainable parameters per part and in total (the fixed Fourier W is a buffer)."""
        parts = {'encoder': self.encoder, 'score_net': self.score_net,
                 'regression_head': self.regression_head}
        counts = {name: sum(p.numel() for p in part.parameters() if p.requires_grad)
                  for name, part in parts.items()}
        counts['total'] = sum(counts.values())
        return counts
