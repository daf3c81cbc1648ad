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

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Optional

from catpose_ros.config_dicts import known_fields
from catpose_ros.data.dataset import parse_category_repeats
from catpose_ros.perception.maskrcnn import SLIM_ARCHITECTURE

STAGES = ('pretrain', 'joint', 'scratch', 'score')
PRECISIONS = ('auto', 'bf16', 'fp32')
LR_SCHEDULES = ('epoch_decay', 'cosine')


@dataclass
class TrainConfig:
    """Everything that defines a training run."""

    stage: str = field(default='pretrain', metadata={
        'help': 'pretrain | joint | scratch | score (see catpose_ros/training/config.py)'})
    train_cache: str = field(default='', metadata={
        'help': 'training point cache(s), comma-separated (catpose data cache or synth-cache)'})
    val_cache: str = field(default='', metadata={
        'help': 'validation point cache(s), comma-separated; empty: no validation'})
    out_dir: str = field(default='runs/default', metadata={
        'help': 'run directory; holds last.pt, which resumes the run'})
    init_from: str = field(default='', metadata={
        'help': 'checkpoint whose weights start this stage (required by score)'})
    model_config: str = field(default='', metadata={
        'help': 'YAML or JSON file of ModelConfig fields (model/posenet.py: num_points, '
                'sa_mlps, sigma_max, ...) for a new network; empty: the default network. A '
                'network from init_from or a resumed run keeps its own'})
    epochs: int = field(default=100, metadata={'help': 'passes over the training objects'})
    max_steps: int = field(default=0, metadata={
        'help': 'stop after this many optimiser steps (0: no limit besides epochs)'})
    batch_size: int = field(
        default=192, metadata={'help': 'objects per step (per process when distributed)'})
    lr: float = field(default=1e-3, metadata={'help': 'peak learning rate (Adam)'})
    min_lr: float = field(default=1e-4, metadata={'help': 'learning-rate floor'})
    lr_decay_per_epoch: float = field(
        default=0.98, metadata={'help': 'epoch_decay schedule: factor per epoch'})
    warmup_steps: int = field(default=100, metadata={'help': 'linear warm-up steps'})
    grad_clip: float = field(default=1.0, metadata={'help': 'gradient-norm clip'})
    ema_decay: float = field(
        default=0.999, metadata={'help': 'EMA decay of the weights that inference uses'})
    num_draws: int = field(default=20, metadata={
        'help': 'noise draws per object in the diffusion loss (share one encoder pass)'})
    augment: bool = field(default=True, metadata={
        'help': "GenPose's augmentations (rotation/translation jitter, box scaling, mask noise)"})
    num_workers: int = field(default=0, metadata={'help': 'DataLoader worker processes'})
    device: str = field(default='auto', metadata={'help': 'auto, cpu or cuda[:N]'})
    seed: int = field(
        default=0, metadata={'help': 'seed of weights, data order, augmentation and noise'})
    log_every: int = field(default=20, metadata={'help': 'log the losses every N steps'})
    eval_every: int = field(default=500, metadata={'help': 'validate every N steps'})
    save_every: int = field(default=200, metadata={'help': 'write last.pt every N steps'})
    val_objects: int = field(
        default=256, metadata={'help': 'validation objects scored per evaluation'})
    val_steps: int = field(default=10, metadata={'help': 'DDIM steps of the validation sampler'})
    precision: str = field(default='auto', metadata={
        'help': 'encoder precision: auto (bf16 where the hardware has it), bf16 or fp32'})
    translation_scale: float = field(default=0.1, metadata={
        'help': 'metres of translation error weighted like 1 rad of rotation error'})
    feature_views: int = field(default=2, metadata={
        'help': 'score stage: augmented views per object in the feature bank'})
    feature_objects: int = field(
        default=0, metadata={'help': 'score stage: objects in the feature bank (0: all)'})
    category_repeats: str = field(default='', metadata={
        'help': 'ours: objects of these categories appear this many times per epoch, each '
                'copy freshly augmented, e.g. camera=2,mug=2 (empty: every object once)'})
    lr_schedule: str = field(default='epoch_decay', metadata={
        'help': 'epoch_decay (GenPose) or cosine (to the end of a budgeted run)'})
    threads: int = field(default=0, metadata={'help': 'torch CPU threads (0: torch default)'})

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
        parse_category_repeats(self.category_repeats)  # fails early on a bad spec
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
        merged = known_fields(cls, values)
        merged.update(known_fields(cls, {k: v for k, v in overrides.items() if v is not None}))
        return cls(**merged)


MODALITIES = {'rgb': 3, 'rgbd': 4}


@dataclass
class SegmentationTrainConfig:
    """Everything that defines a segmentation training run (saved in every checkpoint)."""

    train_samples: str = field(default='', metadata={
        'help': 'samples file of training frames (catpose data seg-samples)'})
    val_samples: str = field(default='', metadata={
        'help': 'samples file of validation frames; empty: no validation'})
    out_dir: str = field(default='runs/segmentation', metadata={
        'help': 'run directory; holds last.pt, which resumes the run, and best.pt'})
    modality: str = field(default='rgbd', metadata={
        'help': 'rgb, or rgbd (depth as a fourth channel)'})
    architecture: str = field(default=SLIM_ARCHITECTURE, metadata={
        'help': 'torchvision Mask R-CNN builder, or maskrcnn_resnet18_fpn_slim'})
    min_size: int = field(default=240, metadata={
        'help': 'short image side the detector resizes to'})
    max_size: int = field(default=320, metadata={
        'help': 'longest image side the detector resizes to'})
    steps: int = field(default=3000, metadata={
        'help': 'optimiser steps in all (may be raised on resume: the cosine schedule stretches)'})
    batch_size: int = field(default=2, metadata={'help': 'frames per step'})
    lr: float = field(default=1e-3, metadata={'help': 'peak learning rate (AdamW)'})
    weight_decay: float = field(default=1e-4, metadata={'help': 'AdamW weight decay'})
    warmup_steps: int = field(default=100, metadata={'help': 'linear warm-up steps'})
    grad_clip: float = field(default=10.0, metadata={'help': 'gradient-norm clip'})
    seed: int = field(default=0, metadata={'help': 'seed of weights, data order and augmentation'})
    threads: int = field(default=1, metadata={'help': 'torch CPU threads'})
    log_every: int = field(default=20, metadata={'help': 'log the losses every N steps'})
    save_every: int = field(default=50, metadata={'help': 'write last.pt every N steps'})
    eval_every: int = field(default=250, metadata={
        'help': 'mask/box AP on the validation frames every N steps (best.pt keeps the best)'})
    val_frames: int = field(default=40, metadata={
        'help': 'validation frames per evaluation (0: all)'})

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ValueError('modality must be one of %s, not %r'
                             % (tuple(MODALITIES), self.modality))
        for name in ('steps', 'batch_size', 'save_every', 'eval_every', 'log_every'):
            if getattr(self, name) < 1:
                raise ValueError('%s must be >= 1, got %r' % (name, getattr(self, name)))

    @property
    def in_channels(self) -> int:
        """Detector input channels: 3 for RGB, 4 for RGB-D."""
        return MODALITIES[self.modality]

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> 'SegmentationTrainConfig':
        """Build from a dict, ignoring keys that are not fields (e.g. argparse extras)."""
        return cls(**known_fields(cls, values))
