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


"""PointNet++ encoder: its ops against naive references and against each other, the network.

The compiled CPU kernels (numba) and the PyTorch ops must return identical indices, and the
inference fast path (folded batch norm) must give the training graph's features.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from catpose_ros.model import point_kernels, pointnet2
from catpose_ros.model.pointnet2 import (ball_query, ball_query_torch, furthest_point_sample,
                                         furthest_point_sample_torch, gather_points,
                                         PointNet2Encoder)

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / 'models' / 'catpose_default.pt'
needs_kernels = pytest.mark.skipif(not point_kernels.AVAILABLE, reason='numba not installed')


@pytest.fixture(params=['kernels', 'torch'])
def point_ops(request):
    """Run a test with the compiled kernels and again with the PyTorch ops."""
    if request.param == 'kernels' and not point_kernels.AVAILABLE:
        pytest.skip('numba not installed')
    previous = pointnet2.use_point_kernels(request.param == 'kernels')
    yield request.param
    pointnet2.use_point_kernels(previous)


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


def test_fps_matches_the_textbook_algorithm(point_ops):
    xyz = torch.rand(2, 300, 3, generator=torch.Generator().manual_seed(0))
    index = furthest_point_sample(xyz, 40)
    for b in range(2):
        assert index[b].tolist() == naive_fps(xyz[b].numpy(), 40)


def test_ball_query_takes_first_hits_in_index_order_and_pads(monkeypatch, point_ops):
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


def random_clouds(seed: int, batch: int, count: int) -> torch.Tensor:
    """Objects of random extent and distance, some with duplicated points (exact ties)."""
    generator = torch.Generator().manual_seed(seed)
    extent = 0.02 + 0.3 * torch.rand(batch, 1, 1, generator=generator)
    clouds = torch.randn(batch, count, 3, generator=generator) * extent
    clouds[..., 2] += 0.3 + 2.0 * torch.rand(batch, 1, generator=generator)
    clouds[0, count // 2:] = clouds[0, :count - count // 2].clone()   # points twice
    clouds[-1, 1::3] = clouds[-1, 0]                           # many copies of the seed
    return clouds


@needs_kernels
@pytest.mark.parametrize('seed, batch, count, npoint', [
    (0, 1, 1024, 512), (1, 6, 1024, 512), (2, 3, 512, 256), (3, 4, 256, 128), (4, 2, 37, 37)])
def test_kernel_fps_returns_the_pytorch_indices(seed, batch, count, npoint):
    clouds = random_clouds(seed, batch, count)
    assert torch.equal(point_kernels.furthest_point_sample(clouds, npoint),
                       furthest_point_sample_torch(clouds, npoint))


@needs_kernels
@pytest.mark.parametrize('seed, batch, count, npoint, radii', [
    (0, 1, 1024, 512, (0.02, 0.04)), (1, 6, 1024, 512, (0.02, 0.04)),
    (2, 3, 512, 256, (0.04, 0.08)), (3, 4, 256, 128, (0.08, 0.16)),
    (4, 2, 300, 40, (0.001, 0.5))])
def test_kernel_ball_query_returns_the_pytorch_indices(seed, batch, count, npoint, radii):
    clouds = random_clouds(seed, batch, count)
    centres = gather_points(clouds, furthest_point_sample_torch(clouds, npoint))
    centres[:, -1] += 10.0                  # a centre far from every point: no hit at all
    fast = point_kernels.ball_query(clouds, centres, radii, (16, 32))
    reference = ball_query_torch(clouds, centres, radii, (16, 32))
    for got, expected in zip(fast, reference):
        assert torch.equal(got, expected)
    assert bool((reference[0][:, -1] == 0).all())


@needs_kernels
def test_kernels_reject_what_they_cannot_take():
    with pytest.raises(ValueError, match='float32'):
        point_kernels.furthest_point_sample(torch.zeros(1, 10, 3, dtype=torch.float64), 4)
    with pytest.raises(ValueError, match='B, N, 3'):
        point_kernels.ball_query(torch.zeros(10, 3), torch.zeros(1, 2, 3), (0.1,), (4,))


def test_point_kernels_only_serve_cpu_float32():
    previous = pointnet2.use_point_kernels(True)
    try:
        assert pointnet2.point_kernels_active(torch.zeros(1, 4, 3)) == point_kernels.AVAILABLE
        assert not pointnet2.point_kernels_active(torch.zeros(1, 4, 3, dtype=torch.float64))
        pointnet2.use_point_kernels(False)
        assert not pointnet2.point_kernels_active(torch.zeros(1, 4, 3))
    finally:
        pointnet2.use_point_kernels(previous)


def training_graph_features(encoder: PointNet2Encoder, points: torch.Tensor) -> torch.Tensor:
    """Eval-mode features through the unfolded graph (gradients on) with the PyTorch ops."""
    previous = pointnet2.use_point_kernels(False)
    try:
        with torch.enable_grad():
            return encoder(points).detach()
    finally:
        pointnet2.use_point_kernels(previous)


@pytest.fixture(scope='module')
def shipped_encoder():
    from catpose_ros.model.checkpoint import load_checkpoint
    return load_checkpoint(SHIPPED_MODEL, map_location='cpu')[0].encoder.eval()


_REFERENCE_FEATURES = {}


@pytest.mark.parametrize('batch', [1, 3])
def test_inference_path_keeps_the_trained_features(shipped_encoder, point_ops, batch):
    points = object_cloud(torch.Generator().manual_seed(7), batch=batch)
    with torch.inference_mode():
        fast = shipped_encoder(points)
    if batch not in _REFERENCE_FEATURES:     # the same for both point-op paths
        _REFERENCE_FEATURES[batch] = training_graph_features(shipped_encoder, points)
    reference = _REFERENCE_FEATURES[batch]
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-5 * float(
        reference.abs().max()))


def small_encoder() -> PointNet2Encoder:
    """Build the encoder's structure with few centres and thin MLPs (fast to train)."""
    thin = (((8, 8), (8, 16)),) * 3 + (((16, 32), (16, 32)),)
    return PointNet2Encoder(npoints=(64, 32, 16, None), mlps=thin)


def test_folded_weights_follow_every_weight_change():
    """A training step or a checkpoint load changes weights in place: no stale fold."""
    model = small_encoder()
    points = object_cloud(torch.Generator().manual_seed(8), batch=2, count=256)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)

    def check():
        model.eval()
        with torch.no_grad():
            fast = model(points)
        torch.testing.assert_close(fast, training_graph_features(model, points),
                                   rtol=1e-5, atol=1e-5)
        return fast

    before = check()                        # folds the initial weights
    model.train()
    optimiser.zero_grad()
    model(points).square().mean().backward()
    optimiser.step()                        # weights and running statistics change in place
    assert not torch.allclose(check(), before)
    model.load_state_dict(small_encoder().state_dict())
    check()


def test_fold_batch_norm_equals_linear_then_norm():
    torch.manual_seed(9)
    linear, norm = torch.nn.Linear(5, 4, bias=True), torch.nn.BatchNorm1d(4).eval()
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.1, 2)
        norm.weight.uniform_(0.5, 2)
        norm.bias.uniform_(-1, 1)
        rows = torch.randn(7, 5)
        weight, bias = pointnet2.fold_batch_norm(linear, norm)
        torch.testing.assert_close(rows @ weight.T + bias, norm(linear(rows)))
    with pytest.raises(ValueError, match='running statistics'):
        pointnet2.fold_batch_norm(linear, torch.nn.BatchNorm1d(4, track_running_stats=False))


def test_linear_relu_matches_the_plain_ops():
    rows, weight, bias = torch.randn(300, 16), torch.randn(32, 16), torch.randn(32)
    torch.testing.assert_close(pointnet2.linear_relu(rows.view(10, 30, 16), weight, bias),
                               torch.relu(rows @ weight.T + bias).view(10, 30, 32))


def test_training_mode_never_takes_the_inference_path(monkeypatch):
    model = small_encoder().train()

    def refuse(*args):
        raise AssertionError('folded path used while training')

    monkeypatch.setattr(pointnet2.SetAbstractionMSG, '_forward_folded', refuse)
    points = object_cloud(torch.Generator().manual_seed(10), batch=2, count=256)
    with torch.no_grad():
        model(points)           # training mode under no_grad (batch statistics)
    model.eval()
    model(points)               # eval mode with gradients on


def reference_level(level, xyz, features):
    """Run one set-abstraction level as written in PointNet++: concatenate, MLP, amax."""
    def pool(mlp, grouped):
        rows = mlp(grouped.reshape(-1, grouped.shape[-1]))
        return rows.reshape(grouped.shape[:-1] + (-1,)).amax(2)

    if level.npoint is None:
        grouped = torch.cat((xyz, features), -1).unsqueeze(1)
        return None, torch.cat([pool(mlp, grouped) for mlp in level.mlps], -1)
    centres = gather_points(xyz, furthest_point_sample_torch(xyz, level.npoint))
    pooled = []
    for mlp, index in zip(level.mlps, ball_query_torch(xyz, centres, level.radii,
                                                       level.nsamples)):
        grouped = gather_points(xyz, index) - centres.unsqueeze(2)
        if features is not None:
            grouped = torch.cat((grouped, gather_points(features, index)), -1)
        pooled.append(pool(mlp, grouped))
    return centres, torch.cat(pooled, -1)


@pytest.mark.parametrize('clouds', ['duplicated coordinates', 'distinct points'])
def test_training_graph_equals_the_concatenated_groups_in_value_and_gradient(clouds):
    """Per-point first layer and max pooling: the textbook net's features and gradients.

    Ball query pads groups with repeated members (exact ties). Copies of one coordinate
    under different indices are ties too; there only the weights' gradients must agree, as
    max pooling routes the copies' shared gradient to one of them.
    """
    torch.manual_seed(11)
    model = small_encoder().double().train()
    if clouds == 'distinct points':
        points = object_cloud(torch.Generator().manual_seed(12), batch=3, count=256)
    else:
        points = random_clouds(12, batch=3, count=256)
    points = points.double().requires_grad_(True)
    features = model(points)
    features.square().sum().backward()
    gradients = {name: p.grad.clone() for name, p in model.named_parameters()}
    point_gradient = points.grad.clone()
    model.zero_grad()
    points.grad = None
    xyz, reference = points, None
    for level in model.levels:
        xyz, reference = reference_level(level, xyz, reference)
    torch.testing.assert_close(features, reference.squeeze(1), rtol=1e-12, atol=1e-12)
    reference.square().sum().backward()
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(gradients[name], parameter.grad, rtol=1e-9, atol=1e-10,
                                   msg=name)
    if clouds == 'distinct points':
        torch.testing.assert_close(point_gradient, points.grad, rtol=1e-9, atol=1e-10)
