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

"""Data-parallel training: two CPU processes (gloo) stay in lockstep, and torchrun works."""

import os
from pathlib import Path
import socket
import subprocess
import sys

import pytest
from support import face_frame, TINY
import torch
import torch.multiprocessing as mp

from catpose_ros.data.dataset import build_point_cache
from catpose_ros.model.checkpoint import load_checkpoint
from catpose_ros.training.config import TrainConfig
from catpose_ros.training.distributed import shutdown
from catpose_ros.training.trainer import Trainer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def tiny_config(cache: str, out_dir: Path) -> TrainConfig:
    return TrainConfig(stage='scratch', train_cache=cache, out_dir=str(out_dir), batch_size=2,
                       max_steps=3, save_every=1, log_every=1, num_draws=2, seed=5,
                       precision='fp32', threads=1)


def _worker(rank: int, port: int, cache: str, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE='2', LOCAL_RANK=str(rank),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    trainer = Trainer(tiny_config(cache, Path(out_dir)), TINY)
    trainer.run()
    # Parameters only: batch-norm running statistics follow each rank's own last batch
    # (DDP broadcasts rank 0's buffers at the start of every forward).
    parameters = {name: p.detach() for name, p in trainer.model.named_parameters()}
    torch.save(parameters, Path(out_dir) / ('rank%d.pt' % rank))
    shutdown(trainer.dist)


@pytest.fixture(scope='module')
def cache(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('cache') / 'points.npz'
    build_point_cache([face_frame(i) for i in range(4)], path, max_points=128)
    return str(path)


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_weights(cache, tmp_path):
    mp.spawn(_worker, args=(free_port(), cache, str(tmp_path)), nprocs=2, join=True)
    weights = [torch.load(tmp_path / ('rank%d.pt' % r)) for r in range(2)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    initial = Trainer(tiny_config(cache, tmp_path / 'fresh'), TINY).model
    assert not torch.equal(initial.score_net.rot_x_head[2].weight,
                           weights[0]['score_net.rot_x_head.2.weight'])
    _, _, meta = load_checkpoint(tmp_path / 'last.pt')
    assert meta['extra']['step'] == 3 and len(meta['extra']['torch_rng_ranks']) == 2


@pytest.mark.slow
def test_torchrun_trains_with_two_cpu_processes(cache, tmp_path):
    command = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
               '--master_port', str(free_port()), '-m', 'catpose_ros.cli.main', 'train',
               '--stage', 'pretrain', '--train-cache', cache, '--out-dir', str(tmp_path),
               '--batch-size', '2', '--max-steps', '2', '--save-every', '1',
               '--precision', 'fp32', '--threads', '1']
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    _, _, meta = load_checkpoint(tmp_path / 'last.pt')
    assert meta['extra']['step'] == 2
