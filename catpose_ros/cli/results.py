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

"""`catpose results`: regenerate the paper-style experiment tables and plots in one command.

On unseen test instances (the model's sampler settings having been chosen on the validation
split by `catpose tune-sampler`): NOCS mAP of the default inference, the regression head and
tracking against cold start (each a `catpose eval` run, reports kept under OUT/eval_*); the
sampling comparison (guidance schedules, K=50 mean pooling, PF-ODE, DDIM steps, with
latency); the symmetric-mode experiment with its Mollweide map; and, given training runs
(`--convergence NAME=RUN_DIR[+RUN_DIR]`), validation accuracy against steps per training
recipe. Writes OUT/results.md and OUT/img/*.png.
"""

import argparse
import json
from pathlib import Path
import shlex
from typing import Dict, List, Tuple

from catpose_ros.cli import HelpFormatter

MAP_COLUMNS = ('5deg2cm', '5deg5cm', '10deg2cm', '10deg5cm', 'iou25', 'iou50', 'iou75')


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the results sub-command."""
    parser = subparsers.add_parser(
        'results', help='regenerate the experiment tables and plots (docs/results.md)',
        formatter_class=HelpFormatter)
    parser.add_argument('--model', default='', help='checkpoint (default: the shipped model)')
    parser.add_argument('--test-data', type=Path, required=True,
                        help='NOCS-format root of unseen test frames')
    parser.add_argument('--test-split', default='camera_val', help='split under --test-data')
    parser.add_argument('--test-cache', required=True,
                        help='point cache of the same test split (sampling and symmetry)')
    parser.add_argument('--seq-data', type=Path, required=True,
                        help='NOCS-format root of test sequences (tracking vs cold start)')
    parser.add_argument('--seq-split', default='camera_val', help='split under --seq-data')
    parser.add_argument('--objects', type=int, default=600, help='cache objects scored')
    parser.add_argument('--frames', type=int, default=0, help='frames per eval (0: all)')
    parser.add_argument('--out', type=Path, default=Path('docs'), help='output directory')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads')
    parser.add_argument('--device', default='auto', help='auto, cpu or cuda[:N]')
    parser.add_argument('--convergence', action='append', default=[], metavar='NAME=DIR[+DIR]',
                        help='a training recipe to compare: its run directories in stage '
                        'order (repeat per recipe; e.g. joint=runs/pre+runs/joint)')
    parser.add_argument('--convergence-baseline', default='scratch',
                        help='recipe whose best value the others are timed against')
    parser.add_argument('--convergence-metric', default='val_diff_map_10deg5cm',
                        help='history.json entry compared')
    parser.set_defaults(func=run)


def _eval(args: argparse.Namespace, name: str, data: Path, split: str,
          extra: List[str], plots: bool = False) -> Dict:
    """Run `catpose eval` into OUT/eval/<name> and return its report."""
    from catpose_ros.cli.main import main

    out = args.out / 'eval' / name
    command = ['eval', '--data', str(data), '--split', split, '--out', str(out),
               '--frames', str(args.frames), '--threads', str(args.threads),
               '--device', args.device] + extra + ([] if plots else ['--no-plots'])
    if args.model:
        command += ['--model', args.model]
    if main(command):
        raise SystemExit('catpose %s failed' % ' '.join(command))
    return json.loads((out / 'report.json').read_text())


def _map_rows(rows: List[Tuple[str, Dict]]) -> str:
    lines = ['| run | objects | ' + ' | '.join(MAP_COLUMNS)
             + ' | objects within 5deg2cm / 10deg5cm (%) | median rot / trans |',
             '|---|---|' + '---|' * (len(MAP_COLUMNS) + 2)]
    for name, report in rows:
        errors = report.get('errors', {})
        lines.append('| %s | %d | %s | %.1f / %.1f | %s |' % (
            name, report['objects'],
            ' | '.join('%.1f' % report['mAP'][k] for k in MAP_COLUMNS),
            errors.get('accuracy_5deg2cm', float('nan')),
            errors.get('accuracy_10deg5cm', float('nan')),
            '%.1f deg / %.2f cm' % (errors.get('median_rotation_deg', float('nan')),
                                    errors.get('median_translation_cm', float('nan')))))
    return '\n'.join(lines)


def _per_category(report: Dict) -> str:
    lines = ['| category | GT | ' + ' | '.join(MAP_COLUMNS) + ' |',
             '|---|---|' + '---|' * len(MAP_COLUMNS)]
    for name, values in report['per_category'].items():
        lines.append('| %s | %d | %s |' % (name, values['ground_truths'],
                                           ' | '.join('%.1f' % values[k] for k in MAP_COLUMNS)))
    return '\n'.join(lines)


def _symmetry_section(args, model, device, encoded, best) -> str:
    from dataclasses import replace

    import numpy as np

    from catpose_ros.categories import category_by_name
    from catpose_ros.evaluation import symmetry
    from catpose_ros.model.guidance import GuidanceConfig
    from catpose_ros.model.pose_sampler import GENPOSE_T0

    # From noise at GenPose's t0, as in the paper: a start near the regressed pose sits in
    # one mode by construction (which keeps a published orientation steady).
    best = replace(best, cold_start='noise', t0=GENPOSE_T0)
    symmetric_ids = [category_by_name(n).class_id for n in ('bottle', 'bowl', 'can')]
    rows = np.flatnonzero(np.isin(encoded.category, symmetric_ids))[:40]
    schedules = [('unguided', replace(best, guidance=GuidanceConfig(kind='none'))),
                 ('constant w=3', replace(best, guidance=GuidanceConfig(
                     kind='constant', w=3.0))),
                 ('linear', replace(best, guidance=replace(best.guidance, kind='linear'))),
                 ('model setting: %s' % best.guidance.kind, best)]
    table, samples = symmetry.symmetry_experiment(
        model, encoded.features[rows], encoded.rotation[rows], schedules, count=50)
    image = symmetry.mollweide_figure(encoded.rotation[rows], samples,
                                      args.out / 'img' / 'symmetry_mollweide.png')
    lines = ['| schedule | mean resultant length about the axis (1 = collapsed) | '
             'median tilt of the y axis (deg) |', '|---|---|---|']
    lines += ['| %s | %.3f | %.1f |' % (name, s['resultant_length'], s['median_tilt_deg'])
              for name, s in table]
    return '\n'.join(lines) + '\n\n![sampled x axes, Mollweide](%s)\n\n%d symmetric test ' \
        'objects (bottle, bowl, can), 50 samples each, every schedule started from noise at ' \
        't0 = %g.' % (
            image.relative_to(args.out), len(rows), GENPOSE_T0)


def _convergence_section(args: argparse.Namespace) -> List[str]:
    from catpose_ros.evaluation import convergence

    if not args.convergence:
        return []
    curves = [convergence.load_curve(*convergence.parse_recipe(spec), args.convergence_metric)
              for spec in args.convergence]
    image = convergence.convergence_figure(curves, args.out / 'img' / 'convergence.png',
                                           args.convergence_metric)
    return ['## Convergence of the training recipes (validation)', '',
            'Validation `%s` (from the `history.json` of each run) against optimiser steps, the '
            'stages of a recipe counted one after the other; runs: %s.' % (
                args.convergence_metric, ', '.join('`%s`' % s for s in args.convergence)), '',
            convergence.convergence_table(curves, args.convergence_baseline), '',
            '![convergence](%s)' % image.relative_to(args.out), '']


def _describe_cold_checks() -> str:
    from catpose_ros.perception.tracking import TrackingConfig
    config = TrackingConfig()
    return ('blended with weight %g when within %g deg / %g cm, re-lock after %d frames'
            % (config.cold_check_weight, config.relock_rotation_deg,
               100 * config.relock_translation_m, config.relock_after_frames))


def run(args: argparse.Namespace) -> int:
    """Run every experiment and write OUT/results.md."""
    import torch

    from catpose_ros.evaluation.report import confidence_lines
    from catpose_ros.model.checkpoint import load_checkpoint
    from catpose_ros.model.device import configure_threads, resolve_device
    from catpose_ros.perception.estimator import stored_sampler_config
    from catpose_ros.resources import display_path, resolve_checkpoint
    from catpose_ros.training import sampler_search as search

    configure_threads(args.threads)
    device = torch.device(resolve_device(args.device))
    model_path = resolve_checkpoint(args.model, parameter='--model')
    model, _, meta = load_checkpoint(model_path, map_location=device)
    best = stored_sampler_config(meta, model_path)
    single = _eval(args, 'single', args.test_data, args.test_split, [], plots=True)
    plots = sorted((args.out / 'eval' / 'single').glob('*.png'))
    unrated = _eval(args, 'single_no_confidence', args.test_data, args.test_split,
                    ['--no-pose-confidence'])
    regression = _eval(args, 'regression', args.test_data, args.test_split,
                       ['--head', 'regression'])
    cold = _eval(args, 'seq_single', args.seq_data, args.seq_split, [])
    warm_only = _eval(args, 'seq_track_warm_only', args.seq_data, args.seq_split,
                      ['--mode', 'track', '--relock-frames', '0'])
    track = _eval(args, 'seq_track', args.seq_data, args.seq_split, ['--mode', 'track'])
    encoded = search.encode_validation(model, args.test_cache, args.objects, device)
    sampling = search.sampling_table(model, encoded, best)
    text = [
        '# Results', '',
        'Regenerate with:', '', '```bash',
        'catpose results ' + ' '.join(shlex.quote(a) for a in _argv(args)),
        '```', '',
        'Model `%s`; sampler settings stored in it (chosen on the validation split): %s.'
        % (display_path(model_path), search.describe(best)), '',
        '## NOCS mAP on unseen test instances (ground-truth masks)', '',
        _map_rows([('default: diffusion, K=1, guided', single),
                   ('the same without pose confidence (every score 1)', unrated),
                   ('regression head', regression)]), '',
        'NOCS AP ranks the predictions of a category by score. With ground-truth masks every '
        'detection score is 1, so the default ranks by pose confidence (the agreement of a '
        'second cold sample, `perception/confidence.py`) and the row without it keeps the '
        "official code's order of tied scores; the objects' errors are the same.", '',
        *confidence_lines(single.get('errors_by_confidence', {})),
        '### Per category (default inference)', '', _per_category(single), '',
        ' '.join('![%s](%s)' % (p.stem, p.relative_to(args.out)) for p in plots), '',
        '## Tracking against cold start (test sequences)', '',
        _map_rows([('cold start every frame', cold),
                   ('warm start only (track_t0 = %g, no cold checks)' % best.track_t0,
                    warm_only),
                   ('default tracking: warm start + cold checks (%s)'
                    % _describe_cold_checks(), track)]), '',
        '## Sampling (%d test objects, one pose each unless K=50)' % len(encoded.features),
        '', search.format_rows(sampling), '',
        '## Symmetric modes', '', _symmetry_section(args, model, device, encoded, best), '']
    text += _convergence_section(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'results.md').write_text('\n'.join(text))
    print('\n'.join(text))
    return 0


def _argv(args: argparse.Namespace) -> List[str]:
    """Return the flags that reproduce this run."""
    pairs = [('--test-data', args.test_data), ('--test-split', args.test_split),
             ('--test-cache', args.test_cache), ('--seq-data', args.seq_data),
             ('--seq-split', args.seq_split), ('--objects', args.objects),
             ('--frames', args.frames), ('--out', args.out)]
    if args.model:
        pairs.insert(0, ('--model', args.model))
    pairs += [('--convergence', spec) for spec in args.convergence]
    if args.convergence:
        pairs += [('--convergence-baseline', args.convergence_baseline),
                  ('--convergence-metric', args.convergence_metric)]
    return [str(x) for pair in pairs for x in pair]
