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

"""Data-parallel training on several processes, GPUs or machines through `torchrun`.

`torchrun --nproc_per_node N -m catpose_ros.cli.main train ...` sets RANK, WORLD_SIZE and
LOCAL_RANK; the trainer then joins a process group (nccl on CUDA, gloo on CPU), wraps its
loss in DistributedDataParallel and gives each rank its own slice of every batch order.
Without those variables everything runs in one process, unchanged.
"""

from dataclasses import dataclass
import os
from typing import Any, List

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in the job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """Return whether several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Return whether this process logs, evaluates and writes checkpoints."""
        return self.rank == 0


def init_distributed(device: torch.device) -> DistributedContext:
    """Join the process group torchrun describes in the environment (if any)."""
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    if world_size <= 1:
        return DistributedContext()
    context = DistributedContext(int(os.environ['RANK']), world_size,
                                 int(os.environ.get('LOCAL_RANK', '0')))
    if not dist.is_initialized():
        dist.init_process_group('nccl' if device.type == 'cuda' else 'gloo')
    return context


def distributed_device(device: torch.device, context: DistributedContext) -> torch.device:
    """Give each local rank its own GPU; CPU ranks share the CPU."""
    if device.type == 'cuda' and context.enabled:
        return torch.device('cuda', context.local_rank)
    return device


def gather(value: Any, context: DistributedContext) -> List[Any]:
    """Collect one picklable value from every rank (a one-element list when alone)."""
    if not context.enabled:
        return [value]
    values: List[Any] = [None] * context.world_size
    dist.all_gather_object(values, value)
    return values


def shutdown(context: DistributedContext) -> None:
    """Leave the process group once every rank is done."""
    if context.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
