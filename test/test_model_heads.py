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


"""Regression head, score net and the assembled CatPoseNet."""

import pytest
import torch

from catpose_ros.model.heads import GaussianFourierEmbedding, RegressionHead, ScoreNet
from catpose_ros.model.posenet import CatPoseNet, ModelConfig


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)


def randomise_output_layers(net: ScoreNet):
    """Give the zero-initialised last layers weights so the outputs are not trivially 0."""
    with torch.no_grad():
        for head in (net.rot_x_head, net.rot_y_head, net.translation_head):
            head[-1].weight.normal_(0.0, 0.1)
            head[-1].bias.normal_(0.0, 0.1)


def test_regression_head_maps_features_to_pose_vectors(generator):
    head = RegressionHead(1024, 256)
    assert head(torch.randn(5, 1024, generator=generator)).shape == (5, 9)
    assert sum(p.numel() for p in head.parameters()) == 1024 * 256 + 256 + 256 * 9 + 9


def test_score_net_size_matches_genpose():
    net = ScoreNet()
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == 1169289
    with pytest.raises(ValueError, match='9'):
        ScoreNet(pose_dim=7)


def test_score_net_starts_at_zero_score(generator):
    net = ScoreNet()
    score = net(torch.randn(4, 9, generator=generator), torch.rand(4, generator=generator),
                torch.randn(4, 1024, generator=generator), torch.ones(4))
    assert score.shape == (4, 9)
    assert torch.count_nonzero(score) == 0


def test_score_is_network_output_over_sigma(generator):
    net = ScoreNet().eval()
    randomise_output_layers(net)
    x, t = torch.randn(3, 9, generator=generator), torch.rand(3, generator=generator)
    features = torch.randn(3, 1024, generator=generator)
    small = net(x, t, features, torch.full((3,), 0.1))
    large = net(x, t, features, torch.full((3,), 2.0))
    torch.testing.assert_close(small * (0.1 + 1e-7), large * (2.0 + 1e-7))
    assert torch.count_nonzero(small) == small.numel()


def test_each_head_writes_its_own_three_numbers(generator):
    net = ScoreNet()
    with torch.no_grad():
        net.rot_y_head[-1].bias.fill_(1.0)
    score = net(torch.zeros(2, 9), torch.full((2,), 0.5), torch.zeros(2, 1024), torch.ones(2))
    expected = torch.tensor([0, 0, 0, 1, 1, 1, 0, 0, 0], dtype=torch.float32)
    torch.testing.assert_close(score, expected.expand(2, 9) / (1 + 1e-7))


def test_fourier_weights_are_a_fixed_saved_buffer_with_the_right_scale():
    torch.manual_seed(0)
    embedding = GaussianFourierEmbedding(128, 30.0)
    assert 'weight' in embedding.state_dict() and not list(embedding.parameters())
    assert 20.0 < float(embedding.weight.std()) < 40.0
    at_zero = embedding(torch.zeros(2))
    torch.testing.assert_close(at_zero, torch.cat((torch.zeros(2, 64), torch.ones(2, 64)), 1))
    angles = embedding(torch.tensor([0.3]))
    torch.testing.assert_close(angles[:, :64] ** 2 + angles[:, 64:] ** 2, torch.ones(1, 64))


def test_catposenet_counts_and_wiring(generator):
    model = CatPoseNet().eval()
    counts = model.count_parameters()
    assert counts['encoder'] == 1027552 and counts['score_net'] == 1169289
    assert counts['encoder'] + counts['score_net'] == 2196841   # the paper's ~2.2M
    assert counts['total'] == sum(counts[k] for k in ('encoder', 'score_net',
                                                      'regression_head'))
    randomise_output_layers(model.score_net)
    features = torch.randn(2, 1024, generator=generator)
    x, t = torch.randn(2, 9, generator=generator), torch.tensor([1e-5, 0.55])
    expected = model.score_net(x, t, features, model.sde.sigma(t))
    torch.testing.assert_close(model.score(x, t, features), expected)
    assert model.regress(features).shape == (2, 9)


def test_encode_feeds_both_heads_and_gradients_reach_the_encoder(generator):
    config = ModelConfig(sa_npoints=(32, 16, 8, None))
    model = CatPoseNet(config).train()
    randomise_output_layers(model.score_net)
    points = torch.rand(2, 128, 3, generator=generator) * 0.1 + torch.tensor([0, 0, 0.7])
    features = model.encode(points)
    t = torch.full((2,), 0.3)
    loss = model.regress(features).square().sum() + model.score(
        torch.zeros(2, 9), t, features).square().sum()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_model_config_round_trips_through_a_plain_dict():
    config = ModelConfig(categories=('mug', 'bowl'), sigma_max=20.0)
    values = config.to_dict()
    assert isinstance(values['sa_mlps'], list) and isinstance(values['sa_mlps'][0][0], list)
    assert ModelConfig.from_dict(values) == config
    assert config.sde().sigma_max == 20.0
    with pytest.raises(ValueError, match='bogus'):
        ModelConfig.from_dict(dict(values, bogus=1))
