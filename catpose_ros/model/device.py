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

"""Torch device, precision and CPU thread settings shared by training, nodes and command line."""

import contextlib

PRECISIONS = ('fp32', 'bf16', 'fp16')


def resolve_device(device: str) -> str:
    """Map 'auto' to cuda when available, else cpu; keep explicit devices (cuda:1, cpu)."""
    if device != 'auto':
        return device
    import torch
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def check_precision(precision: str) -> str:
    """Return precision if it is one of PRECISIONS, else raise ValueError."""
    if precision not in PRECISIONS:
        raise ValueError('precision must be one of %s, got %r' % (PRECISIONS, precision))
    return precision


def autocast(precision: str, device_type: str):
    """Return the autocast context the PointNet++ encoder runs in.

    fp32 runs as is; bf16 and fp16 run the matrix multiplies in half width (the heads and
    the sampler stay in float32). On a CPU with AMX, bf16 encodes about 1.2-1.4x faster
    (docs/benchmark.md); its accuracy is measured beside its speed there.
    """
    import torch
    if check_precision(precision) == 'fp32':
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == 'bf16' else torch.float16
    return torch.autocast(device_type, dtype=dtype)


def configure_threads(threads: int) -> int:
    """Give PyTorch `threads` intra-op CPU threads (0: keep its default); return the count.

    Inference runs one frame at a time, so one inter-op thread is enough. On a small,
    busy computer (2 cores shared with a camera driver, a segmenter, a planner) a single
    intra-op thread is faster than two: every parallel operator ends at a barrier that
    waits for a sibling thread the scheduler may have parked, and the encoder's fast path
    runs many short operators (measured in docs/benchmark.md).
    """
    import torch
    if threads < 0:
        raise ValueError('threads must be >= 0 (0 = PyTorch default), got %d' % threads)
    if threads:
        torch.set_num_threads(int(threads))
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:   # only settable before the first inter-op work; keep it
            pass
    return torch.get_num_threads()
