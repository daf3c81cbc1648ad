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

"""`catpose benchmark`: per-frame latency of the encoder and of each sampler configuration.

Every timed run is one frame: encode `--batch` objects of 1024 points, then sample their
poses, so each sampler row includes the encoder. Runs start with warm-up calls and are
bracketed by torch.cuda.synchronize on CUDA; the last column is the median of the sampler
alone within the same runs (frame minus encoder). Without --checkpoint the network is untrained
and its zero-initialised output layers are re-drawn at random, so the score is not zero:
latency per score evaluation is then representative, but the adaptive PF-ODE's step count
(NFE) depends on the learned score and is only indicative.
"""

import argparse
import statistics
import time
from typing import Callable, List, Optional, Sequence

from catpose_ros.cli import benchmark_segmentation

NUM_POINTS = 1024
GENPOSE_CANDIDATES = 50


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `benchmark` sub-command."""
    parser = subparsers.add_parser(
        'benchmark', help='per-frame latency of the encoder and the pose samplers',
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', choices=('cpu', 'cuda', 'auto'), default='auto',
                        help='auto: CPU, and CUDA too when available')
    parser.add_argument('--batch', type=int, default=1, help='objects per frame')
    parser.add_argument('--repeats', type=int, default=20, help='timed runs per row')
    parser.add_argument('--warmup', type=int, default=2, help='untimed runs per row')
    parser.add_argument('--steps', type=int, nargs='+', default=[5, 10, 20, 50],
                        help='DDIM step counts to time (K = 1, guided)')
    parser.add_argument('--checkpoint', default=None, help='trained weights (optional)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads for torch (default: torch decides); on a shared '
                             'machine 1 avoids oversubscription')
    parser.add_argument('--seed', type=int, default=0)
    benchmark_segmentation.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Time every row on every selected device and print the tables."""
    import torch

    if min(args.batch, args.repeats) < 1 or args.warmup < 0 or min(args.steps) < 1:
        raise ValueError('--batch, --repeats and --steps must be >= 1, --warmup >= 0')
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    devices = _devices(args.device, torch.cuda.is_available())
    for index, device in enumerate(devices):
        model = _build_model(args.checkpoint, device, args.seed)
        if index == 0:
            print(_parameter_table(model.count_parameters()))
            print('torch %s, %d CPU threads' % (torch.__version__, torch.get_num_threads()))
        rows = [_time_case(model, name, config, device, args)
                for name, config in _cases(args.steps)]
        print()
        print(_latency_table(device, args.batch, rows))
    segmentation = benchmark_segmentation.segmentation_table(args, devices)
    if segmentation:
        print()
        print(segmentation)
    return 0


def _devices(choice: str, cuda_available: bool) -> List[str]:
    if choice == 'cuda' and not cuda_available:
        raise RuntimeError('--device cuda requested but torch.cuda.is_available() is False')
    if choice == 'auto':
        return ['cpu', 'cuda'] if cuda_available else ['cpu']
    return [choice]


def _build_model(checkpoint: Optional[str], device: str, seed: int):
    import torch

    from catpose_ros.model.checkpoint import load_checkpoint
    from catpose_ros.model.posenet import CatPoseNet, ModelConfig

    if checkpoint:
        return load_checkpoint(checkpoint, map_location=device)[0]
    torch.manual_seed(seed)
    model = CatPoseNet(ModelConfig())
    for layer in model.score_net.modules():
        if isinstance(layer, torch.nn.Linear) and not bool(layer.weight.any()):
            layer.reset_parameters()
    return model.to(device).eval()


def _cases(steps: Sequence[int]):
    """Return (row name, SamplerConfig or None for the encoder alone)."""
    from catpose_ros.model.guidance import GuidanceConfig
    from catpose_ros.model.pose_sampler import SamplerConfig

    cases = [('encoder only', None)]
    cases += [('DDIM %d steps, K=1, guided' % n, SamplerConfig(steps=n)) for n in steps]
    cases.append(('PF-ODE RK45, K=1, guided', SamplerConfig(method='pf_ode')))
    cases.append(('PF-ODE RK45, K=%d, mean (GenPose-style)' % GENPOSE_CANDIDATES,
                  SamplerConfig(method='pf_ode', num_candidates=GENPOSE_CANDIDATES,
                                aggregation='mean', guidance=GuidanceConfig(kind='none'))))
    return cases


def _time_case(model, name: str, config, device: str, args):
    """Return (name, NFE, frame median ms, frame p90 ms, sampler-only median ms)."""
    import torch

    from catpose_ros.model.pose_sampler import PoseSampler

    generator = torch.Generator(device=device).manual_seed(args.seed)
    points = 0.05 * torch.randn(args.batch, NUM_POINTS, 3, generator=generator, device=device)
    points[..., 2] += 0.6
    sampler = PoseSampler(model.sde, config) if config is not None else None
    nfes: List[int] = []
    sampler_times: List[float] = []

    def frame():
        with torch.inference_mode():
            features = model.encode(points)
            if sampler is not None:
                _synchronise(device)
                start = time.perf_counter()
                nfes.append(sampler.sample(model.score, features, generator=generator).nfe)
                _synchronise(device)
                sampler_times.append(1000.0 * (time.perf_counter() - start))

    times = _timed_runs(frame, device, args.repeats, args.warmup)
    if sampler is None:
        return name, '-', _percentile(times, 50), _percentile(times, 90), None
    nfe = '%d' % statistics.median(nfes[args.warmup:])
    return (name, nfe, _percentile(times, 50), _percentile(times, 90),
            _percentile(sampler_times[args.warmup:], 50))


def _synchronise(device: str) -> None:
    import torch

    if device.startswith('cuda'):
        torch.cuda.synchronize(device)


def _timed_runs(fn: Callable[[], None], device: str, repeats: int, warmup: int) -> List[float]:
    """Return wall-clock milliseconds of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _synchronise(device)
        start = time.perf_counter()
        fn()
        _synchronise(device)
        times.append(1000.0 * (time.perf_counter() - start))
    return times


def _percentile(values: Sequence[float], percent: float) -> float:
    """Linear-interpolation percentile (numpy's default) of a non-empty list."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * percent / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _parameter_table(counts) -> str:
    lines = ['parameters', '%-16s %12s' % ('part', 'count')]
    for name in ('encoder', 'score_net', 'regression_head', 'total'):
        lines.append('%-16s %12s' % (name, '{:,}'.format(counts[name])))
    return '\n'.join(lines)


def _latency_table(device: str, batch: int, rows) -> str:
    title = 'per frame (%s, %d object%s)' % (device, batch, '' if batch == 1 else 's')
    header = '%-42s %5s %10s %10s %12s' % (title, 'NFE', 'median ms', 'p90 ms',
                                           'sampler ms')
    lines = [header, '-' * len(header)]
    for name, nfe, median, p90, sampler in rows:
        sampler_text = '-' if sampler is None else '%.1f' % sampler
        lines.append('%-42s %5s %10.1f %10.1f %12s' % (name, nfe, median, p90, sampler_text))
    return '\n'.join(lines)
