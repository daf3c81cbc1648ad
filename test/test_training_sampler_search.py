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

"""`catpose tune-sampler`: a coordinate search on validation objects, stored in the model."""

import pytest
from support import face_frame, TINY
import torch

from catpose_ros.cli.main import main
from catpose_ros.data.dataset import build_point_cache
from catpose_ros.model.checkpoint import load_checkpoint, save_checkpoint
from catpose_ros.model.pose_sampler import SamplerConfig
from catpose_ros.model.posenet import CatPoseNet
from catpose_ros.perception.estimator import stored_sampler_config
from catpose_ros.training import sampler_search as search


@pytest.fixture(scope='module')
def cache(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('cache') / 'val.npz'
    build_point_cache([face_frame(i) for i in range(3)], path, max_points=128)
    return str(path)


@pytest.fixture(scope='module')
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp('model') / 'tiny.pt', CatPoseNet(TINY), TINY)


def test_search_never_ends_worse_than_it_started(cache, model_file):
    torch.set_num_threads(1)
    model, _, _ = load_checkpoint(model_file)
    encoded = search.encode_validation(model, cache, 6, torch.device('cpu'))
    start = SamplerConfig(steps=5)
    best, log = search.coordinate_search(model, encoded, start, axes=('steps', 'w_max'))
    scores = {name: result['selection'] for name, result in log}
    assert log[0][0] == search.describe(start)
    assert scores[search.describe(best)] == max(scores.values())
    assert len(log) == 1 + 4 + 6       # the start, then every step count and every w_max


def test_the_cli_stores_the_chosen_settings_in_the_model(cache, model_file, tmp_path):
    out, report = tmp_path / 'tuned.pt', tmp_path / 'search.md'
    assert main(['tune-sampler', '--model', str(model_file), '--val-cache', cache,
                 '--objects', '4', '--out', str(out), '--report', str(report),
                 '--threads', '1']) == 0
    _, _, meta = load_checkpoint(out)
    chosen = stored_sampler_config(meta)
    assert isinstance(chosen, SamplerConfig)
    assert search.describe(chosen) in report.read_text()
