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

"""The three training stages run, checkpoint, resume and chain (pretrain -> joint)."""

from pathlib import Path

import pytest
from support import face_frame, TINY
import torch
import yaml

from catpose_ros.data.dataset import build_point_cache, PosePointDataset
from catpose_ros.model.checkpoint import load_checkpoint
from catpose_ros.model.posenet import ModelConfig
from catpose_ros.training.config import TrainConfig
from catpose_ros.training.throughput import format_throughput, measure_throughput, PHASES
from catpose_ros.training.trainer import (EpochBatchSampler, export_for_inference,
                                          learning_rate, Trainer)


@pytest.fixture(scope='module')
def cache(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('cache') / 'points.npz'
    build_point_cache([face_frame(i) for i in range(3)], path, max_points=128)
    return str(path)


def tiny_config(cache: str, out_dir: Path, **overrides) -> TrainConfig:
    values = {'train_cache': cache, 'val_cache': cache, 'out_dir': str(out_dir),
              'batch_size': 2, 'max_steps': 2, 'log_every': 1, 'eval_every': 2,
              'save_every': 1, 'num_draws': 2, 'val_objects': 2, 'val_steps': 2, 'seed': 3}
    values.update(overrides)
    return TrainConfig(**values)


def test_stages_chain_and_record_their_losses(cache, tmp_path):
    torch.set_num_threads(1)
    pretrain = Trainer(tiny_config(cache, tmp_path / 'pre'), TINY)
    path = pretrain.run()
    losses = [h for h in pretrain.history if 'loss' in h]
    assert losses and all('regression' in h and 'diffusion' not in h for h in losses)
    assert any('val_reg_median_rotation_deg' in h for h in pretrain.history)
    assert all(0 <= h['val_reg_map_10deg5cm'] <= 100 for h in pretrain.history
               if 'val_reg_map_10deg5cm' in h)
    assert any('val_reg_map_10deg5cm' in h for h in pretrain.history)

    joint = Trainer(tiny_config(cache, tmp_path / 'joint', stage='joint', init_from=str(path)))
    joint.run()
    assert all('regression' in h and 'diffusion' in h for h in joint.history if 'loss' in h)
    assert any('val_diff_5deg2cm' in h for h in joint.history)

    scratch = Trainer(tiny_config(cache, tmp_path / 'scratch', stage='scratch'), TINY)
    scratch.run()
    assert all('regression' not in h for h in scratch.history if 'loss' in h)
    assert not any('val_reg_5deg2cm' in h for h in scratch.history)


def test_pretrain_leaves_the_score_network_untouched(cache, tmp_path):
    torch.set_num_threads(1)
    trainer = Trainer(tiny_config(cache, tmp_path), TINY)
    before = {k: v.clone() for k, v in trainer.model.score_net.state_dict().items()}
    encoder_before = next(trainer.model.encoder.parameters()).clone()
    trainer.run()
    after = trainer.model.score_net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.equal(encoder_before, next(trainer.model.encoder.parameters()))


def test_run_resumes_from_last_checkpoint(cache, tmp_path):
    torch.set_num_threads(1)
    Trainer(tiny_config(cache, tmp_path, val_cache=''), TINY).run()
    resumed = Trainer(tiny_config(cache, tmp_path, val_cache='', max_steps=3), TINY)
    assert resumed.step == 2
    resumed.run()
    model, config, meta = load_checkpoint(tmp_path / 'last.pt')
    assert meta['extra']['step'] == 3 and config.num_points == 64
    with pytest.raises(ValueError, match='stage'):
        Trainer(tiny_config(cache, tmp_path, stage='scratch'), TINY)


def test_config_validation_and_schedule():
    with pytest.raises(ValueError, match='init_from'):
        TrainConfig(stage='score')
    with pytest.raises(ValueError, match='precision'):
        TrainConfig(precision='fp8')
    assert TrainConfig(stage='joint').uses_regression  # joint without pre-training (ablation)
    with pytest.raises(ValueError, match='stage'):
        TrainConfig(stage='finetune')
    config = TrainConfig(lr=1e-3, warmup_steps=10, lr_decay_per_epoch=0.5, min_lr=1e-4)
    assert learning_rate(config, 0, 0) == pytest.approx(1e-4)
    assert learning_rate(config, 50, 1) == pytest.approx(5e-4)
    assert learning_rate(config, 50, 10) == pytest.approx(1e-4)
    cosine = TrainConfig(lr=1e-3, warmup_steps=10, min_lr=1e-4, lr_schedule='cosine')
    assert learning_rate(cosine, 10, 0, 110) == pytest.approx(1e-3)
    assert learning_rate(cosine, 60, 5, 110) == pytest.approx(5.5e-4)
    assert learning_rate(cosine, 110, 9, 110) == pytest.approx(1e-4)


def test_export_keeps_ema_weights_and_drops_training_state(cache, tmp_path):
    torch.set_num_threads(1)
    trainer = Trainer(tiny_config(cache, tmp_path / 'run'), TINY)
    last = trainer.run()
    exported = export_for_inference(last, tmp_path / 'model.pt')
    assert exported.stat().st_size < last.stat().st_size / 2
    model, config, meta = load_checkpoint(exported)
    assert config == TINY and meta['extra']['stage'] == 'pretrain'
    assert 'optimizer' not in meta['extra'] and meta['extra']['history']
    ema = trainer.ema.module.state_dict()
    assert all(torch.equal(v, ema[k]) for k, v in model.state_dict().items())


def test_resumed_run_repeats_the_uninterrupted_loss_curve(cache, tmp_path):
    torch.set_num_threads(1)
    options = {'val_cache': '', 'max_steps': 6, 'save_every': 100, 'stage': 'scratch',
               'precision': 'fp32'}
    whole = Trainer(tiny_config(cache, tmp_path / 'whole', **options), TINY)
    whole.run()
    Trainer(tiny_config(cache, tmp_path / 'cut', **dict(options, max_steps=4)), TINY).run()
    resumed = Trainer(tiny_config(cache, tmp_path / 'cut', **options), TINY)
    assert resumed.step == 4
    resumed.run()
    curve = [h['loss'] for h in whole.history if 'loss' in h]
    assert len(curve) == 6
    assert [h['loss'] for h in resumed.history if 'loss' in h] == pytest.approx(curve, abs=0)


def test_category_repeats_lengthen_the_epoch_and_reach_the_feature_bank(cache, tmp_path):
    torch.set_num_threads(1)
    names = [str(n) for n in PosePointDataset(cache).data['category_name']]
    plain = Trainer(tiny_config(cache, tmp_path / 'plain', val_cache=''), TINY)
    repeated = Trainer(tiny_config(cache, tmp_path / 'rep', val_cache='',
                                   category_repeats='%s=3' % names[0]), TINY)
    assert len(repeated.dataset) == len(plain.dataset) + 2 * names.count(names[0])
    path = repeated.run()
    score = Trainer(tiny_config(cache, tmp_path / 'score', stage='score', init_from=str(path),
                                feature_views=1, category_repeats='%s=2' % names[0]))
    assert len(score.dataset) == len(names) + names.count(names[0])
    with pytest.raises(ValueError):
        tiny_config(cache, tmp_path / 'bad', category_repeats='teapot=2')


def test_epoch_batches_cover_each_sample_once_and_resume_mid_epoch():
    sampler = EpochBatchSampler(10, 3, seed=1)
    batches = list(sampler)
    assert len(batches) == 3 and len({i for b in batches for i in b}) == 9
    sampler.set_position(0, 2)
    assert list(sampler) == batches[2:]
    sampler.set_position(1, 0)
    assert list(sampler) != batches
    ranks = [EpochBatchSampler(10, 2, seed=1, rank=r, world_size=2) for r in range(2)]
    first = [list(r)[0] for r in ranks]
    assert not set(first[0]) & set(first[1])


def test_score_stage_trains_only_the_score_network_on_a_saved_feature_bank(cache, tmp_path):
    torch.set_num_threads(1)
    pretrained = Trainer(tiny_config(cache, tmp_path / 'pre', val_cache=''), TINY).run()
    config = tiny_config(cache, tmp_path / 'score', stage='score', init_from=str(pretrained),
                         feature_views=2, feature_objects=3)
    trainer = Trainer(config)
    assert len(trainer.dataset) == 2 * 3 < 2 * len(PosePointDataset(cache))
    encoder = {k: v.clone() for k, v in trainer.model.encoder.state_dict().items()}
    regression = {k: v.clone() for k, v in trainer.model.regression_head.state_dict().items()}
    trainer.run()
    assert all(torch.equal(v, trainer.model.encoder.state_dict()[k]) for k, v in encoder.items())
    assert all(torch.equal(v, trainer.model.regression_head.state_dict()[k])
               for k, v in regression.items())
    assert (tmp_path / 'score' / 'feature_bank.pt').exists()
    assert any('val_diff_5deg2cm' in h for h in trainer.history)
    assert all('regression' not in h for h in trainer.history if 'loss' in h)


def test_the_cli_builds_the_network_of_a_model_config_file(cache, tmp_path):
    from catpose_ros.cli.main import main

    config_file = tmp_path / 'tiny.yaml'
    config_file.write_text(yaml.safe_dump(TINY.to_dict()))
    out = tmp_path / 'run'
    assert main(['train', '--stage', 'pretrain', '--train-cache', cache, '--out-dir', str(out),
                 '--batch-size', '2', '--max-steps', '1', '--threads', '1',
                 '--model-config', str(config_file)]) == 0
    _, stored, _ = load_checkpoint(out / 'last.pt')
    assert stored == TINY
    (tmp_path / 'bad.yaml').write_text('sa_npoints: [8]\nwidth: 3\n')
    with pytest.raises(ValueError, match='width'):
        ModelConfig.from_file(str(tmp_path / 'bad.yaml'))


def test_throughput_benchmark_times_real_steps_and_writes_nothing(cache, tmp_path):
    trainer = Trainer(tiny_config(cache, tmp_path, stage='joint'), TINY)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    report = measure_throughput(trainer, steps=2)
    assert report['processes'] == 1 and report['steps'] == 2 and report['samples_per_s'] > 0
    assert sum(report['fraction_' + phase] for phase in PHASES) == pytest.approx(1.0)
    assert not (tmp_path / 'last.pt').exists()   # a measurement writes no checkpoint
    assert any(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    header, rule, row = format_throughput('joint', report).splitlines()
    assert header.count('|') == rule.count('|') == row.count('|')
    assert row.startswith('| joint | cpu | 1 | ')
