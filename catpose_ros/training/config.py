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

"""Training configuration: one dataclass, saved inside every checkpoint.

The stages:
- `pretrain`: encoder + regression head with the regression loss (geodesic + L2);
- `joint`: encoder + regression head + score network, loss = regression + diffusion,
  initialised from a pretrain checkpoint (without one it is the "joint without
  pre-training" ablation);
- `scratch`: encoder + score network with the diffusion loss only (GenPose's baseline);
- `score` (ours, not the paper's): the encoder of `init_from` is frozen, each training object
  is encoded once per augmented view into a feature bank, and only the score network trains
  on it. The score network costs about 1 % of the encoder per sample, so this stage gives it
  orders of magnitude more noise draws than a CPU budget allows through the encoder.
Defaults follow GenPose (Adam 1e-3, 100 warm-up iterations, x0.98 per epoch down to 1e-4,
gradient clip 1, EMA 0.999, 20 noise draws per object, batch 192).
"""

from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Optional

STAGES = ('pretrain', 'joint', 'scratch', 'score')
PRECISIONS = ('auto', 'bf16', 'fp32')
LR_SCHEDULES = ('epoch_decay', 'cosine')


@dataclass
class TrainConfig:
    """Everything that defines a training run."""

    stage: str = 'pretrain'
    train_cache: str = ''
    val_cache: str = ''
    out_dir: str = 'runs/default'
    init_from: str = ''
    epochs: int = 100
    max_steps: int = 0
    batch_size: int = 192
    lr: float = 1e-3
    min_lr: float = 1e-4
    lr_decay_per_epoch: float = 0.98
    warmup_steps: int = 100
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    num_draws: int = 20
    augment: bool = True
    num_workers: int = 0
    device: str = 'auto'
    seed: int = 0
    log_every: int = 20
    eval_every: int = 500
    save_every: int = 200
    val_objects: int = 256
    val_steps: int = 10
    precision: str = 'auto'
    translation_scale: float = 0.1
    feature_views: int = 2
    feature_objects: int = 0
    lr_schedule: str = 'epoch_decay'
    threads: int = 0

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError('stage must be one of %s, not %r' % (STAGES, self.stage))
        if self.stage == 'score' and not self.init_from:
            raise ValueError('the score stage freezes the encoder of a trained checkpoint: '
                             'set init_from')
        if self.precision not in PRECISIONS:
            raise ValueError('precision must be one of %s, not %r'
                             % (PRECISIONS, self.precision))
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError('lr_schedule must be one of %s, not %r'
                             % (LR_SCHEDULES, self.lr_schedule))
        if self.feature_views < 1 or self.batch_size < 1 or self.translation_scale <= 0:
            raise ValueError('feature_views and batch_size must be >= 1 and '
                             'translation_scale > 0')

    @property
    def uses_regression(self) -> bool:
        """Return whether the regression loss is part of this stage."""
        return self.stage in ('pretrain', 'joint')

    @property
    def uses_diffusion(self) -> bool:
        """Return whether the denoising score-matching loss is part of this stage."""
        return self.stage in ('joint', 'scratch', 'score')

    @property
    def trains_encoder(self) -> bool:
        """Return whether the encoder's weights change in this stage."""
        return self.stage != 'score'

    def to_dict(self) -> Dict[str, Any]:
        """Return a plain dict, safe for torch.load(weights_only=True)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Dict[str, Any], **overrides: Optional[Any]) -> 'TrainConfig':
        """Build from a dict, ignoring unknown keys and None overrides."""
        known = {f.name for f in fields(cls)}
        merged = {k: v for k, v in values.items() if k in known}
        merged.update({k: v for k, v in overrides.items() if v is not None and k in known})
        return cls(**merged)
