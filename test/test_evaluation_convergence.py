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

"""Convergence curves read from training histories and chained across stages."""

import argparse
import json
from pathlib import Path

import cv2
import pytest

from catpose_ros.cli import results
from catpose_ros.evaluation.convergence import (convergence_table, load_curve,
                                                parse_recipe)

METRIC = 'val_diff_map_10deg5cm'


def write_run(path, entries):
    path.mkdir(parents=True)
    (path / 'history.json').write_text(json.dumps(entries))
    return path


@pytest.fixture
def runs(tmp_path):
    """Write a pre-training stage (regression metrics only), its joint stage and a scratch run."""
    pretrain = write_run(tmp_path / 'pretrain', [
        {'step': 50, 'loss': 1.0}, {'step': 100, 'val_reg_map_10deg5cm': 20.0},
        {'step': 150, 'loss': 0.5}])
    joint = write_run(tmp_path / 'joint', [
        {'step': 100, METRIC: 30.0}, {'step': 200, METRIC: 45.0}, {'step': 250, 'loss': 2.0}])
    scratch = write_run(tmp_path / 'scratch', [
        {'step': 100, METRIC: 5.0}, {'step': 200, METRIC: 32.0}, {'step': 300, METRIC: 31.0},
        {'step': 400, METRIC: 40.0}])
    return pretrain, joint, scratch


def test_stages_are_chained_by_their_last_logged_step(runs):
    pretrain, joint, _ = runs
    curve = load_curve('joint', [pretrain, joint], METRIC)
    assert curve.steps.tolist() == [250, 350]
    assert curve.values.tolist() == [30.0, 45.0]
    assert curve.best() == (45.0, 350)


def test_table_times_each_recipe_against_the_baseline_best(runs):
    pretrain, joint, scratch = runs
    curves = [load_curve('joint', [pretrain, joint], METRIC),
              load_curve('scratch', [scratch], METRIC)]
    assert curves[0].first_step_reaching(40.0) == 350
    assert curves[0].first_step_reaching(50.0) is None
    table = convergence_table(curves, 'scratch')
    assert '| joint | 250-350 | 45.0 | 350 | 350 |' in table
    assert '| scratch | 100-400 | 40.0 | 400 | 400 |' in table
    with pytest.raises(ValueError, match='baseline'):
        convergence_table(curves, 'pretrain')


def test_errors_improve_downwards(runs):
    _, _, scratch = runs
    for entry_step, value in ((500, 12.0), (600, 9.0)):
        history = json.loads((scratch / 'history.json').read_text())
        history.append({'step': entry_step, 'val_diff_median_rotation_deg': value})
        (scratch / 'history.json').write_text(json.dumps(history))
    curve = load_curve('scratch', [scratch], 'val_diff_median_rotation_deg')
    assert curve.lower_is_better and curve.best() == (9.0, 600)
    assert curve.first_step_reaching(12.5) == 500


def test_recipe_spec_and_missing_history_are_clear_errors(tmp_path):
    assert parse_recipe('joint=a+b/c') == ('joint', [Path('a'), Path('b/c')])
    with pytest.raises(ValueError, match='NAME=RUN_DIR'):
        parse_recipe('runs/joint')
    with pytest.raises(FileNotFoundError, match='history.json'):
        load_curve('x', [tmp_path], METRIC)


def test_results_section_writes_table_and_plot(runs, tmp_path):
    pretrain, joint, scratch = runs
    args = argparse.Namespace(
        out=tmp_path / 'out', convergence_metric=METRIC, convergence_baseline='scratch',
        convergence=['joint=%s+%s' % (pretrain, joint), 'scratch=%s' % scratch])
    text = '\n'.join(results._convergence_section(args))
    assert '| joint | 250-350 | 45.0 | 350 | 350 |' in text
    image = cv2.imread(str(tmp_path / 'out' / 'img' / 'convergence.png'))
    assert image is not None and image.shape[0] > 100
    assert results._convergence_section(argparse.Namespace(convergence=[])) == []
