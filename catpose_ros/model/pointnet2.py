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
"""

from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

# Distance-matrix elements per chunk (B * M * N): 16M floats, 64 MB.
_DISTANCE_CHUNK = 1 << 24


@torch.no_grad()
def furthest_point_sample(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """Pick `npoint` indices per cloud (B, N, 3) by furthest point sampling from index 0."""
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


@torch.no_grad()
def ball_query(xyz: torch.Tensor, centres: torch.Tensor, radii: Sequence[float],
               nsamples: Sequence[int]) -> List[torch.Tensor]:
    """Neighbour indices (B, M, nsample) of each centre, one tensor per (radius, nsample).

    Matches the CUDA kernel: the first `nsample` points with squared distance < r^2 in
    index order; missing slots repeat the first hit.
    """
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

    def forward(self, xyz: torch.Tensor, features: Optional[torch.Tensor]
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Map xyz (B, N, 3), features (B, N, C) to centres (B, M, 3), (B, M, C_out)."""
        if self.npoint is None:
            grouped = xyz.unsqueeze(1) if features is None else torch.cat(
                (xyz, features), -1).unsqueeze(1)
            pooled = [self._pool(mlp, grouped) for mlp in self.mlps]
            return xyz.new_zeros(xyz.shape[0], 1, 3), torch.cat(pooled, -1)
        centres = gather_points(xyz, furthest_point_sample(xyz, self.npoint))
        neighbours = ball_query(xyz, centres, self.radii, self.nsamples)
        pooled = []
        for mlp, index in zip(self.mlps, neighbours):
            grouped = gather_points(xyz, index) - centres.unsqueeze(2)
            if features is not None:
                grouped = torch.cat((grouped, gather_points(features, index)), -1)
            pooled.append(self._pool(mlp, grouped))
        return centres, torch.cat(pooled, -1)

    @staticmethod
    def _pool(mlp: nn.Sequential, grouped: torch.Tensor) -> torch.Tensor:
        """Run the shared MLP on groups (B, M, S, C) and max-pool -> (B, M, C_out)."""
        out = mlp(grouped.reshape(-1, grouped.shape[-1]))
        return out.reshape(grouped.shape[:-1] + (-1,)).amax(2)


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
