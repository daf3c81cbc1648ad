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
from typing import Dict, Iterator, List, Optional

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Sampler

from catpose_ros.data.augment import AugmentConfig
from catpose_ros.data.dataset import CategoryRepeats, parse_category_repeats, PosePointDataset
from catpose_ros.evaluation.metrics import pose_errors
from catpose_ros.evaluation.nocs_map import MAP_KEYS, score_poses
from catpose_ros.geometry.rotation import matrix_to_rotation_6d, rotation_6d_to_matrix
from catpose_ros.model.checkpoint import load_checkpoint, save_checkpoint
from catpose_ros.model.device import autocast, resolve_device
from catpose_ros.model.losses import dsm_loss, regression_loss
from catpose_ros.model.pose_sampler import cold_centres, PoseSampler, SamplerConfig
from catpose_ros.model.posenet import CatPoseNet, ModelConfig
from catpose_ros.training.config import TrainConfig
from catpose_ros.training.distributed import (distributed_device, gather,
                                              init_distributed)

LOG = logging.getLogger(__name__)


def pose_targets(batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Build the 9-d pose target with the translation relative to the points' centroid."""
    centroid = batch['points'].mean(dim=1)
    translation = batch['translation'] - centroid
    x0 = torch.cat((matrix_to_rotation_6d(batch['rotation']), translation), dim=-1)
    return {'x0': x0, 'translation_rel': translation, 'centroid': centroid}


def cache_paths(spec: str) -> List[str]:
    """Split a comma-separated list of point-cache files (one cache is a list of one)."""
    paths = [part.strip() for part in spec.split(',') if part.strip()]
    if not paths:
        raise ValueError('no point cache given')
    return paths


def use_bf16(config: TrainConfig, device: torch.device) -> bool:
    """Whether the encoder runs under bfloat16 autocast.

    'auto' picks it on CUDA and on CPUs with native bfloat16 (AMX / AVX-512 BF16), where it
    trains the encoder about 1.5x faster on 2 cores; the heads and losses stay in float32.
    """
    if config.precision != 'auto':
        return config.precision == 'bf16'
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    return device.type == 'cpu' and bool(torch.backends.mkldnn.is_available()) and bool(
        torch.ops.mkldnn._is_mkldnn_bf16_supported())


def encode_batch(model: CatPoseNet, batch: Dict[str, torch.Tensor], bf16: bool = False):
    """Return (features, targets) of a batch of points, or of a feature-bank batch as given."""
    if 'features' in batch:
        return batch['features'], {'x0': batch['x0']}
    targets = pose_targets(batch)
    with autocast('bf16' if bf16 else 'fp32', batch['points'].device.type):
        features = model.encode(batch['points'])
    return features.float(), targets


def heads_loss(model: CatPoseNet, features: torch.Tensor, targets: Dict[str, torch.Tensor],
               batch: Dict[str, torch.Tensor], config: TrainConfig) -> Dict[str, torch.Tensor]:
    """Return the stage's head losses on encoded features: their total and parts."""
    parts: Dict[str, torch.Tensor] = {}
    total = features.new_zeros(())
    if config.uses_regression:
        regression, regression_parts = regression_loss(
            model.regress(features), batch['rotation'], targets['translation_rel'],
            batch['symmetric'], translation_scale=config.translation_scale)
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


def stage_loss(model: CatPoseNet, batch: Dict[str, torch.Tensor], config: TrainConfig,
               bf16: bool = False) -> Dict[str, torch.Tensor]:
    """Return the total loss of the configured stage and its parts.

    A batch holds either points (the encoder runs) or precomputed features and x0 (the
    score stage's feature bank).
    """
    features, targets = encode_batch(model, batch, bf16)
    return heads_loss(model, features, targets, batch, config)


class StageLoss(nn.Module):
    """The stage's loss as a module, so DistributedDataParallel can wrap one forward."""

    def __init__(self, model: CatPoseNet, config: TrainConfig, bf16: bool):
        super().__init__()
        self.model, self.config, self.bf16 = model, config, bf16

    def forward(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Return the loss parts of one batch."""
        return stage_loss(self.model, batch, self.config, self.bf16)


def learning_rate(config: TrainConfig, step: int, epoch: int, total_steps: int = 0) -> float:
    """Linear warm-up over warmup_steps, then the configured decay down to min_lr.

    'epoch_decay' (GenPose): x lr_decay_per_epoch each epoch. 'cosine': half a cosine from
    lr at the end of warm-up to min_lr at total_steps, for a run planned to a fixed budget.
    """
    warmup = min(1.0, (step + 1) / max(1, config.warmup_steps))
    if config.lr_schedule == 'cosine' and total_steps > config.warmup_steps:
        progress = min(1.0, max(0.0, (step - config.warmup_steps)
                                / (total_steps - config.warmup_steps)))
        decayed = config.min_lr + 0.5 * (config.lr - config.min_lr) * (
            1.0 + math.cos(math.pi * progress))
    else:
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
    modules = [model.encoder] if config.trains_encoder else []
    if config.uses_regression:
        modules.append(model.regression_head)
    if config.uses_diffusion:
        modules.append(model.score_net)
    return [p for m in modules for p in m.parameters()]


class EpochBatchSampler(Sampler):
    """Batches of a fixed permutation per epoch, seeded by (seed, epoch), from any position.

    The order is a function of the seed and the epoch alone, so a run resumed at step s
    continues with exactly the batches an uninterrupted run would have drawn. With
    `world_size` > 1 each rank takes every world_size-th batch of the same permutation.
    """

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0,
                 world_size: int = 1):
        if size < batch_size * world_size:
            raise ValueError('%d samples cannot fill one batch of %d on %d rank(s)'
                             % (size, batch_size, world_size))
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start = 0, 0

    def __len__(self) -> int:
        return self.size // (self.batch_size * self.world_size)

    def set_position(self, epoch: int, start: int) -> None:
        """Make the next iteration cover `epoch` from its batch number `start`."""
        self.epoch, self.start = int(epoch), int(start)

    def __iter__(self) -> Iterator[List[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)
        stride = self.batch_size * self.world_size
        for index in range(self.start, len(self)):
            first = index * stride + self.rank * self.batch_size
            yield order[first:first + self.batch_size].tolist()


class FeatureBank:
    """The score stage's data: frozen-encoder features and pose targets, one row per view."""

    def __init__(self, features: torch.Tensor, x0: torch.Tensor):
        self.features, self.x0 = features, x0

    def __len__(self) -> int:
        return self.features.shape[0]

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        return {'features': self.features[index], 'x0': self.x0[index]}

    def set_epoch(self, epoch: int) -> None:
        """Keep the dataset interface; the bank is fixed."""


@torch.inference_mode()
def build_feature_bank(model: CatPoseNet, dataset, views: int,
                       batch_size: int, device: torch.device) -> FeatureBank:
    """Encode every object of `dataset` once per augmented view with the frozen encoder.

    The encoder runs in eval mode and float32, as at inference, so the score network
    learns on the very features it will be given.
    """
    from tqdm import tqdm

    model.eval()
    features, targets = [], []
    with tqdm(total=views * len(dataset), desc='feature bank', unit='obj', disable=None) as bar:
        for view in range(views):
            getattr(dataset, 'dataset', dataset).set_epoch(view)
            for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
                batch = {k: v.to(device) for k, v in batch.items()}
                features.append(model.encode(batch['points']).float().cpu())
                targets.append(pose_targets(batch)['x0'].float().cpu())
                bar.update(len(batch['points']))
    return FeatureBank(torch.cat(features), torch.cat(targets))


class Trainer:
    """Owns model, EMA, optimiser and counters; `run()` trains to the configured end."""

    def __init__(self, config: TrainConfig, model_config: Optional[ModelConfig] = None):
        self.config = config
        self.out_dir = Path(config.out_dir)
        device = torch.device(resolve_device(config.device))
        self.dist = init_distributed(device)
        self.device = distributed_device(device, self.dist)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.model = build_model(config, model_config or ModelConfig(), self.device)
        trained = set(map(id, trainable_parameters(self.model, config)))
        for parameter in self.model.parameters():
            parameter.requires_grad_(id(parameter) in trained)
        self.bf16 = use_bf16(config, self.device)
        self.loss = StageLoss(self.model, config, self.bf16)
        if self.dist.enabled:  # broadcasts rank 0's weights, then averages every gradient
            self.loss = DistributedDataParallel(
                self.loss, device_ids=[self.device.index] if self.device.type == 'cuda' else None)
        torch.manual_seed(config.seed + self.dist.rank)  # each rank draws its own noise
        self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay),
                                 use_buffers=True)
        self.optimizer = torch.optim.Adam(trainable_parameters(self.model, config), lr=config.lr)
        self.dataset = self._training_data()
        self.sampler = EpochBatchSampler(len(self.dataset), config.batch_size, config.seed,
                                         self.dist.rank, self.dist.world_size)
        # Its own generator: creating a loader iterator must not draw from the global RNG
        # that the diffusion noise uses, or a resumed run would see other noise.
        self.loader = DataLoader(self.dataset, batch_sampler=self.sampler,
                                 num_workers=config.num_workers,
                                 generator=torch.Generator().manual_seed(config.seed),
                                 pin_memory=self.device.type == 'cuda')
        self.step = 0
        self.history: list = []
        self._resume_if_possible()

    def _training_data(self):
        points = PosePointDataset(
            cache_paths(self.config.train_cache), num_points=self.model.config.num_points,
            augment=AugmentConfig() if self.config.augment else None, seed=self.config.seed)
        repeats = parse_category_repeats(self.config.category_repeats)
        if repeats:
            points = CategoryRepeats(points, repeats)
        if self.config.trains_encoder:
            return points
        bank_path = self.out_dir / 'feature_bank.pt'
        if bank_path.exists():
            saved = torch.load(bank_path, map_location='cpu', weights_only=True)
            return FeatureBank(saved['features'], saved['x0'])
        if self.config.feature_objects:
            chosen = torch.randperm(len(points), generator=torch.Generator().manual_seed(
                self.config.seed))[:self.config.feature_objects]
            points = torch.utils.data.Subset(points, chosen.tolist())
        bank = build_feature_bank(self.model, points, self.config.feature_views,
                                  max(self.config.batch_size, 64), self.device)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.save({'features': bank.features, 'x0': bank.x0}, bank_path)
        LOG.info('feature bank: %d rows saved to %s', len(bank), bank_path)
        return bank

    @property
    def epoch(self) -> int:
        """Return the current epoch, derived from the step so that it can never drift."""
        return self.step // self.steps_per_epoch

    @property
    def steps_per_epoch(self) -> int:
        """Return the number of optimiser steps in one pass over the data."""
        return len(self.sampler)

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
        self.step = int(state['step'])
        self.history = list(state.get('history', []))
        per_rank = state.get('torch_rng_ranks', [state['torch_rng']])
        if len(per_rank) == self.dist.world_size:
            torch.set_rng_state(per_rank[self.dist.rank])
        else:
            LOG.warning('%s was written by %d rank(s), this run has %d: noise streams restart',
                        last, len(per_rank), self.dist.world_size)
        LOG.info('resumed %s at step %d (epoch %d)', last, self.step, self.epoch)

    def save(self, name: str = 'last.pt') -> Path:
        """Write a checkpoint whose weights are the EMA weights, with resume state inside.

        Every rank must call it (their noise-RNG states are gathered); rank 0 writes.
        """
        rng_states = gather(torch.get_rng_state(), self.dist)
        path = self.out_dir / name
        if not self.dist.is_main:
            return path
        extra = {
            'stage': self.config.stage, 'step': self.step, 'epoch': self.epoch,
            'train_config': self.config.to_dict(), 'history': self.history,
            'raw_model': self.model.state_dict(), 'ema': self.ema.state_dict(),
            'optimizer': self.optimizer.state_dict(), 'torch_rng': rng_states[0],
            'torch_rng_ranks': rng_states,
        }
        save_checkpoint(path, self.ema.module, self.model.config, extra=extra)
        return path

    def train_step(self, batch: Dict[str, torch.Tensor]) -> Dict[str, float]:
        """One optimiser step; returns the loss parts as floats."""
        self.model.train()
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        for group in self.optimizer.param_groups:
            group['lr'] = learning_rate(self.config, self.step, self.epoch,
                                        self.total_steps)
        if not self.config.trains_encoder:
            self.model.encoder.eval()  # frozen: batch-norm statistics stay as trained
        parts = self.loss(batch)
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
        batches = self._batches()
        started, first_step = time.perf_counter(), self.step
        while self.step < self.total_steps:
            parts = self.train_step(next(batches))
            main = self.dist.is_main
            if main and (self.step % self.config.log_every == 0
                         or self.step == self.total_steps):
                rate = (self.step - first_step) / max(1e-9, time.perf_counter() - started)
                LOG.info('step %d/%d epoch %d lr %.2e %s (%.2f steps/s, %.1f samples/s)',
                         self.step, self.total_steps, self.epoch,
                         self.optimizer.param_groups[0]['lr'],
                         ' '.join('%s %.4f' % kv for kv in sorted(parts.items())), rate,
                         rate * self.config.batch_size * self.dist.world_size)
                self.history.append({'step': self.step, **parts})
            if main and self.config.val_cache and self.step % self.config.eval_every == 0:
                self.history.append({'step': self.step, **self.evaluate()})
            if self.step % self.config.save_every == 0:
                self.save()
        if self.dist.is_main and self.config.val_cache and self.step % self.config.eval_every:
            self.history.append({'step': self.step, **self.evaluate()})
        return self.save()

    def _batches(self) -> Iterator[Dict[str, torch.Tensor]]:
        """Yield batches forever from the current step, epoch after epoch."""
        while True:
            epoch = self.epoch
            self.dataset.set_epoch(epoch)
            self.sampler.set_position(epoch, self.step - epoch * self.steps_per_epoch)
            yield from self.loader

    @torch.inference_mode()
    def evaluate(self) -> Dict[str, float]:
        """Score the EMA model on the validation cache: regression head and guided sampler."""
        model = self.ema.module.eval()
        dataset = PosePointDataset(cache_paths(self.config.val_cache),
                                   num_points=model.config.num_points,
                                   augment=None, seed=self.config.seed)
        count = min(len(dataset), self.config.val_objects)
        batch = next(iter(DataLoader(dataset, batch_size=count, shuffle=False)))
        batch = {k: v.to(self.device) for k, v in batch.items()}
        targets = pose_targets(batch)
        features = model.encode(batch['points'])
        results: Dict[str, float] = {}
        predictions = {'reg': model.regress(features)} if self.config.uses_regression else {}
        if self.config.uses_diffusion:
            config = SamplerConfig(steps=self.config.val_steps)
            generator = torch.Generator(self.device).manual_seed(self.config.seed)
            predictions['diff'] = PoseSampler(model.sde, config).sample(
                model.score, features, generator=generator,
                cold_centre=cold_centres(model, config, features)).poses
        truth = {k: v.cpu().numpy() for k, v in batch.items()}
        for name, pose9 in predictions.items():
            rotation = rotation_6d_to_matrix(pose9[:, :6]).cpu().numpy()
            translation = (pose9[:, 6:] + targets['centroid']).cpu().numpy()
            errors = pose_errors(rotation, translation, truth['rotation'], truth['translation'],
                                 truth['symmetric'])
            for key, value in errors.summary().items():
                if key != 'count':
                    results['val_%s_%s' % (name, key)] = value
            # NOCS mAP (percent) as `catpose eval` reports it; the true size stands in for
            # the predicted one, so the IoU keys measure the pose alone. A mug counts as
            # symmetric exactly when its handle is hidden.
            scores = score_poses(rotation, translation, None, truth['rotation'],
                                 truth['translation'], truth['size'], truth['category'].tolist(),
                                 handle_visible=(~truth['symmetric']).tolist())
            results.update({'val_%s_map_%s' % (name, key): scores[key] for key in MAP_KEYS})
        LOG.info('eval step %d: %s', self.step, ' '.join(
            '%s %.3f' % kv for kv in sorted(results.items()) if not math.isnan(kv[1])))
        return results


def export_for_inference(checkpoint: Path, out: Path,
                         sampler: Optional[SamplerConfig] = None,
                         notes: Optional[Dict] = None) -> Path:
    """Strip a training checkpoint to what inference needs: EMA weights, config, provenance.

    The result is a quarter of the size (no raw weights, EMA copy or optimiser state) and can
    still seed further training through TrainConfig.init_from. `sampler` stores the sampler
    settings every entry point (node, bag, demo, eval) then uses by default; `notes` adds
    provenance (e.g. the stages that led here).
    """
    model, config, meta = load_checkpoint(checkpoint, map_location='cpu')
    state = meta['extra']
    provenance = {key: state[key] for key in ('stage', 'step', 'epoch', 'train_config',
                                              'sampler', 'lineage') if key in state}
    provenance['history'] = [entry for entry in state.get('history', [])
                             if any(key.startswith('val_') for key in entry)]
    if sampler is not None:
        provenance['sampler'] = sampler.to_dict()
    provenance.update(notes or {})
    return save_checkpoint(out, model, config, extra=provenance)


def train(config: TrainConfig, model_config: Optional[ModelConfig] = None) -> Path:
    """Run (or resume) one stage and return the path of its final checkpoint."""
    return Trainer(config, model_config).run()
