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

"""`catpose benchmark`: configuration names, rows in Markdown and JSON, the RSS soak."""

import argparse
import itertools
import json

import pytest
from support import save_tiny_checkpoint

from catpose_ros.cli import benchmark
from catpose_ros.cli.main import main
from catpose_ros.model.pose_sampler import SamplerConfig


def test_configuration_names_say_mode_sampler_and_k():
    names = [c.name for c in benchmark.default_configs()]
    assert 'track DDIM10 K=1 guided' in names and 'single PF-ODE K=50 mean' in names
    assert len(set(names)) == len(names)
    pooled = benchmark.BenchConfig('single', 'pf_ode', candidates=50).params()
    assert pooled['sampler.guidance'] == 'none' and pooled['sampler.aggregation'] == 'mean'
    assert benchmark.BenchConfig('track', 'ddim', 5).params()['tracking.mode'] == 'track'
    assert 'tracking.relock_after_frames' not in benchmark.BenchConfig('track', 'ddim').params()
    warm_only = benchmark.BenchConfig('track', 'ddim', cold_checks=False)
    assert warm_only.params()['tracking.relock_after_frames'] == 0
    assert 'track DDIM30 K=1 guided bf16' in names
    half = benchmark.BenchConfig('track', 'ddim', 30, precision='bf16')
    assert half.params()['model.precision'] == 'bf16'
    assert benchmark.BenchConfig('track', 'ddim').params()['model.precision'] == 'fp32'
    assert [c.name for c in benchmark.select_configs(benchmark.default_configs(),
                                                     ['track DDIM1'])] == [
        'track DDIM10 K=1 guided', 'track DDIM10 K=1 guided warm only']
    with pytest.raises(ValueError, match='no configuration'):
        benchmark.select_configs(benchmark.default_configs(), ['DDIM7'])


def test_frames_play_forwards_and_backwards():
    assert list(itertools.islice(benchmark.ping_pong(3), 8)) == [0, 1, 2, 1, 0, 1, 2, 1]


def test_accuracy_file_forms(tmp_path):
    by_name = tmp_path / 'a.json'
    by_name.write_text(json.dumps({'track DDIM10 K=1 guided': {'mAP_10deg5cm': 0.5}}))
    rows = tmp_path / 'b.json'
    rows.write_text(json.dumps({'rows': [{'config': 'single PF-ODE K=50 mean', 'x': 1}]}))
    assert benchmark.load_accuracy(str(by_name)) == {
        'track DDIM10 K=1 guided': {'mAP_10deg5cm': 0.5}}
    assert benchmark.load_accuracy(str(rows)) == {'single PF-ODE K=50 mean': {'x': 1}}


def test_benchmark_writes_rows_for_each_configuration_and_object_count(tmp_path, capsys):
    model = save_tiny_checkpoint(tmp_path / 'tiny.pt')
    accuracy = tmp_path / 'accuracy.json'
    accuracy.write_text(json.dumps({'track DDIM5 K=1 guided': {'10deg5cm': 0.25}}))
    out_json, out_md = tmp_path / 'bench.json', tmp_path / 'bench.md'
    assert main(['benchmark', '--model', str(model), '--device', 'cpu', '--rendered', '2',
                 '--frames', '2', '--warmup', '1', '--only', 'track DDIM5', 'single PF-ODE',
                 '--objects', '1', '3', '--threads', '1', '--json', str(out_json),
                 '--encoder-threads', '1', '--encoder-runs', '2',
                 '--markdown', str(out_md), '--accuracy', str(accuracy),
                 '--no-progress', '--no-segmentation']) == 0
    rows = json.loads(out_json.read_text())['rows']
    assert [(r['config'], r['objects']) for r in rows] == [
        ('single PF-ODE K=1 guided', 1), ('single PF-ODE K=1 guided', 3),
        ('single PF-ODE K=50 mean', 1), ('single PF-ODE K=50 mean', 3),
        ('track DDIM5 K=1 guided', 1), ('track DDIM5 K=1 guided', 3)]
    for row in rows:
        assert row['device'] == 'cpu' and row['fps'] > 0 and row['frames'] == 2
        assert 0 < row['p50_ms'] <= row['p99_ms']
        assert set(row['stages_p50_ms']) == {name for name, _ in benchmark.STAGES}
        assert row['stages_p50_ms']['encoder'] > 0 and row['host_rss_mb'] > 0
        assert row['objects_estimated'] == row['objects']
    assert rows[-1]['eval_accuracy'] == {'10deg5cm': 0.25} and rows[0]['eval_accuracy'] is None
    # adaptive PF-ODE vs fixed DDIM (5 steps, plus one when the model's settings denoise last)
    final = int(SamplerConfig().final_denoise)
    assert rows[0]['nfe'] > 10 and rows[-1]['nfe'] == 5 + final
    encoder = json.loads(out_json.read_text())['encoder']
    assert [(r['path'], r['objects'], r['threads']) for r in encoder] == [
        ('reference', 1, 1), ('fast', 1, 1), ('reference', 3, 1), ('fast', 3, 1)]
    assert all(r['p50_ms'] > 0 for r in encoder)
    printed = capsys.readouterr().out
    assert '| track DDIM5 K=1 guided | cpu | 3 |' in printed and 'Summary:' in printed
    assert out_md.read_text().strip() == printed.strip()


@pytest.mark.slow
def test_soak_keeps_host_memory_flat(tmp_path, capsys):
    model = save_tiny_checkpoint(tmp_path / 'tiny.pt')
    out_json = tmp_path / 'soak.json'
    assert main(['benchmark', '--model', str(model), '--device', 'cpu', '--rendered', '3',
                 '--soak', '2000', '--objects', '6', '--threads', '1', '--json',
                 str(out_json), '--no-progress']) == 0
    report = json.loads(out_json.read_text())['soak']
    assert report['frames'] == 2000 and report['growth_mb'] < benchmark.RSS_LIMIT_MB
    assert 'growth' in capsys.readouterr().out


def test_segmenter_table_times_the_given_weights_per_device(tmp_path):
    from catpose_ros.categories import category_names
    from catpose_ros.cli import benchmark_segmentation
    from catpose_ros.perception.maskrcnn import (build_maskrcnn, save_maskrcnn_weights,
                                                 SLIM_ARCHITECTURE)

    weights = save_maskrcnn_weights(
        build_maskrcnn(6, SLIM_ARCHITECTURE, in_channels=4), tmp_path / 'seg.pt',
        category_names(), SLIM_ARCHITECTURE, in_channels=4, min_size=120, max_size=160)
    args = argparse.Namespace(segmentation_weights=str(weights), no_segmentation=False,
                              frames=2, warmup=1)
    table = benchmark_segmentation.segmentation_table(args, ['cpu'])
    assert 'Mask R-CNN RGB-D 640x480 (cpu)' in table
    args.no_segmentation = True
    assert benchmark_segmentation.segmentation_table(args, ['cpu']) is None
