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

"""PointNet++ MSG encoder ("light" config of GenPose) in pure, batched PyTorch.

Same semantics as the compiled Pointnet2.PyTorch ops GenPose uses, without a CUDA build:

- furthest point sampling seeded at index 0 (a Python loop over the npoint samples with a
  vectorised distance update: 512 + 256 + 128 = 896 small steps per forward, about
  3-4 tensor ops each, so its cost is launch-bound and nearly independent of batch size;
  on a 2-core CPU the 512-point level takes about 13 ms for one 1024-point cloud, a
  quarter of the encoder). The kernel's skip of points with |p|^2 <= 1e-3 is left out:
  camera-frame points beyond the 0.1 m minimum depth never meet it;
- ball query: the first `nsample` in-radius points in index order, padded with the first
  hit (one exact pairwise distance matrix per level, shared by both radii, chunked over
  the batch to bound memory);
- grouping by gather; grouped xyz is relative to the query point and not divided by the
  radius; the last level groups all points with their absolute xyz.

Each MLP layer is GenPose's 1x1 Conv2d without bias + BatchNorm + ReLU, max-pooled per
group. A 1x1 convolution is a linear map over channels, so it is written as a bias-free
Linear + BatchNorm1d on channel-last rows (B * M * S, C): the same function and parameter
count (a GenPose weight (out, in, 1, 1) loads after a reshape), about 20x faster on CPU
than oneDNN's 1x1 Conv2d on these thin NCHW tensors.

Inference fast path (eval mode with gradients off; training never takes it):
- on the CPU, sampling and ball query run as compiled kernels (model/point_kernels.py, numba)
  that return the same indices as the PyTorch versions below; without numba, on other
  devices or with `use_point_kernels(False)` the PyTorch versions run;
- each BatchNorm is folded into the Linear before it (recomputed whenever a weight or a
  running statistic changes, e.g. after a training step or a checkpoint load);
- the first layer's feature part is applied once per point before grouping instead of once
  per (centre, neighbour) pair; on the CPU each later Linear + ReLU is one fused oneDNN
  call when this PyTorch build has it (plain ops otherwise).
The features it returns equal the training-mode graph's up to float32 rounding.
"""

import os
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional

from catpose_ros.model import point_kernels

# Distance-matrix elements per chunk (B * M * N): 16M floats, 64 MB.
_DISTANCE_CHUNK = 1 << 24
# Largest activation per chunk of groups in the inference path: 256K floats (1 MB), so
# the MLP of a chunk runs in the core's cache instead of streaming through memory.
_GROUP_CHUNK = 1 << 18


# Compiled CPU kernels unless the environment sets CATPOSE_POINT_KERNELS=0.
_USE_KERNELS = os.environ.get('CATPOSE_POINT_KERNELS', '1') != '0'


# The eval-mode fast path (folded batch norm); off = the training graph also in eval mode.
_FAST_INFERENCE = True


def use_fast_inference(enabled: bool) -> bool:
    """Switch the eval-mode fast path on or off (for comparisons); return the previous one."""
    global _FAST_INFERENCE
    previous, _FAST_INFERENCE = _FAST_INFERENCE, bool(enabled)
    return previous


def use_point_kernels(enabled: bool) -> bool:
    """Switch the compiled CPU kernels on or off; return the previous setting."""
    global _USE_KERNELS
    previous, _USE_KERNELS = _USE_KERNELS, bool(enabled)
    return previous


def point_kernels_active(xyz: torch.Tensor) -> bool:
    """Whether sampling and ball query of these points run as compiled kernels."""
    return (_USE_KERNELS and point_kernels.AVAILABLE and xyz.device.type == 'cpu'
            and xyz.dtype == torch.float32)


def furthest_point_sample(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """Pick `npoint` indices per cloud (B, N, 3) by furthest point sampling from index 0."""
    if point_kernels_active(xyz):
        return point_kernels.furthest_point_sample(xyz, npoint)
    return furthest_point_sample_torch(xyz, npoint)


@torch.no_grad()
def furthest_point_sample_torch(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """Furthest point sampling in PyTorch ops: the reference, and the path off the CPU."""
    batch, count, _ = xyz.shape
    index = torch.zeros(batch, npoint, dtype=torch.long, device=xyz.device)
    nearest = torch.full((batch, count), 1e10, dtype=xyz.dtype, device=xyz.device)
    farthest = torch.zeros(batch, dtype=torch.long, device=xyz.device)
    rows = torch.arange(batch, device=xyz.device)
    for i in range(npoint):
        index[:, i] = farthest
        centre = xyz[rows, farthest].unsqueeze(1)
        nearest = torch.minimum(nearest, (xyz - centre).square().sum(-1))
        farthest = nearest.argmax(-1)
    return index


def gather_points(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Gather rows of values (B, N, C) at index (B, ...) -> (B, ..., C)."""
    batch, channels = values.shape[0], values.shape[-1]
    flat = index.reshape(batch, -1, 1).expand(-1, -1, channels)
    return values.gather(1, flat).reshape(index.shape + (channels,))


def ball_query(xyz: torch.Tensor, centres: torch.Tensor, radii: Sequence[float],
               nsamples: Sequence[int]) -> List[torch.Tensor]:
    """Neighbour indices (B, M, nsample) of each centre, one tensor per (radius, nsample).

    Matches the CUDA kernel: the first `nsample` points with squared distance < r^2 in
    index order; missing slots repeat the first hit.
    """
    if point_kernels_active(xyz) and point_kernels_active(centres):
        return point_kernels.ball_query(xyz, centres, radii, nsamples)
    return ball_query_torch(xyz, centres, radii, nsamples)


@torch.no_grad()
def ball_query_torch(xyz: torch.Tensor, centres: torch.Tensor, radii: Sequence[float],
                     nsamples: Sequence[int]) -> List[torch.Tensor]:
    """Ball query in PyTorch ops: the reference, and the path off the CPU."""
    batch, npoint, count = xyz.shape[0], centres.shape[1], xyz.shape[1]
    step = max(1, _DISTANCE_CHUNK // max(1, npoint * count))
    chunks: List[List[torch.Tensor]] = [[] for _ in radii]
    for start in range(0, batch, step):
        distance = torch.cdist(centres[start:start + step], xyz[start:start + step],
                               compute_mode='donot_use_mm_for_euclid_dist')
        order = torch.arange(count, device=xyz.device).expand_as(distance)
        for scale, (radius, nsample) in enumerate(zip(radii, nsamples)):
            keys = torch.where(distance < radius, order, count)
            chunks[scale].append(_first_hits(keys, nsample, count))
    return [torch.cat(parts, 0) for parts in chunks]


def _first_hits(keys: torch.Tensor, nsample: int, count: int) -> torch.Tensor:
    """Smallest `nsample` keys (indices, or `count` for a miss), misses -> first hit."""
    first = keys.topk(min(nsample, count), dim=-1, largest=False, sorted=True).values
    if first.shape[-1] < nsample:
        first = torch.cat((first, first.new_full(
            first.shape[:-1] + (nsample - first.shape[-1],), count)), -1)
    head = first[..., :1]
    head = torch.where(head == count, torch.zeros_like(head), head)
    return torch.where(first == count, head, first)


def shared_mlp(channels: Sequence[int]) -> nn.Sequential:
    """Per-point Linear (no bias) + BatchNorm + ReLU for each consecutive channel pair."""
    layers: List[nn.Module] = []
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        linear = nn.Linear(c_in, c_out, bias=False)
        nn.init.kaiming_normal_(linear.weight)
        layers += [linear, nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


FoldedLayer = Tuple[torch.Tensor, torch.Tensor]


def fold_batch_norm(linear: nn.Linear, norm: nn.BatchNorm1d) -> FoldedLayer:
    """Return (weight, bias) of the one affine map equal to linear -> norm in eval mode.

    Computed in float64 and rounded once to the weight's dtype.
    """
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError('a BatchNorm without running statistics cannot be folded')
    scale = norm.running_var.double().add(norm.eps).rsqrt()
    if norm.weight is not None:
        scale = scale * norm.weight.double()
    bias = -norm.running_mean.double() * scale
    if norm.bias is not None:
        bias = bias + norm.bias.double()
    if linear.bias is not None:
        bias = bias + linear.bias.double() * scale
    weight = linear.weight.double() * scale[:, None]
    return weight.to(linear.weight.dtype), bias.to(linear.weight.dtype)


def fold_shared_mlp(mlp: nn.Sequential) -> List[FoldedLayer]:
    """Fold each Linear + BatchNorm (+ ReLU) triple of `shared_mlp` into one affine map."""
    layers = list(mlp)
    return [fold_batch_norm(layers[i], layers[i + 1]) for i in range(0, len(layers), 3)]


def _state_key(module: nn.Module) -> Tuple[Tuple[int, int], ...]:
    """Identify the current values of a module's tensors: storage and in-place version."""
    return tuple((t.data_ptr(), t._version)
                 for t in (*module.parameters(), *module.buffers()))


def _take_rows(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Like gather_points (values (B, N, C), index (B, ...)), as one index_select."""
    batch, count, channels = values.shape
    offsets = torch.arange(0, batch * count, count, device=index.device)
    flat = (index + offsets.view((batch,) + (1,) * (index.dim() - 1))).reshape(-1)
    return values.reshape(batch * count, channels).index_select(0, flat).reshape(
        index.shape + (channels,))


def _onednn_linear_relu(rows: torch.Tensor, weight: torch.Tensor,
                        bias: torch.Tensor) -> torch.Tensor:
    """relu(rows @ weight.T + bias) as one oneDNN call (what torch.compile emits on CPU)."""
    return torch.ops.mkldnn._linear_pointwise(rows, weight, bias, 'relu', [], '')


def _probe_onednn() -> bool:
    """Whether the fused oneDNN linear + ReLU exists here and matches the plain ops."""
    try:
        rows, weight, bias = (torch.linspace(-1.0, 1.0, n).reshape(shape) for n, shape in
                              ((24, (6, 4)), (20, (5, 4)), (5, (5,))))
        fused = _onednn_linear_relu(rows, weight, bias)
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
    return torch.allclose(fused, functional.linear(rows, weight, bias).relu(), atol=1e-6)


_ONEDNN: Optional[bool] = None


def linear_relu(rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
                ) -> torch.Tensor:
    """relu(rows @ weight.T + bias) over the last dim; fused by oneDNN on CPU when it can."""
    global _ONEDNN
    if rows.device.type == 'cpu' and rows.dtype == torch.float32:
        if _ONEDNN is None:
            _ONEDNN = torch.backends.mkldnn.is_available() and _probe_onednn()
        if _ONEDNN:
            flat = _onednn_linear_relu(rows.reshape(-1, rows.shape[-1]), weight, bias)
            return flat.reshape(rows.shape[:-1] + (weight.shape[0],))
    return functional.linear(rows, weight, bias).relu_()


def _pool_folded(hidden: torch.Tensor, layers: Sequence[FoldedLayer]) -> torch.Tensor:
    """Finish a folded MLP from the first layer's pre-activation; max-pool over dim -2."""
    hidden = hidden.relu_()
    for weight, bias in layers:
        hidden = linear_relu(hidden, weight, bias)
    return hidden.amax(-2)


class SetAbstractionMSG(nn.Module):
    """One multi-scale set-abstraction level; npoint=None groups all points."""

    def __init__(self, npoint: Optional[int], radii: Sequence[float],
                 nsamples: Sequence[int], in_channels: int,
                 mlps: Sequence[Sequence[int]]):
        super().__init__()
        self.npoint = npoint
        self.radii = tuple(radii)
        self.nsamples = tuple(nsamples)
        self.mlps = nn.ModuleList(shared_mlp((in_channels + 3,) + tuple(m)) for m in mlps)
        self.out_channels = sum(m[-1] for m in mlps)
        self._folded: Optional[Tuple[tuple, List[List[FoldedLayer]]]] = None

    def forward(self, xyz: torch.Tensor, features: Optional[torch.Tensor]
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Map xyz (B, N, 3), features (B, N, C) to centres (B, M, 3), (B, M, C_out)."""
        if _FAST_INFERENCE and not self.training and not torch.is_grad_enabled():
            return self._forward_folded(xyz, features)
        if self.npoint is None:
            grouped = xyz.unsqueeze(1) if features is None else torch.cat(
                (xyz, features), -1).unsqueeze(1)
            pooled = [self._pool(mlp, grouped) for mlp in self.mlps]
            return xyz.new_zeros(xyz.shape[0], 1, 3), torch.cat(pooled, -1)
        centres = gather_points(xyz, furthest_point_sample(xyz, self.npoint))
        neighbours = ball_query(xyz, centres, self.radii, self.nsamples)
        pooled = [self._pool(mlp[1:], self._first_layer(mlp[0], xyz, features, centres, index))
                  for mlp, index in zip(self.mlps, neighbours)]
        return centres, torch.cat(pooled, -1)

    @staticmethod
    def _first_layer(linear: nn.Linear, xyz: torch.Tensor, features: Optional[torch.Tensor],
                     centres: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Apply the first Linear to the groups (B, M, S, C1), its feature part once per point.

        W [xyz_j - c; f_j] + b = W_xyz (xyz_j - c) + (W_f f)_j + b: the map of the
        concatenated groups, but the wide product runs on N points instead of M x S group
        members and only its narrow output is gathered (less copying, same gradients).
        """
        relative = gather_points(xyz, index) - centres.unsqueeze(2)
        hidden = functional.linear(relative, linear.weight[:, :3], linear.bias)
        if features is not None:
            hidden = hidden + gather_points(
                functional.linear(features, linear.weight[:, 3:]), index)
        return hidden

    @staticmethod
    def _pool(mlp: nn.Sequential, grouped: torch.Tensor) -> torch.Tensor:
        """Run the shared MLP on groups (B, M, S, C) and max-pool -> (B, M, C_out).

        `max` rather than `amax`: equal forward; its backward routes a tied maximum's
        gradient to one member instead of splitting it, which gives the same gradient
        wherever the tie comes from repeated members (ball query's padding), and costs a
        third of the time.
        """
        out = mlp(grouped.reshape(-1, grouped.shape[-1]))
        return out.reshape(grouped.shape[:-1] + (-1,)).max(2).values

    def folded_layers(self) -> List[List[FoldedLayer]]:
        """Per scale, the MLP with its BatchNorms folded (cached until a tensor changes)."""
        key = _state_key(self.mlps)
        if self._folded is None or self._folded[0] != key:
            with torch.no_grad():
                self._folded = (key, [fold_shared_mlp(mlp) for mlp in self.mlps])
        return self._folded[1]

    def _forward_folded(self, xyz: torch.Tensor, features: Optional[torch.Tensor]
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Eval-mode forward with folded BatchNorm and per-point first-layer features."""
        scales = self.folded_layers()
        if self.npoint is None:
            grouped = xyz if features is None else torch.cat((xyz, features), -1)
            pooled = [_pool_folded(functional.linear(grouped, *layers[0]), layers[1:])
                      for layers in scales]
            return xyz.new_zeros(xyz.shape[0], 1, 3), torch.cat(pooled, -1).unsqueeze(1)
        batch, count = xyz.shape[:2]
        centres = _take_rows(xyz, furthest_point_sample(xyz, self.npoint))
        neighbours = ball_query(xyz, centres, self.radii, self.nsamples)
        offsets = torch.arange(0, batch * count, count, device=xyz.device).view(batch, 1, 1)
        points, groups = xyz.reshape(-1, 3), centres.reshape(-1, 3)
        pooled = []
        for layers, index in zip(scales, neighbours):
            weight, bias = layers[0]
            rows = (index + offsets).reshape(-1, index.shape[-1])
            projected = None if features is None else functional.linear(
                features, weight[:, 3:]).reshape(batch * count, -1)
            widest = max(w.shape[0] for w, _ in layers)
            step = max(1, _GROUP_CHUNK // (index.shape[-1] * widest))
            parts = []
            for start in range(0, rows.shape[0], step):
                chunk = rows[start:start + step]
                relative = points[chunk] - groups[start:start + step].unsqueeze(1)
                hidden = functional.linear(relative, weight[:, :3], bias)
                if projected is not None:
                    hidden += projected[chunk]
                parts.append(_pool_folded(hidden, layers[1:]))
            pooled.append(torch.cat(parts).view(batch, self.npoint, -1))
        return centres, torch.cat(pooled, -1)


# GenPose's ClsMSG_CFG_Light: per level npoint, radii (m), nsamples, per-scale MLPs.
LIGHT_NPOINTS = (512, 256, 128, None)
LIGHT_RADII = ((0.02, 0.04), (0.04, 0.08), (0.08, 0.16), (None, None))
LIGHT_NSAMPLES = ((16, 32), (16, 32), (16, 32), (None, None))
LIGHT_MLPS = (((16, 16, 32), (32, 32, 64)),
              ((64, 64, 128), (64, 96, 128)),
              ((128, 196, 256), (128, 196, 256)),
              ((256, 256, 512), (256, 384, 512)))


class PointNet2Encoder(nn.Module):
    """Raw camera-frame points (B, N, 3) -> global feature (B, 1024 for the light config)."""

    def __init__(self, npoints: Sequence[Optional[int]] = LIGHT_NPOINTS,
                 radii: Sequence[Sequence[Optional[float]]] = LIGHT_RADII,
                 nsamples: Sequence[Sequence[Optional[int]]] = LIGHT_NSAMPLES,
                 mlps: Sequence[Sequence[Sequence[int]]] = LIGHT_MLPS):
        super().__init__()
        levels = []
        channels = 0
        for npoint, level_radii, level_nsamples, level_mlps in zip(
                npoints, radii, nsamples, mlps):
            level = SetAbstractionMSG(npoint, level_radii, level_nsamples, channels,
                                      level_mlps)
            levels.append(level)
            channels = level.out_channels
        self.levels = nn.ModuleList(levels)
        self.feature_dim = channels

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Encode a batch of point clouds (B, N, 3)."""
        if points.dim() != 3 or points.shape[-1] != 3:
            raise ValueError('expected points of shape (B, N, 3), got %s'
                             % (tuple(points.shape),))
        xyz, features = points, None
        for level in self.levels:
            xyz, features = level(xyz, features)
        return features.squeeze(1)
