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

"""Compiled CPU kernels (numba) for furthest point sampling and ball query.

On the CPU the PyTorch versions in model/pointnet2.py spend their time launching hundreds of
tiny tensor operations (one furthest-point step is ~7 of them, 896 steps per forward). These
kernels do the same loops in machine code, batched over objects, with the same arithmetic,
so they return the same indices bit for bit:

- furthest point sampling: seeded at index 0; squared distance summed x, y, z in float32
  (as `(xyz - centre).square().sum(-1)`); running minimum; the first index of the maximum
  (`argmax`'s tie-breaking);
- ball query: distance = sqrt of the fused multiply-add chain that `torch.cdist` (without
  matrix multiplication) evaluates, in float32, compared `< radius` in float32; the first
  `nsample` hits in index order, missing slots repeat the first hit, no hit gives index 0.

numba is optional: without it `AVAILABLE` is False and the encoder uses its PyTorch path.
Kernels compile on first use (a few seconds) and are cached on disk by numba. They run on
the calling thread: a second OpenMP pool (numba's) beside PyTorch's would make both spin
for the same cores of a small robot computer, and one 1024-point object takes about 1 ms.
"""

from typing import List, Sequence

import numpy as np
import torch

try:
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    numba = None

AVAILABLE = numba is not None


def _compile(function):
    """Compile with numba (nopython, cached, GIL released) when it is installed."""
    if numba is None:
        return None
    return numba.njit(cache=True, nogil=True)(function)


def _furthest_point_sample_kernel(xyz, npoint, out):  # pragma: no cover - compiled
    batch, count = xyz.shape[0], xyz.shape[1]
    for b in range(batch):
        nearest = np.full(count, np.float32(1e10), np.float32)
        farthest = 0
        for i in range(npoint):
            out[b, i] = farthest
            cx, cy, cz = xyz[b, farthest, 0], xyz[b, farthest, 1], xyz[b, farthest, 2]
            best = np.float32(-1.0)
            best_index = 0
            for j in range(count):
                dx = xyz[b, j, 0] - cx
                dy = xyz[b, j, 1] - cy
                dz = xyz[b, j, 2] - cz
                distance = dx * dx + dy * dy + dz * dz
                if distance < nearest[j]:
                    nearest[j] = distance
                if nearest[j] > best:
                    best = nearest[j]
                    best_index = j
            farthest = best_index


def _fma32(a, b, c):  # pragma: no cover - compiled
    """Return float32(a * b + c) rounded once, like a hardware fused multiply-add.

    A product of two float32 values is exact in float64, so one float64 addition and one
    rounding to float32 reproduce the fused operation.
    """
    return np.float32(np.float64(a) * np.float64(b) + np.float64(c))


def _ball_query_kernel(xyz, centres, radii, nsamples, offsets, out):  # pragma: no cover
    batch, npoint, count = xyz.shape[0], centres.shape[1], xyz.shape[1]
    scales = radii.shape[0]
    for flat in range(batch * npoint):
        b = flat // npoint
        m = flat % npoint
        cx, cy, cz = centres[b, m, 0], centres[b, m, 1], centres[b, m, 2]
        hits = np.zeros(scales, np.int64)
        full = 0
        for j in range(count):
            dx = xyz[b, j, 0] - cx
            dy = xyz[b, j, 1] - cy
            dz = xyz[b, j, 2] - cz
            squared = _fma32(dz, dz, _fma32(dy, dy, np.float32(dx * dx)))
            distance = np.float32(np.sqrt(squared))
            for s in range(scales):
                if hits[s] < nsamples[s] and distance < radii[s]:
                    out[b, m, offsets[s] + hits[s]] = j
                    hits[s] += 1
                    if hits[s] == nsamples[s]:
                        full += 1
            if full == scales:
                break
        for s in range(scales):
            first = out[b, m, offsets[s]] if hits[s] > 0 else 0
            for k in range(hits[s], nsamples[s]):
                out[b, m, offsets[s] + k] = first


if numba is not None:
    _fma32 = numba.njit(inline='always', nogil=True)(_fma32)  # noqa: F811
_FPS = _compile(_furthest_point_sample_kernel)
_BALL_QUERY = _compile(_ball_query_kernel)


def _as_array(points: torch.Tensor) -> np.ndarray:
    """View a CPU float32 tensor as a C-contiguous array (copies only when it must)."""
    return points.detach().contiguous().numpy()


def _check(points: torch.Tensor, name: str) -> None:
    if not AVAILABLE:
        raise RuntimeError('numba is not installed; use the PyTorch path')
    if points.device.type != 'cpu' or points.dtype != torch.float32 or points.dim() != 3 \
            or points.shape[-1] != 3:
        raise ValueError('%s must be a CPU float32 tensor (B, N, 3), got %s %s %s'
                         % (name, points.device, points.dtype, tuple(points.shape)))


def furthest_point_sample(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """Return (B, npoint) indices of furthest point sampling from index 0 (module doc)."""
    _check(xyz, 'xyz')
    out = np.empty((xyz.shape[0], int(npoint)), np.int64)
    _FPS(_as_array(xyz), int(npoint), out)
    return torch.from_numpy(out)


def ball_query(xyz: torch.Tensor, centres: torch.Tensor, radii: Sequence[float],
               nsamples: Sequence[int]) -> List[torch.Tensor]:
    """Neighbour indices (B, M, nsample) per (radius, nsample), all scales in one pass."""
    _check(xyz, 'xyz')
    _check(centres, 'centres')
    counts = np.asarray(nsamples, np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    out = np.empty((centres.shape[0], centres.shape[1], int(counts.sum())), np.int64)
    _BALL_QUERY(_as_array(xyz), _as_array(centres), np.asarray(radii, np.float32), counts,
                offsets, out)
    index = torch.from_numpy(out)
    return list(index.split([int(c) for c in counts], dim=-1))
