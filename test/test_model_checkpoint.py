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


"""Checkpoints round-trip, are written atomically and fail with a clear CheckpointError."""

from dataclasses import replace
import os

import pytest
from support import TINY
import torch

import catpose_ros
from catpose_ros.model import checkpoint as checkpoint_module
from catpose_ros.model.checkpoint import (CheckpointError, FORMAT_VERSION, load_checkpoint,
                                          read_payload, save_checkpoint)
from catpose_ros.model.posenet import CatPoseNet

# A small encoder keeps these tests fast; the format does not depend on the sizes.
SMALL = replace(TINY, categories=('bottle', 'mug'))   # a model of two categories


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    net = CatPoseNet(SMALL)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
    return net.eval()


@pytest.fixture
def saved(tmp_path, model):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    extra = {'stage': 'joint', 'epoch': 3, 'step': 1200,
             'optimizer': optimizer.state_dict(), 'ema': {'decay': 0.999}}
    return save_checkpoint(tmp_path / 'ckpt' / 'model.pt', model, SMALL, extra)


def test_round_trip_restores_weights_config_and_metadata(saved, model):
    loaded, config, metadata = load_checkpoint(saved)
    assert config == SMALL and not loaded.training
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    extra = metadata['extra']
    assert extra['stage'] == 'joint' and extra['epoch'] == 3 and extra['step'] == 1200
    assert metadata['package_version'] == catpose_ros.__version__
    assert metadata['format_version'] == FORMAT_VERSION
    assert metadata['categories'] == ['bottle', 'mug']
    assert extra['optimizer']['param_groups'][0]['lr'] == 1e-3
    points = torch.rand(1, 256, 3, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        torch.testing.assert_close(loaded.encode(points), model.encode(points))


def test_write_is_atomic_and_leaves_no_temporary_files(saved, model, monkeypatch):
    before = saved.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module.torch, 'save', crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(saved, model, SMALL, {})
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == [saved.name]


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match='not found: .*nothing.pt'):
        load_checkpoint(tmp_path / 'nothing.pt')


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='model.pt.*(truncated or corrupt)'):
        load_checkpoint(saved)


def test_garbage_file(tmp_path):
    path = tmp_path / 'noise.pt'
    path.write_bytes(os.urandom(2000))
    with pytest.raises(CheckpointError, match='noise.pt'):
        load_checkpoint(path)


def test_plain_state_dict_is_not_a_catpose_checkpoint(tmp_path, model):
    path = tmp_path / 'weights.pt'
    torch.save(model.state_dict(), path)
    with pytest.raises(CheckpointError, match='weights.pt is not a catpose_ros checkpoint'):
        load_checkpoint(path)


def test_pickled_objects_are_refused_without_running_them(tmp_path, model):
    path = tmp_path / 'whole_model.pt'
    torch.save(model, path)   # a full pickle needs weights_only=False
    with pytest.raises(CheckpointError, match='whole_model.pt'):
        load_checkpoint(path)


def test_newer_format_version(saved):
    payload = read_payload(saved)
    payload['format_version'] = FORMAT_VERSION + 1
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match='format version %d.*upgrade'
                       % (FORMAT_VERSION + 1)):
        load_checkpoint(saved)


def test_state_dict_mismatch(saved):
    payload = read_payload(saved)
    del payload['state_dict']['regression_head.mlp.0.weight']
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match='model.pt: weights do not fit.*regression_head'):
        load_checkpoint(saved)


def test_config_that_does_not_match_the_weights(saved):
    payload = read_payload(saved)
    payload['config']['head_hidden'] = 128
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match='weights do not fit'):
        load_checkpoint(saved)


def test_unknown_config_key(saved):
    payload = read_payload(saved)
    payload['config']['future_option'] = True
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match='invalid model config.*future_option'):
        load_checkpoint(saved)


class RunsCode:

    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_content_refused_for_safety_is_not_called_corrupt(tmp_path, saved):
    payload = read_payload(saved)
    payload['metadata']['hook'] = RunsCode()
    path = tmp_path / 'unsafe.pt'
    torch.save(payload, path)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert 'unsafe.pt' in message and 'system' in message and 'never runs code' in message
    assert 'corrupt' not in message and 'weights_only' not in message


def test_empty_file_says_so(tmp_path):
    path = tmp_path / 'empty.pt'
    path.write_bytes(b'')
    with pytest.raises(CheckpointError, match=r'empty.pt: the file is empty \(0 bytes\)'):
        load_checkpoint(path)


@pytest.mark.parametrize('version', [-1, 0, True, '1', 1.0, None])
def test_versions_below_the_supported_range_or_not_integers_are_refused(saved, version):
    payload = read_payload(saved)
    payload['format_version'] = version
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match='model.pt.*format version'):
        load_checkpoint(saved)


@pytest.mark.parametrize('entry, value', [('categories', 5), ('metadata', 5), ('config', 5),
                                          ('state_dict', [1]), ('package_version', 3),
                                          ('categories', [1, 2])])
def test_entries_of_the_wrong_type_give_a_clear_error(saved, entry, value):
    payload = read_payload(saved)
    payload[entry] = value
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match="model.pt: checkpoint entry '%s'" % entry):
        load_checkpoint(saved)


def test_non_finite_weights_are_refused_at_load(saved):
    payload = read_payload(saved)
    name = next(iter(payload['state_dict']))
    payload['state_dict'][name] = torch.full_like(payload['state_dict'][name], float('nan'))
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match='model.pt: 1 of .* NaN or inf .*%s' % name):
        load_checkpoint(saved)
