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


"""PointNet++ encoder: the pure-PyTorch ops against naive references, and the network."""

import numpy as np
import pytest
import torch

from catpose_ros.model import pointnet2
from catpose_ros.model.pointnet2 import (ball_query, furthest_point_sample, gather_points,
                                         PointNet2Encoder)


def naive_fps(xyz: np.ndarray, npoint: int) -> list:
    """Textbook furthest point sampling from index 0."""
    chosen = [0]
    nearest = np.full(len(xyz), np.inf)
    for _ in range(npoint - 1):
        nearest = np.minimum(nearest, ((xyz - xyz[chosen[-1]]) ** 2).sum(-1))
        chosen.append(int(nearest.argmax()))
    return chosen


def naive_ball_query(xyz: np.ndarray, centre: np.ndarray, radius: float, nsample: int):
    """Apply the CUDA kernel's rule: first in-radius indices in order, padded with the first."""
    hits = [i for i, p in enumerate(xyz) if ((p - centre) ** 2).sum() < radius ** 2]
    hits = hits[:nsample]
    return hits + [hits[0]] * (nsample - len(hits))


@pytest.fixture(scope='module')
def encoder():
    torch.manual_seed(0)
    model = PointNet2Encoder().eval()
    with torch.no_grad():   # non-trivial batch-norm statistics
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model


def object_cloud(generator: torch.Generator, batch: int = 1, count: int = 1024):
    """Camera-frame points of a 10 cm object about 0.8 m away."""
    return torch.rand(batch, count, 3, generator=generator) * 0.1 + torch.tensor([0, 0, 0.8])


def test_fps_matches_the_textbook_algorithm():
    xyz = torch.rand(2, 300, 3, generator=torch.Generator().manual_seed(0))
    index = furthest_point_sample(xyz, 40)
    for b in range(2):
        assert index[b].tolist() == naive_fps(xyz[b].numpy(), 40)


def test_ball_query_takes_first_hits_in_index_order_and_pads(monkeypatch):
    xyz = object_cloud(torch.Generator().manual_seed(1), batch=3, count=400)
    centres = gather_points(xyz, furthest_point_sample(xyz, 50))
    monkeypatch.setattr(pointnet2, '_DISTANCE_CHUNK', 50 * 400)   # one cloud per chunk
    small, large = ball_query(xyz, centres, (0.02, 0.04), (16, 32))
    assert small.shape == (3, 50, 16) and large.shape == (3, 50, 32)
    full_ball = 0
    for b in range(3):
        for m in range(50):
            centre = centres[b, m].numpy()
            assert small[b, m].tolist() == naive_ball_query(xyz[b].numpy(), centre, 0.02, 16)
            expected = naive_ball_query(xyz[b].numpy(), centre, 0.04, 32)
            assert large[b, m].tolist() == expected
            full_ball += len(set(expected)) == 32
    assert full_ball > 0   # some balls overflow, so truncation is exercised


def test_output_shape_dtype_device(encoder):
    points = object_cloud(torch.Generator().manual_seed(2), batch=2)
    with torch.inference_mode():
        feature = encoder(points)
    assert feature.shape == (2, 1024) and encoder.feature_dim == 1024
    assert feature.dtype == torch.float32 and feature.device == points.device
    assert torch.isfinite(feature).all()


def test_rejects_points_of_the_wrong_shape(encoder):
    with pytest.raises(ValueError, match='B, N, 3'):
        encoder(torch.zeros(1024, 3))


def test_parameter_count_matches_genpose():
    assert sum(p.numel() for p in PointNet2Encoder().parameters()) == 1027552


def test_shuffling_all_but_the_seed_point_keeps_the_feature(encoder):
    """Invariance is exact when no first-level ball overflows (the only order-dependent step).

    Deeper levels group FPS centres, whose order does not depend on the input order.
    """
    generator = torch.Generator().manual_seed(3)
    points = torch.rand(1, 1024, 3, generator=generator) * 0.5 + torch.tensor([0, 0, 1.0])
    distances = torch.cdist(points[0], points[0])
    assert int((distances < 0.04).sum(-1).max()) <= 16   # no ball truncation
    assert int((distances < 0.04).sum(-1).max()) > 1     # but real neighbourhoods
    order = torch.cat((torch.zeros(1, dtype=torch.long), 1 + torch.randperm(1023,
                                                                            generator=generator)))
    with torch.inference_mode():
        reference = encoder(points)
        shuffled = encoder(points[:, order])
    torch.testing.assert_close(shuffled, reference, atol=1e-5, rtol=1e-5)


def test_batching_does_not_mix_objects(encoder):
    points = object_cloud(torch.Generator().manual_seed(4), batch=2)
    with torch.inference_mode():
        together = encoder(points)
        alone = torch.cat([encoder(points[i:i + 1]) for i in range(2)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


def test_tiled_duplicate_points_give_finite_features(encoder):
    few = object_cloud(torch.Generator().manual_seed(5), count=60)
    tiled = few.repeat(1, 18, 1)[:, :1024]
    single = torch.full((1, 1024, 3), 0.5)
    with torch.inference_mode():
        assert torch.isfinite(encoder(tiled)).all()
        assert torch.isfinite(encoder(single)).all()


def test_training_mode_backpropagates_to_every_weight():
    model = PointNet2Encoder(npoints=(64, 32, 16, None)).train()   # light MLPs, fewer centres
    points = object_cloud(torch.Generator().manual_seed(6), batch=2, count=256)
    model(points).square().mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
