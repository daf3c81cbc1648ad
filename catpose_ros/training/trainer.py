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

"""The training loop for all three stages, resumable from its last checkpoint.

`out_dir/last.pt` is written every `save_every` steps and at the end of every epoch with the
EMA weights (what inference uses) plus the raw weights, optimiser, step counters and RNG
states, so a run cut short (e.g. a GPU lease ending) continues where it stopped.
"""

import logging
import math
from pathlib import Path
import time
from typing import Dict, Iterator, Optional

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from catpose_ros.data.augment import AugmentConfig
from catpose_ros.data.dataset import PosePointDataset
from catpose_ros.evaluation.metrics import pose_errors
from catpose_ros.geometry.rotation import matrix_to_rotation_6d, rotation_6d_to_matrix
from catpose_ros.model.checkpoint import load_checkpoint, save_checkpoint
from catpose_ros.model.device import resolve_device
from catpose_ros.model.losses import dsm_loss, regression_loss
from catpose_ros.model.pose_sampler import PoseSampler, SamplerConfig
from catpose_ros.model.posenet import CatPoseNet, ModelConfig
from catpose_ros.training.config import TrainConfig

LOG = logging.getLogger(__name__)


def pose_targets(batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Build the 9-d pose target with the translation relative to the points' centroid."""
    centroid = batch['points'].mean(dim=1)
    translation = batch['translation'] - centroid
    x0 = torch.cat((matrix_to_rotation_6d(batch['rotation']), translation), dim=-1)
    return {'x0': x0, 'translation_rel': translation, 'centroid': centroid}


def stage_loss(model: CatPoseNet, batch: Dict[str, torch.Tensor], config: TrainConfig
               ) -> Dict[str, torch.Tensor]:
    """Return the total loss of the configured stage and its parts."""
    targets = pose_targets(batch)
    features = model.encode(batch['points'])
    parts: Dict[str, torch.Tensor] = {}
    total = features.new_zeros(())
    if config.uses_regression:
        regression, regression_parts = regression_loss(
            model.regress(features), batch['rotation'], targets['translation_rel'],
            batch['symmetric'])
        parts.update({'reg_' + k: v for k, v in regression_parts.items()})
        parts['regression'] = regression
        total = total + regression
    if config.uses_diffusion:
        diffusion = dsm_loss(model.score, features, targets['x0'], model.sde,
                             num_draws=config.num_draws)
        parts['diffusion'] = diffusion
        total = total + diffusion
    parts['loss'] = total
    return parts


def learning_rate(config: TrainConfig, step: int, epoch: int) -> float:
    """Linear warm-up over warmup_steps, then x lr_decay_per_epoch down to min_lr."""
    warmup = min(1.0, (step + 1) / max(1, config.warmup_steps))
    decayed = max(config.lr * config.lr_decay_per_epoch ** epoch, config.min_lr)
    return decayed * warmup


def build_model(config: TrainConfig, model_config: ModelConfig,
                device: torch.device) -> CatPoseNet:
    """Create the network; the joint stage starts from the pretrained encoder and head."""
    if config.init_from:
        model, _, _ = load_checkpoint(config.init_from, map_location='cpu')
        LOG.info('initialised from %s', config.init_from)
    else:
        model = CatPoseNet(model_config)
    return model.to(device)


def trainable_parameters(model: CatPoseNet, config: TrainConfig):
    """Parameters the stage's losses reach (pretrain leaves the score network untouched)."""
    modules = [model.encoder]
    if config.uses_regression:
        modules.append(model.regression_head)
    if config.uses_diffusion:
        modules.append(model.score_net)
    return [p for m in modules for p in m.parameters()]


def cycle(loader: DataLoader) -> Iterator[Dict[str, torch.Tensor]]:
    """Yield batches forever; each pass over the loader is one epoch."""
    while True:
        yield from loader


class Trainer:
    """Owns model, EMA, optimiser and counters; `run()` trains to the configured end."""

    def __init__(self, config: TrainConfig, model_config: Optional[ModelConfig] = None):
        self.config = config
        self.out_dir = Path(config.out_dir)
        self.device = torch.device(resolve_device(config.device))
        torch.manual_seed(config.seed)
        self.model = build_model(config, model_config or ModelConfig(), self.device)
        self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay),
                                 use_buffers=True)
        self.optimizer = torch.optim.Adam(trainable_parameters(self.model, config), lr=config.lr)
        self.dataset = PosePointDataset(
            config.train_cache, num_points=self.model.config.num_points,
            augment=AugmentConfig() if config.augment else None, seed=config.seed)
        self.loader = DataLoader(
            self.dataset, batch_size=min(config.batch_size, len(self.dataset)), shuffle=True,
            drop_last=True, num_workers=config.num_workers,
            generator=torch.Generator().manual_seed(config.seed),
            pin_memory=self.device.type == 'cuda')
        self.step = 0
        self.epoch = 0
        self.history: list = []
        self._resume_if_possible()

    @property
    def steps_per_epoch(self) -> int:
        """Return the number of optimiser steps in one pass over the data."""
        return len(self.loader)

    @property
    def total_steps(self) -> int:
        """Return the step at which the run ends."""
        by_epochs = self.config.epochs * self.steps_per_epoch
        return min(by_epochs, self.config.max_steps) if self.config.max_steps else by_epochs

    def _resume_if_possible(self) -> None:
        last = self.out_dir / 'last.pt'
        if not last.exists():
            return
        _, _, meta = load_checkpoint(last, map_location='cpu')
        state = meta['extra']
        if state.get('stage') != self.config.stage:
            raise ValueError('%s holds stage %r, not %r: use another out_dir'
                             % (last, state.get('stage'), self.config.stage))
        self.model.load_state_dict(state['raw_model'])
        self.ema.load_state_dict(state['ema'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.step, self.epoch = int(state['step']), int(state['epoch'])
        self.history = list(state.get('history', []))
        torch.set_rng_state(state['torch_rng'])
        LOG.info('resumed %s at step %d (epoch %d)', last, self.step, self.epoch)

    def save(self, name: str = 'last.pt') -> Path:
        """Write a checkpoint whose weights are the EMA weights, with resume state inside."""
        extra = {
            'stage': self.config.stage, 'step': self.step, 'epoch': self.epoch,
            'train_config': self.config.to_dict(), 'history': self.history,
            'raw_model': self.model.state_dict(), 'ema': self.ema.state_dict(),
            'optimizer': self.optimizer.state_dict(), 'torch_rng': torch.get_rng_state(),
        }
        path = self.out_dir / name
        save_checkpoint(path, self.ema.module, self.model.config, extra=extra)
        return path

    def train_step(self, batch: Dict[str, torch.Tensor]) -> Dict[str, float]:
        """One optimiser step; returns the loss parts as floats."""
        self.model.train()
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        for group in self.optimizer.param_groups:
            group['lr'] = learning_rate(self.config, self.step, self.epoch)
        parts = stage_loss(self.model, batch, self.config)
        self.optimizer.zero_grad(set_to_none=True)
        parts['loss'].backward()
        torch.nn.utils.clip_grad_norm_(trainable_parameters(self.model, self.config),
                                       self.config.grad_clip)
        self.optimizer.step()
        self.ema.update_parameters(self.model)
        self.step += 1
        return {k: float(v.detach()) for k, v in parts.items()}

    def run(self) -> Path:
        """Train until total_steps, logging, evaluating and checkpointing on the way."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.dataset.set_epoch(self.epoch)
        batches = cycle(self.loader)
        started = time.perf_counter()
        while self.step < self.total_steps:
            parts = self.train_step(next(batches))
            if self.step % self.steps_per_epoch == 0:
                self.epoch += 1
                self.dataset.set_epoch(self.epoch)
            if self.step % self.config.log_every == 0 or self.step == self.total_steps:
                rate = self.step / max(1e-9, time.perf_counter() - started)
                LOG.info('step %d/%d epoch %d lr %.2e %s (%.2f steps/s)', self.step,
                         self.total_steps, self.epoch, self.optimizer.param_groups[0]['lr'],
                         ' '.join('%s %.4f' % kv for kv in sorted(parts.items())), rate)
                self.history.append({'step': self.step, **parts})
            if self.config.val_cache and self.step % self.config.eval_every == 0:
                self.history.append({'step': self.step, **self.evaluate()})
            if self.step % self.config.save_every == 0:
                self.save()
        if self.config.val_cache and self.step % self.config.eval_every:
            self.history.append({'step': self.step, **self.evaluate()})
        return self.save()

    @torch.inference_mode()
    def evaluate(self) -> Dict[str, float]:
        """Score the EMA model on the validation cache: regression head and guided sampler."""
        model = self.ema.module.eval()
        dataset = PosePointDataset(self.config.val_cache, num_points=model.config.num_points,
                                   augment=None, seed=self.config.seed)
        count = min(len(dataset), self.config.val_objects)
        batch = next(iter(DataLoader(dataset, batch_size=count, shuffle=False)))
        batch = {k: v.to(self.device) for k, v in batch.items()}
        targets = pose_targets(batch)
        features = model.encode(batch['points'])
        results: Dict[str, float] = {}
        predictions = {'reg': model.regress(features)} if self.config.uses_regression else {}
        if self.config.uses_diffusion:
            sampler = PoseSampler(model.sde, SamplerConfig(steps=self.config.val_steps))
            generator = torch.Generator(self.device).manual_seed(self.config.seed)
            predictions['diff'] = sampler.sample(model.score, features,
                                                 generator=generator).poses
        for name, pose9 in predictions.items():
            errors = pose_errors(
                rotation_6d_to_matrix(pose9[:, :6]).cpu().numpy(),
                (pose9[:, 6:] + targets['centroid']).cpu().numpy(),
                batch['rotation'].cpu().numpy(), batch['translation'].cpu().numpy(),
                batch['symmetric'].cpu().numpy())
            for key, value in errors.summary().items():
                if key != 'count':
                    results['val_%s_%s' % (name, key)] = value
        LOG.info('eval step %d: %s', self.step, ' '.join(
            '%s %.3f' % kv for kv in sorted(results.items()) if not math.isnan(kv[1])))
        return results


def export_for_inference(checkpoint: Path, out: Path) -> Path:
    """Strip a training checkpoint to what inference needs: EMA weights, config, provenance.

    The result is a quarter of the size (no raw weights, EMA copy or optimiser state) and can
    still seed further training through TrainConfig.init_from.
    """
    model, config, meta = load_checkpoint(checkpoint, map_location='cpu')
    state = meta['extra']
    provenance = {key: state[key] for key in ('stage', 'step', 'epoch', 'train_config')
                  if key in state}
    provenance['history'] = [entry for entry in state.get('history', [])
                             if any(key.startswith('val_') for key in entry)]
    return save_checkpoint(out, model, config, extra=provenance)


def train(config: TrainConfig, model_config: Optional[ModelConfig] = None) -> Path:
    """Run (or resume) one stage and return the path of its final checkpoint."""
    return Trainer(config, model_config).run()
