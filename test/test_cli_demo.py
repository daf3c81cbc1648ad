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

"""`catpose demo` runs end to end on a synthetic scene and reports scored estimates."""

import argparse

from support import TINY
import torch

from catpose_ros.categories import category_names
from catpose_ros.cli.main import main
from catpose_ros.model.checkpoint import save_checkpoint
from catpose_ros.model.posenet import CatPoseNet
from catpose_ros.perception.maskrcnn import (build_maskrcnn, save_maskrcnn_weights,
                                             SLIM_ARCHITECTURE)


def test_demo_tracks_a_synthetic_scene_and_writes_an_overlay(tmp_path, capsys):
    model = tmp_path / 'tiny.pt'
    torch.manual_seed(0)
    save_checkpoint(model, CatPoseNet(TINY), TINY)
    out = tmp_path / 'overlay.png'
    assert main(['demo', '--model', str(model), '--frames', '2', '--steps', '2', '--masks',
                 'gt', '--threads', '1', '--out', str(out), '--device', 'cpu']) == 0
    printed = capsys.readouterr().out
    assert 'masks: ground truth' in printed
    lines = {line[:9]: line for line in printed.splitlines() if line.startswith('frame ')}
    assert '(new)' in lines['frame  0:'] and '(warm)' in lines['frame  1:']
    assert 'all frames:' in printed and 'latency per frame' in printed
    assert out.stat().st_size > 10_000


def test_demo_segments_with_the_given_maskrcnn_and_says_so(tmp_path, capsys):
    model = tmp_path / 'tiny.pt'
    save_checkpoint(model, CatPoseNet(TINY), TINY)
    weights = save_maskrcnn_weights(
        build_maskrcnn(6, SLIM_ARCHITECTURE, in_channels=4), tmp_path / 'seg.pt',
        category_names(), SLIM_ARCHITECTURE, in_channels=4, min_size=120, max_size=160)
    assert main(['demo', '--model', str(model), '--frames', '1', '--steps', '2',
                 '--segmentation-weights', str(weights), '--threads', '1',
                 '--out', str(tmp_path / 'o.png'), '--device', 'cpu']) == 0
    printed = capsys.readouterr().out
    assert 'masks: predicted by Mask R-CNN %s (RGB-D input)' % weights in printed
    assert 'frame  0:' in printed and 'segmentation' in printed


def test_demo_runs_one_torch_thread_by_default_like_the_node():
    from catpose_ros.cli.main import build_parser
    from catpose_ros.ros.params import ModelParams

    parser = build_parser()
    assert parser.parse_args(['demo']).threads == 1 == ModelParams().cpu_threads
    assert parser.parse_args(['demo', '--threads', '2']).threads == 2
    assert parser.parse_args(['eval', '--data', 'x', '--split', 's', '--out', 'y']).threads == 0


def test_every_subcommand_has_help(capsys):
    for command in ('demo', 'data', 'train', 'train-segmentation', 'eval-segmentation',
                    'bag', 'benchmark', 'eval', 'tune-sampler', 'results', 'stability'):
        try:
            main([command, '--help'])
        except SystemExit as stop:
            assert stop.code == 0
        assert 'usage: catpose ' + command in capsys.readouterr().out


def _subparsers(parser: argparse.ArgumentParser):
    """Yield (command path, parser) for every (nested) sub-command of parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield name, child
                for sub_name, grandchild in _subparsers(child):
                    yield name + ' ' + sub_name, grandchild


def test_every_flag_of_every_command_explains_itself():
    from catpose_ros.cli.main import build_parser
    commands = list(_subparsers(build_parser()))
    missing = ['%s %s' % (command, action.option_strings[-1])
               for command, parser in commands for action in parser._actions
               if action.option_strings and action.help in (None, '')
               and not isinstance(action, argparse._HelpAction)]
    assert missing == []
    no_defaults = [command for command, parser in commands
                   if any(action.option_strings for action in parser._actions[1:])
                   and not issubclass(parser.formatter_class,
                                      argparse.ArgumentDefaultsHelpFormatter)]
    assert no_defaults == []


def test_sampler_flags_override_only_what_they_name():
    from catpose_ros.cli.eval import sampler_overrides
    from catpose_ros.cli.main import build_parser
    args = build_parser().parse_args(['eval', '--data', 'd', '--split', 's', '--out', 'o',
                                      '--track-t0', '0.25', '--steps', '10'])
    assert sampler_overrides(args) == {'track_t0': 0.25, 'steps': 10}


def test_stability_tracks_scenes_and_prints_the_jitter_table(tmp_path, capsys):
    model = tmp_path / 'tiny.pt'
    torch.manual_seed(0)
    save_checkpoint(model, CatPoseNet(TINY), TINY)
    assert main(['stability', '--model', str(model), '--scenes', '1', '--frames', '3',
                 '--steps', '2', '--threads', '1', '--device', 'cpu']) == 0
    printed = capsys.readouterr().out
    assert 'ddim 2 steps, mode track, 1 static scenes x 3 frames' in printed
    assert 'as estimated: median/p90/max' in printed
