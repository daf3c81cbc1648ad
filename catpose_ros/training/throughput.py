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

"""Training throughput: samples/s of a stage and where each step's time goes.

The step is the trainer's own (same loss, precision and optimiser), cut into phases that are
timed with the device synchronised at each boundary: data (loading, augmentation, transfer),
encoder (forward), heads (forward + losses), backward, optimiser (clip, Adam, EMA). Nothing is
saved and the trainer's counters are left alone.
"""

from collections import defaultdict
import time
from typing import Dict

import torch

from catpose_ros.training.trainer import (encode_batch, heads_loss, trainable_parameters,
                                          Trainer)

PHASES = ('data', 'encoder', 'heads', 'backward', 'optimizer')


def _sync(device: torch.device) -> float:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return time.perf_counter()


def measure_throughput(trainer: Trainer, steps: int, warmup: int = 1) -> Dict[str, float]:
    """Run `warmup` + `steps` training steps; return samples/s and each phase's fraction.

    Under torchrun every rank trains its own batch in step with the others (gradients are
    averaged in the backward pass), so samples/s counts the batches of all ranks.
    """
    device, config, model = trainer.device, trainer.config, trainer.model
    parameters = trainable_parameters(model, config)
    batches = trainer._batches()
    seconds: Dict[str, float] = defaultdict(float)
    samples = 0
    model.train()
    for index in range(warmup + steps):
        start = _sync(device)
        batch = {k: v.to(device) for k, v in next(batches).items()}
        marks = [start, _sync(device)]
        features, targets = encode_batch(model, batch, trainer.bf16)
        marks.append(_sync(device))
        loss = heads_loss(model, features, targets, batch, config)['loss']
        marks.append(_sync(device))
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        marks.append(_sync(device))
        torch.nn.utils.clip_grad_norm_(parameters, config.grad_clip)
        trainer.optimizer.step()
        trainer.ema.update_parameters(model)
        marks.append(_sync(device))
        if index >= warmup:
            samples += len(features) * trainer.dist.world_size
            for phase, begin, end in zip(PHASES, marks[:-1], marks[1:]):
                seconds[phase] += end - begin
    total = sum(seconds.values())
    report = {'samples_per_s': samples / total, 'steps': steps, 'batch_size': config.batch_size,
              'seconds_per_step': total / steps, 'bf16': trainer.bf16,
              'threads': torch.get_num_threads(), 'device': str(device),
              'processes': trainer.dist.world_size}
    report.update({'fraction_' + phase: seconds[phase] / total for phase in PHASES})
    return report


def format_throughput(stage: str, report: Dict[str, float]) -> str:
    """Return one Markdown table row (header included) for a measured stage."""
    header = ('| stage | device | processes | threads | bf16 | batch per process | samples/s '
              '| s/step | ' + ' | '.join(PHASES) + ' |')
    rule = '|' + '---|' * (8 + len(PHASES))
    row = '| %s | %s | %d | %d | %s | %d | %.1f | %.2f | %s |' % (
        stage, report['device'], report['processes'], report['threads'], report['bf16'],
        report['batch_size'],
        report['samples_per_s'], report['seconds_per_step'],
        ' | '.join('%.0f%%' % (100 * report['fraction_' + p]) for p in PHASES))
    return '\n'.join((header, rule, row))
