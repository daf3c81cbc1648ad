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

"""Train the Mask R-CNN segmenter on rendered samples: one flat, resumable loop.

A run directory holds last.pt (model, optimiser, scheduler, step, every RNG state, config),
best.pt (the checkpoint with the best validation mask AP50:95), history.json and the
shipped weights file written by `export`. Starting a run in a directory that holds last.pt
resumes it: same data order, same augmentation draws, same learning-rate schedule.
`steps` may be raised on resume to lengthen a run (the cosine schedule then stretches).
"""

from dataclasses import asdict
import json
import logging
from pathlib import Path
import random
import time
from typing import Dict, List, Optional

import numpy as np
import torch

from catpose_ros.categories import category_names
from catpose_ros.data.segmentation import SegmentationDataset, SegmentationSamples
from catpose_ros.perception.maskrcnn import build_maskrcnn, save_maskrcnn_weights
from catpose_ros.training.config import SegmentationTrainConfig

LOG = logging.getLogger(__name__)


def detector(config: SegmentationTrainConfig, num_categories: int) -> torch.nn.Module:
    """Build the untrained detector a config describes, with cheap training samplers."""
    return build_maskrcnn(num_categories, config.architecture,
                          in_channels=config.in_channels, min_size=config.min_size,
                          max_size=config.max_size, rpn_pre_nms_top_n_train=600,
                          rpn_post_nms_top_n_train=300, box_batch_size_per_image=128,
                          rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100)


def learning_rate_factor(config: SegmentationTrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 5 % of lr at config.steps."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps -
                                                           config.warmup_steps))
    return 0.05 + 0.95 * 0.5 * (1.0 + np.cos(np.pi * progress))


def batch_indices(config: SegmentationTrainConfig, step: int, size: int) -> List[int]:
    """Sample indices of a step: epoch-wise permutations drawn from (seed, epoch)."""
    indices = []
    for position in range(step * config.batch_size, (step + 1) * config.batch_size):
        epoch, offset = divmod(position, size)
        order = np.random.default_rng((config.seed, epoch)).permutation(size)
        indices.append(int(order[offset]))
    return indices


class SegmentationTrainer:
    """Own the detector, optimiser and schedule of one run; resume from last.pt if present."""

    def __init__(self, config: SegmentationTrainConfig,
                 categories: Optional[List[str]] = None):
        self.config = config
        self.categories = list(categories or category_names())
        self.out_dir = Path(config.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        np.random.seed(config.seed)
        self.train_set = SegmentationDataset(SegmentationSamples.load(config.train_samples),
                                             config.in_channels)
        self.val_samples = SegmentationSamples.load(config.val_samples) \
            if config.val_samples else None
        self.model = detector(config, len(self.categories))
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr,
                                           weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: learning_rate_factor(self.config, step))
        self.step = 0
        self.history: List[Dict[str, float]] = []
        self.best_ap = -1.0
        self._resume_if_possible()

    def _resume_if_possible(self) -> None:
        path = self.out_dir / 'last.pt'
        if not path.is_file():
            return
        state = torch.load(path, map_location='cpu', weights_only=False)
        stored = SegmentationTrainConfig.from_dict(state['config'])
        for name in ('modality', 'architecture', 'batch_size', 'seed', 'train_samples'):
            if getattr(stored, name) != getattr(self.config, name):
                raise ValueError('%s holds a run with %s=%r, not %r; use another out_dir'
                                 % (path, name, getattr(stored, name),
                                    getattr(self.config, name)))
        self.model.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.scheduler.load_state_dict(state['scheduler'])
        self.step = int(state['step'])
        self.history = list(state['history'])
        self.best_ap = float(state['best_ap'])
        torch.set_rng_state(state['torch_rng'])
        np.random.set_state(state['numpy_rng'])
        random.setstate(state['python_rng'])
        LOG.info('resumed %s at step %d', path, self.step)

    def save(self, name: str = 'last.pt') -> Path:
        """Write a resumable checkpoint atomically (a crash never leaves half a file)."""
        path = self.out_dir / name
        temporary = path.with_suffix('.tmp')
        torch.save({'config': asdict(self.config), 'categories': self.categories,
                    'model': self.model.state_dict(),
                    'optimizer': self.optimizer.state_dict(),
                    'scheduler': self.scheduler.state_dict(), 'step': self.step,
                    'history': self.history, 'best_ap': self.best_ap,
                    'torch_rng': torch.get_rng_state(), 'numpy_rng': np.random.get_state(),
                    'python_rng': random.getstate()}, temporary)
        temporary.replace(path)
        return path

    def train_step(self) -> Dict[str, float]:
        """One optimiser step on the batch the step index selects."""
        rng = np.random.default_rng((self.config.seed, self.step, 1))
        items = [self.train_set.item(i, rng) for i in
                 batch_indices(self.config, self.step, len(self.train_set))]
        self.model.train()
        losses = self.model([i[0] for i in items], [i[1] for i in items])
        total = sum(losses.values())
        if not torch.isfinite(total):
            raise FloatingPointError('non-finite loss at step %d: %s'
                                     % (self.step, {k: float(v) for k, v in losses.items()}))
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        return {'loss': total.item(), **{k: v.item() for k, v in losses.items()}}

    def export(self, path: Path, half: bool = True) -> Path:
        """Write the inference weights file the segmenter loads."""
        return save_maskrcnn_weights(self.model, path, self.categories,
                                     self.config.architecture, self.config.in_channels,
                                     self.config.min_size, self.config.max_size, half=half)

    def evaluate(self) -> Dict[str, float]:
        """Mask and box AP on the first val_frames validation samples."""
        from catpose_ros.evaluation.segmentation import evaluate_segmenter
        from catpose_ros.perception.segmentation import TorchvisionMaskRCNNSegmenter

        weights = self.export(self.out_dir / 'eval_weights.pt', half=False)
        segmenter = TorchvisionMaskRCNNSegmenter(weights, score_threshold=0.05,
                                                 min_mask_pixels=1)
        report = evaluate_segmenter(segmenter, self.val_samples, limit=self.config.val_frames)
        return {'mask_ap': report.mask.ap, 'mask_ap50': report.mask.ap50,
                'box_ap': report.box.ap, 'box_ap50': report.box.ap50}

    def run(self) -> Path:
        """Train to config.steps, checkpointing and evaluating as configured."""
        from tqdm import tqdm

        torch.set_num_threads(self.config.threads)
        window: List[Dict[str, float]] = []
        started = time.perf_counter()
        with tqdm(total=self.config.steps, initial=self.step, unit='step') as progress:
            while self.step < self.config.steps:
                window.append(self.train_step())
                progress.update(1)
                if self.step % self.config.log_every == 0:
                    self._log(window, started)
                    progress.set_postfix(loss='%.3f' % self.history[-1]['loss'])
                    window = []
                if self.step % self.config.eval_every == 0 and self.val_samples is not None:
                    self._evaluate_and_keep_best()
                if self.step % self.config.save_every == 0:
                    self.save()
        self.save()
        (self.out_dir / 'history.json').write_text(json.dumps(self.history, indent=1))
        return self.out_dir / 'last.pt'

    def _log(self, window: List[Dict[str, float]], started: float) -> None:
        record = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
        record.update(step=self.step, lr=self.optimizer.param_groups[0]['lr'],
                      elapsed_s=time.perf_counter() - started)
        self.history.append(record)
        LOG.info('step %d loss %.3f (%s)', self.step, record['loss'], ', '.join(
            '%s %.3f' % (k[5:], v) for k, v in record.items() if k.startswith('loss_')))

    def _evaluate_and_keep_best(self) -> None:
        metrics = self.evaluate()
        self.history.append({'step': self.step, **metrics})
        LOG.info('step %d val mask AP50 %.3f AP %.3f, box AP50 %.3f AP %.3f', self.step,
                 metrics['mask_ap50'], metrics['mask_ap'], metrics['box_ap50'],
                 metrics['box_ap'])
        if metrics['mask_ap'] > self.best_ap:
            self.best_ap = metrics['mask_ap']
            self.save('best.pt')


def export_checkpoint(checkpoint: Path, out: Path, half: bool = True) -> Path:
    """Turn a training checkpoint (last.pt or best.pt) into a shipped weights file."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    config = SegmentationTrainConfig.from_dict(state['config'])
    model = detector(config, len(state['categories']))
    model.load_state_dict(state['model'])
    return save_maskrcnn_weights(model, out, state['categories'], config.architecture,
                                 config.in_channels, config.min_size, config.max_size,
                                 half=half)
