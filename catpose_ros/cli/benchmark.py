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

"""`catpose benchmark`: the pose node's frame path, per stage and end to end, per configuration.

A synthetic test-split scene (unseen instances, sensor noise, segmenter-like masks) is
rendered once along a camera orbit and turned into the pose node's input messages (16UC1
depth, CameraInfo, mono16 instance labels, Detection2DArray). Each configuration (mode,
sampler, K) runs the ROS-free pose node core on these frames with 1 and with 6 objects and
reports per-stage and end-to-end latency (p50 / p90 / p99), frames per second (1000 / mean
end-to-end ms), host RSS and, on CUDA, peak GPU memory. `single` estimates every frame cold;
`track` warm-starts from the previous frame (the frames play forwards and backwards, so the
motion stays smooth however many frames run). Accuracy on the benchmark's own frames
(matched to ground truth) is shown beside speed; `--accuracy` adds figures from
`catpose eval` per configuration. `--soak N` feeds N frames to one core and reports the
growth of host RSS.
"""

import argparse
from dataclasses import dataclass
import json
import math
import os
from pathlib import Path
import platform
import resource
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from catpose_ros.cli import benchmark_segmentation, DescriptionHelpFormatter

GENPOSE_CANDIDATES = 50
MATCH_DISTANCE_M = 0.10
FRAME_PERIOD_NS = 33_333_333
# Report name of each stage -> key in the pose node's latency_ms.
STAGES = (('decode', 'decode'), ('masks', 'masks'), ('backproject', 'estimate_backproject'),
          ('tracking', 'tracking'), ('encoder', 'estimate_encode'),
          ('sampler', 'estimate_sample'), ('size', 'estimate_size'), ('messages', 'messages'))
RSS_LIMIT_MB = 50.0


@dataclass(frozen=True)
class BenchConfig:
    """One configuration of the frame path: mode, sampler, candidates K and pooling.

    Tracking samples a cold check beside each warm start (the default) unless cold_checks
    is False ('warm only', GenPose's tracking); precision is the encoder's (named when not
    fp32).
    """

    mode: str                 # 'single' (every frame cold) or 'track' (warm starts)
    method: str               # 'ddim' or 'pf_ode'
    steps: int = 10
    candidates: int = 1
    cold_checks: bool = True
    precision: str = 'fp32'

    @property
    def name(self) -> str:
        """Return e.g. 'track DDIM10 K=1 guided' or 'single PF-ODE K=50 mean'."""
        sampler = 'DDIM%d' % self.steps if self.method == 'ddim' else 'PF-ODE'
        pooling = 'guided' if self.candidates == 1 else 'mean'
        name = '%s %s K=%d %s' % (self.mode, sampler, self.candidates, pooling)
        if not self.cold_checks and self.mode == 'track':
            name += ' warm only'
        return name if self.precision == 'fp32' else '%s %s' % (name, self.precision)

    def params(self) -> Dict[str, Any]:
        """Return the pose node parameters of this configuration.

        K = 1 is the method (exponential score scaling, one sample); K > 1 is GenPose-style
        mean pooling of unguided samples.
        """
        values = {'tracking.mode': 'track' if self.mode == 'track' else 'estimate',
                  'sampler.method': self.method, 'sampler.steps': self.steps,
                  'model.uncertainty_candidates': self.candidates,
                  'model.precision': self.precision}
        if self.candidates > 1:
            values.update({'sampler.aggregation': 'mean', 'sampler.guidance': 'none'})
        if not self.cold_checks:
            values['tracking.relock_after_frames'] = 0
        return values


def default_configs() -> List[BenchConfig]:
    """Return the configurations a plain `catpose benchmark` times."""
    configs = []
    for mode, steps in (('single', (5, 10, 20, 30, 50)), ('track', (5, 10, 20, 30))):
        configs += [BenchConfig(mode, 'ddim', n) for n in steps]
        configs.append(BenchConfig(mode, 'pf_ode'))
        configs.append(BenchConfig(mode, 'pf_ode', candidates=GENPOSE_CANDIDATES))
    configs += [BenchConfig('track', 'ddim', n, cold_checks=False) for n in (10, 30)]
    configs += [BenchConfig(mode, 'ddim', 30, precision='bf16') for mode in ('single', 'track')]
    return configs


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `benchmark` sub-command."""
    parser = subparsers.add_parser(
        'benchmark', help='latency per stage and end to end, frames/s, memory, accuracy',
        description=__doc__, formatter_class=DescriptionHelpFormatter)
    parser.add_argument('--model', default='', help='checkpoint (default: the shipped model)')
    parser.add_argument('--device', default='auto',
                        help='cpu, cuda[:N] or auto (the CPU, and CUDA too when present)')
    parser.add_argument('--objects', type=int, nargs='+', default=[1, 6],
                        help='objects per frame (1..6)')
    parser.add_argument('--frames', type=int, default=30, help='timed frames per row')
    parser.add_argument('--warmup', type=int, default=3, help='untimed frames per row')
    parser.add_argument('--rendered', type=int, default=20,
                        help='distinct frames rendered (played forwards and backwards)')
    parser.add_argument('--only', nargs='+', default=[],
                        help='keep configurations whose name contains one of these texts')
    parser.add_argument('--threads', type=int, default=1,
                        help='PyTorch CPU threads (0: PyTorch default, one per core; 1 is '
                             'the pose node default, model.cpu_threads)')
    parser.add_argument('--seed', type=int, default=0, help='scene and sampler seed')
    parser.add_argument('--json', default='', help='write the rows as JSON to this path')
    parser.add_argument('--markdown', default='', help='write the tables to this path')
    parser.add_argument('--accuracy', default='',
                        help='JSON of accuracy per configuration name from catpose eval '
                             '({config: {metric: value}} or a list of rows with "config")')
    parser.add_argument('--soak', type=int, default=0,
                        help='instead of the tables: feed this many frames to one core '
                             '(first --only match, default track DDIM10 K=1 guided) and '
                             'report host RSS growth')
    parser.add_argument('--cuda-graph', action='store_true',
                        help='replay the DDIM loop as a CUDA graph on CUDA (sampler.cuda_graph)')
    parser.add_argument('--no-encoder-comparison', action='store_true',
                        help='skip timing the encoder against its PyTorch reference path')
    parser.add_argument('--encoder-threads', type=int, nargs='+', default=[1, 2],
                        help='PyTorch thread counts of the encoder comparison')
    parser.add_argument('--encoder-runs', type=int, default=8,
                        help='timed runs per encoder comparison row')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    benchmark_segmentation.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Render the frames, time every row, print (and write) the tables and a summary."""
    from catpose_ros.model.device import configure_threads

    _check_args(args)
    threads = configure_threads(args.threads)
    frames = render_frames(args.rendered, args.seed)
    machine = machine_description(threads)
    if args.soak:
        report = soak(args, frames)
        print(format_soak(report, machine))
        _write_json(args.json, {'machine': machine, 'soak': report})
        return 0 if report['growth_mb'] < RSS_LIMIT_MB else 1
    configs = select_configs(default_configs(), args.only)
    models = {device: _load_model(args.model, device) for device in _devices(args.device)}
    machine['parameters'] = next(iter(models.values())).count_parameters()
    encoder = [] if args.no_encoder_comparison else encoder_rows(models, frames, args)
    rows = time_rows(args, frames, configs, models)
    accuracy = load_accuracy(args.accuracy) if args.accuracy else {}
    for row in rows:
        row['eval_accuracy'] = accuracy.get(row['config'])
    text = format_report(rows, machine) + format_encoder(encoder)
    segmentation = benchmark_segmentation.segmentation_table(args, list(models))
    if segmentation:
        text += '\n\n' + segmentation
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + '\n')
    _write_json(args.json, {'machine': machine, 'rows': rows, 'encoder': encoder})
    return 0


def _check_args(args: argparse.Namespace) -> None:
    if args.frames < 1 or args.warmup < 0 or args.rendered < 2:
        raise ValueError('--frames must be >= 1, --warmup >= 0, --rendered >= 2')
    if not all(1 <= n <= 6 for n in args.objects):
        raise ValueError('--objects must lie in 1..6, got %s' % args.objects)
    if args.soak < 0:
        raise ValueError('--soak must be >= 0')


def _devices(choice: str) -> List[str]:
    import torch

    if choice == 'auto':
        return ['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu']
    if choice.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError('--device %s requested but CUDA is not available' % choice)
    return [choice]


def select_configs(configs: Sequence[BenchConfig], only: Sequence[str]) -> List[BenchConfig]:
    """Keep configurations whose name contains one of `only` (all when empty)."""
    kept = [c for c in configs if not only or any(text in c.name for text in only)]
    if not kept:
        raise ValueError('no configuration matches %s; names look like %r'
                         % (list(only), configs[0].name))
    return kept


# ----------------------------------------------------------------------------- frames


@dataclass
class BenchFrame:
    """One rendered frame: 16UC1 depth (mm), intrinsics, instance labels and ground truth."""

    depth_mm: np.ndarray
    intrinsics: Any
    labels: np.ndarray
    objects: List[Any]        # data.frame.ObjectAnnotation of the visible objects


def render_frames(count: int, seed: int) -> List[BenchFrame]:
    """Render a 6-object test-split scene along a 30 Hz camera orbit (sensor noise on)."""
    from catpose_ros.data import scenes
    from catpose_ros.data.sensor import SensorConfig
    from catpose_ros.geometry.camera import NOCS_REAL_INTRINSICS

    rng = np.random.default_rng(seed)
    scene = scenes.generate_scene(
        scenes.SceneConfig(split='test', min_objects=6, max_objects=6), rng, 'benchmark')
    poses = scenes.camera_trajectory(scene, max(90, count), rng)[:count]
    rendered = scenes.render_sequence(scene, poses, NOCS_REAL_INTRINSICS, SensorConfig(), rng)
    frames = []
    for frame in rendered:
        visible = [o for o in frame.objects if (frame.mask == o.instance_id).any()]
        depth = np.asarray(frame.depth)
        if not np.issubdtype(depth.dtype, np.integer):
            depth = np.rint(np.nan_to_num(depth, nan=0.0, posinf=0.0) * 1000.0)
        frames.append(BenchFrame(depth.astype(np.uint16), frame.intrinsics,
                                 np.asarray(frame.mask, np.uint16), visible))
    return frames


def object_subset(frames: Sequence[BenchFrame], count: int) -> List[int]:
    """Instance ids of the `count` objects visible in the most frames, largest first."""
    seen: Dict[int, Tuple[int, int]] = {}
    for frame in frames:
        for obj in frame.objects:
            frames_seen, pixels = seen.get(obj.instance_id, (0, 0))
            seen[obj.instance_id] = (frames_seen + 1,
                                     pixels + int((frame.labels == obj.instance_id).sum()))
    ranked = sorted(seen, key=lambda i: seen[i], reverse=True)
    return ranked[:count]


def ping_pong(count: int) -> Iterator[int]:
    """Yield 0, 1, ..., count-1, count-2, ..., 1, 0, 1, ... forever (smooth motion)."""
    index, step = 0, 1
    while True:
        yield index
        if not 0 <= index + step < count:
            step = -step
        index += step


class MessageFeed:
    """Build the pose node's four input messages of a frame at increasing stamps."""

    def __init__(self, frames: Sequence[BenchFrame], instance_ids: Sequence[int]):
        from catpose_ros.ros.messages import RosbagsFactory

        self.factory = RosbagsFactory()
        self.frames = frames
        self.instance_ids = list(instance_ids)
        self.order = ping_pong(len(frames))
        self.stamp_ns = 1_700_000_000_000_000_000

    def next_frame(self) -> Tuple[Tuple[Any, ...], BenchFrame]:
        """Return the next frame's (depth, camera_info, instances, detections) messages."""
        from catpose_ros.ros import conversions as conv

        frame = self.frames[next(self.order)]
        self.stamp_ns += FRAME_PERIOD_NS
        header = conv.make_header(self.factory, self.stamp_ns, 'camera_color_optical_frame')
        labels = np.where(np.isin(frame.labels, self.instance_ids), frame.labels, 0)
        detections = [conv.Detection2DRecord(o.instance_id, o.category, 1.0,
                                             conv.mask_box(labels == o.instance_id))
                      for o in frame.objects if o.instance_id in self.instance_ids]
        messages = (
            conv.numpy_to_image(self.factory, frame.depth_mm, '16UC1', header),
            conv.intrinsics_to_camera_info(self.factory, frame.intrinsics, header),
            conv.numpy_to_image(self.factory, labels.astype(np.uint16), 'mono16', header),
            conv.detections_to_detection2d_array(self.factory, detections, header))
        return messages, frame


# ----------------------------------------------------------------------------- timing


def object_clouds(frame: BenchFrame, instance_ids: Sequence[int], num_points: int,
                  seed: int) -> np.ndarray:
    """Return the (objects, num_points, 3) clouds the network reads for these instances."""
    from catpose_ros.geometry.backprojection import backproject, resample_points

    rng = np.random.default_rng(seed)
    depth_m = frame.depth_mm.astype(np.float32) / 1000.0
    return np.stack([resample_points(backproject(depth_m, frame.labels == i, frame.intrinsics),
                                     num_points, rng) for i in instance_ids])


def encoder_rows(models: Dict[str, Any], frames: Sequence[BenchFrame],
                 args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Time the encoder's fast path against its PyTorch reference, runs interleaved.

    The reference is the training graph in eval mode with the PyTorch sampling and
    ball-query ops (the encoder as it ran before the fast path existed).
    """
    import torch

    from catpose_ros.model import pointnet2

    rows = []
    threads = torch.get_num_threads()
    cases = [(d, n, t) for d in models for n in args.objects
             for t in (args.encoder_threads if d == 'cpu' else [threads])]
    progress = _progress(len(cases), args.no_progress)
    for device, count, thread_count in cases:
        progress.set_description('encoder, %s, %d objects, %d threads'
                                 % (device, count, thread_count))
        torch.set_num_threads(thread_count)
        model = models[device]
        clouds = object_clouds(frames[0], object_subset(frames[:1], count),
                               model.config.num_points, args.seed)
        points = torch.as_tensor(clouds, device=device)
        times: Dict[str, List[Tuple[float, float]]] = {'reference': [], 'fast': []}
        for index in range(1 + args.encoder_runs):
            for path in times:
                wall, cpu = _time_encoder(model, points, device, path == 'fast')
                if index >= 1:
                    times[path].append((wall, cpu))
        for path, values in times.items():
            rows.append({'path': path, 'device': device, 'objects': count,
                         'threads': thread_count,
                         'p50_ms': percentile([v[0] for v in values], 50),
                         'p90_ms': percentile([v[0] for v in values], 90),
                         'cpu_p50_ms': percentile([v[1] for v in values], 50)})
        progress.update(1)
    progress.close()
    torch.set_num_threads(threads)
    pointnet2.use_fast_inference(True)
    return rows


def _time_encoder(model, points, device: str, fast: bool) -> Tuple[float, float]:
    """Return (wall ms, process CPU ms) of one encoder call on the chosen path."""
    import torch

    from catpose_ros.model import pointnet2

    previous = (pointnet2.use_fast_inference(fast), pointnet2.use_point_kernels(fast))
    try:
        if device.startswith('cuda'):
            torch.cuda.synchronize(device)
        wall, cpu = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            model.encode(points)
        if device.startswith('cuda'):
            torch.cuda.synchronize(device)
        return 1000.0 * (time.perf_counter() - wall), 1000.0 * (time.process_time() - cpu)
    finally:
        pointnet2.use_fast_inference(previous[0])
        pointnet2.use_point_kernels(previous[1])


def _core(model, config: BenchConfig, device: str, args: argparse.Namespace, factory):
    """Build a pose node core for a configuration around an already loaded model."""
    from catpose_ros.perception.estimator import PoseEstimator
    from catpose_ros.ros.params import CatposeParams
    from catpose_ros.ros.pose_pipeline import estimator_options, PoseNodeCore

    params = CatposeParams.from_dict(dict(config.params(), **{
        'model.seed': args.seed, 'sampler.cuda_graph': bool(args.cuda_graph)}))
    estimator = PoseEstimator(model, device=device, **estimator_options(params))
    return PoseNodeCore(params, estimator, factory)


def _load_model(path: str, device: str):
    from catpose_ros.model.checkpoint import load_checkpoint
    from catpose_ros.resources import resolve_checkpoint

    return load_checkpoint(str(resolve_checkpoint(path)), map_location=device)[0].eval()


def time_rows(args: argparse.Namespace, frames: Sequence[BenchFrame],
              configs: Sequence[BenchConfig], models: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Time every (device, configuration, objects) row; models: loaded model per device."""
    cases = [(d, c, n) for d in models for c in configs for n in args.objects]
    progress = _progress(len(cases), args.no_progress)
    rows = []
    for device, config, count in cases:
        progress.set_description('%s, %s, %d object%s' % (
            config.name, device, count, '' if count == 1 else 's'))
        rows.append(time_row(models[device], config, device, count, frames, args))
        progress.update(1)
    progress.close()
    return rows


def time_row(model, config: BenchConfig, device: str, count: int,
             frames: Sequence[BenchFrame], args: argparse.Namespace) -> Dict[str, Any]:
    """Run warm-up and timed frames of one row; return its latencies, memory and accuracy."""
    import torch

    feed = MessageFeed(frames, object_subset(frames, count))
    core = _core(model, config, device, args, feed.factory)
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats(device)
    latencies: Dict[str, List[float]] = {}
    pairs: List[Tuple[Any, Any]] = []
    nfe: List[int] = []
    objects: List[int] = []
    for index in range(args.warmup + args.frames):
        messages, frame = feed.next_frame()
        cpu_started = time.process_time()
        outputs = core.process(*messages)
        cpu_ms = 1000.0 * (time.process_time() - cpu_started)
        if outputs.skip_reason:
            raise RuntimeError('benchmark frame skipped: %s' % outputs.skip_reason)
        if index < args.warmup:
            continue
        latencies.setdefault('cpu', []).append(cpu_ms)
        for key, value in outputs.latency_ms.items():
            latencies.setdefault(key, []).append(float(value))
        objects.append(len(outputs.objects))
        pairs += match_ground_truth(frame, feed.instance_ids, outputs.objects)
        nfe.append(_nfe(core))
    return _row(config, device, count, latencies, objects, pairs, nfe)


def _nfe(core) -> int:
    """Score evaluations of the last frame: fixed for DDIM, counted for the PF-ODE."""
    sampler = core.estimator.sampler
    return int(getattr(sampler, 'last_nfe', sampler.config.steps))


def _row(config: BenchConfig, device: str, count: int, latencies: Dict[str, List[float]],
         objects: List[int], pairs, nfe: List[int]) -> Dict[str, Any]:
    import torch

    total = latencies['total']
    row: Dict[str, Any] = {
        'config': config.name, 'device': device, 'objects': count,
        'objects_estimated': float(np.mean(objects)),
        'fps': 1000.0 / float(np.mean(total)),
        'p50_ms': percentile(total, 50), 'p90_ms': percentile(total, 90),
        'p99_ms': percentile(total, 99), 'cpu_p50_ms': percentile(latencies['cpu'], 50),
        'stages_p50_ms': {name: percentile(latencies.get(key, [0.0]), 50)
                          for name, key in STAGES},
        'nfe': float(np.median(nfe)) if nfe else None,
        'host_rss_mb': host_rss_mb(), 'host_peak_rss_mb': host_peak_rss_mb(),
        'gpu_peak_mb': (torch.cuda.max_memory_allocated(device) / 2 ** 20
                        if device.startswith('cuda') else None),
        'frames': len(total), 'accuracy': accuracy_summary(pairs)}
    return row


def percentile(values: Sequence[float], percent: float) -> float:
    """Return the linear-interpolation percentile, as numpy computes it by default."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), percent))


def host_rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux /proc; peak elsewhere)."""
    try:
        with open('/proc/self/statm') as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf('SC_PAGE_SIZE') / 2 ** 20
    except (OSError, ValueError, IndexError):
        return host_peak_rss_mb()


def host_peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == 'darwin' else peak / 2 ** 10


def _progress(total: int, disabled: bool, unit: str = 'row'):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, disable=disabled, file=sys.stderr)


# --------------------------------------------------------------------------- accuracy


def match_ground_truth(frame: BenchFrame, instance_ids: Sequence[int],
                       estimates: Sequence[Any]) -> List[Tuple[Any, Any]]:
    """Pair each ground-truth object with the nearest unused estimate of its category."""
    free = list(estimates)
    pairs = []
    for truth in frame.objects:
        if truth.instance_id not in instance_ids:
            continue
        same = [e for e in free if e.category == truth.category]
        if not same:
            continue
        distances = [float(np.linalg.norm(e.translation - truth.translation)) for e in same]
        if min(distances) <= MATCH_DISTANCE_M:
            best = same[int(np.argmin(distances))]
            free.remove(best)
            pairs.append((truth, best))
    return pairs


def accuracy_summary(pairs: Sequence[Tuple[Any, Any]]) -> Dict[str, float]:
    """Median errors and 5deg2cm / 10deg5cm accuracy of matched (truth, estimate) pairs."""
    from catpose_ros.categories import category_by_name
    from catpose_ros.evaluation.metrics import pose_errors

    if not pairs:
        return {'matched': 0}
    errors = pose_errors(
        np.stack([e.rotation for _, e in pairs]), np.stack([e.translation for _, e in pairs]),
        np.stack([t.rotation for t, _ in pairs]), np.stack([t.translation for t, _ in pairs]),
        np.array([category_by_name(t.category).is_symmetric(t.handle_visible)
                  for t, _ in pairs]))
    summary = errors.summary(((5, 2), (10, 5)))
    summary['matched'] = len(pairs)
    return summary


def load_accuracy(path: str) -> Dict[str, Dict[str, Any]]:
    """Read accuracy per configuration name: {config: {...}} or rows carrying 'config'.

    This is where `catpose eval` results join the speed table: run the evaluation once per
    configuration and write its metrics under the configuration's name.
    """
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict) and 'rows' in data:
        data = data['rows']
    if isinstance(data, list):
        return {str(row['config']): {k: v for k, v in row.items() if k != 'config'}
                for row in data}
    if isinstance(data, dict):
        return {str(name): dict(values) for name, values in data.items()}
    raise ValueError('%s: expected an object or a list of rows' % path)


# ------------------------------------------------------------------------------- soak


def soak(args: argparse.Namespace, frames: Sequence[BenchFrame]) -> Dict[str, Any]:
    """Feed `args.soak` frames to one core; sample host RSS every 100 frames."""
    configs = select_configs(default_configs(), args.only or ['track DDIM10 K=1 guided'])
    device = _devices(args.device)[0]
    count = args.objects[0]
    feed = MessageFeed(frames, object_subset(frames, count))
    core = _core(_load_model(args.model, device), configs[0], device, args, feed.factory)
    progress = _progress(args.soak, args.no_progress, 'frame')
    samples: List[Tuple[int, float]] = []
    started = time.perf_counter()
    for index in range(1, args.soak + 1):
        outputs = core.process(*feed.next_frame()[0])
        if outputs.skip_reason:
            raise RuntimeError('soak frame skipped: %s' % outputs.skip_reason)
        if index % 100 == 0 or index == args.soak:
            samples.append((index, host_rss_mb()))
        progress.update(1)
    progress.close()
    baseline = samples[min(1, len(samples) - 1)][1]   # after the first 200 frames
    return {'config': configs[0].name, 'device': device, 'objects': count,
            'frames': args.soak, 'seconds': time.perf_counter() - started,
            'rss_baseline_mb': baseline, 'rss_end_mb': samples[-1][1],
            'rss_max_mb': max(s[1] for s in samples),
            'growth_mb': samples[-1][1] - baseline, 'samples': samples}


def format_soak(report: Dict[str, Any], machine: Dict[str, Any]) -> str:
    """Describe a soak run in a few lines."""
    verdict = 'flat' if report['growth_mb'] < RSS_LIMIT_MB else 'GROWING'
    return '\n'.join([
        'Soak: %d frames, %s, %s, %d object%s, %.0f s (%s)' % (
            report['frames'], report['config'], report['device'], report['objects'],
            '' if report['objects'] == 1 else 's', report['seconds'], machine['cpu']),
        'host RSS after 200 frames %.1f MiB, at the end %.1f MiB, max %.1f MiB: growth '
        '%+.1f MiB (limit %.0f MiB): %s' % (
            report['rss_baseline_mb'], report['rss_end_mb'], report['rss_max_mb'],
            report['growth_mb'], RSS_LIMIT_MB, verdict)])


# ----------------------------------------------------------------------------- report


def machine_description(threads: int) -> Dict[str, Any]:
    """Name the hardware and software the figures come from."""
    import torch

    from catpose_ros.model import point_kernels

    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as info:
            names = [line.split(':', 1)[1].strip() for line in info
                     if line.startswith('model name')]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {'cpu': cpu, 'cpu_cores': os.cpu_count(), 'torch_threads': threads, 'gpu': gpu,
            'torch': torch.__version__, 'python': platform.python_version(),
            'point_kernels': 'numba' if point_kernels.AVAILABLE else 'pytorch'}


def _fmt(value: Optional[float], pattern: str = '%.1f') -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    return pattern % value


def format_report(rows: Sequence[Dict[str, Any]], machine: Dict[str, Any]) -> str:
    """Return the Markdown tables (speed and memory, then accuracy) and a summary."""
    lines = ['Machine: %s (%d cores), %d PyTorch threads, GPU: %s; torch %s; point kernels: '
             '%s' % (machine['cpu'], machine['cpu_cores'], machine['torch_threads'],
                     machine['gpu'] or 'none', machine['torch'], machine['point_kernels']),
             'Parameters: ' + ', '.join('%s %s' % (name, '{:,}'.format(count)) for name, count
                                        in machine.get('parameters', {}).items()),
             '', '| config | device | objects | fps | p50 ms | p90 ms | p99 ms | CPU ms | '
             + ' | '.join(name for name, _ in STAGES) + ' | NFE | host RSS MiB | GPU peak MiB |',
             '|' + '---|' * (11 + len(STAGES))]
    for row in rows:
        stages = ' | '.join(_fmt(row['stages_p50_ms'][name]) for name, _ in STAGES)
        lines.append('| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %s | %.0f | %s |'
                     % (row['config'], row['device'], row['objects'], row['fps'],
                        row['p50_ms'], row['p90_ms'], row['p99_ms'], row['cpu_p50_ms'], stages,
                        _fmt(row['nfe'], '%.0f'), row['host_rss_mb'],
                        _fmt(row['gpu_peak_mb'], '%.0f')))
    lines += ['', 'p50 / p90 / p99: end-to-end wall-clock ms per frame (decode to messages); '
              'fps = 1000 / mean of it. CPU ms: median process CPU time per frame, all threads '
              '(on a shared CPU closer to the latency of an idle machine than wall-clock). Stage '
              'columns: median wall-clock ms.', '',
              '| config | device | objects | matched | median deg | median cm | 5deg2cm | '
              '10deg5cm | catpose eval |', '|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        acc = row['accuracy']
        lines.append('| %s | %s | %d | %d | %s | %s | %s | %s | %s |' % (
            row['config'], row['device'], row['objects'], acc.get('matched', 0),
            _fmt(acc.get('median_rotation_deg')), _fmt(acc.get('median_translation_cm')),
            _fmt(acc.get('5deg2cm'), '%.2f'), _fmt(acc.get('10deg5cm'), '%.2f'),
            _eval_text(row.get('eval_accuracy'))))
    lines += ['', 'Accuracy columns: the benchmark frames themselves (a few objects, one '
              'scene); catpose eval: figures passed with --accuracy.', ''] + summary(rows)
    return '\n'.join(lines)


def format_encoder(rows: Sequence[Dict[str, Any]]) -> str:
    """Return the encoder comparison table (empty when it was skipped)."""
    if not rows:
        return ''
    lines = ['', '', 'Encoder alone, fast path vs PyTorch reference (runs interleaved):', '',
             '| path | device | objects | threads | p50 ms | p90 ms | CPU ms |',
             '|---|---|---|---|---|---|---|']
    for row in rows:
        lines.append('| %s | %s | %d | %d | %.1f | %.1f | %.1f |' % (
            row['path'], row['device'], row['objects'], row['threads'], row['p50_ms'],
            row['p90_ms'], row['cpu_p50_ms']))
    return '\n'.join(lines)


def _eval_text(values: Optional[Dict[str, Any]]) -> str:
    if not values:
        return '-'
    return ', '.join('%s %s' % (k, _fmt(v, '%.3g') if isinstance(v, (int, float)) else v)
                     for k, v in sorted(values.items()))


def summary(rows: Sequence[Dict[str, Any]]) -> List[str]:
    """Headline lines: best frames/s per mode and objects, and K=1 guided vs K=50 mean."""
    lines = ['Summary:']
    keyed = {(r['config'], r['device'], r['objects']): r for r in rows}
    for (mode, device, count) in sorted({(r['config'].split()[0], r['device'], r['objects'])
                                         for r in rows}):
        best = max((r for r in rows if r['config'].startswith(mode + ' ')
                    and r['device'] == device and r['objects'] == count),
                   key=lambda r: r['fps'])
        lines.append('- %s, %s, %d object%s: fastest %s at %.1f frames/s (p99 %.1f ms)' % (
            mode, device, count, '' if count == 1 else 's', best['config'], best['fps'],
            best['p99_ms']))
    for (config, device, count), row in sorted(keyed.items()):
        if 'K=%d mean' % GENPOSE_CANDIDATES not in config:
            continue
        guided = keyed.get((config.replace('PF-ODE K=%d mean' % GENPOSE_CANDIDATES,
                                           'DDIM10 K=1 guided'), device, count))
        if guided:
            lines.append('- %s vs %s (%s, %d object%s): %.1fx the frames/s' % (
                guided['config'], config, device, count, '' if count == 1 else 's',
                guided['fps'] / row['fps']))
    return lines


def _write_json(path: str, data: Dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=1, default=float) + '\n')
