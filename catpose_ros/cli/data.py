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

"""`catpose data ...`: synthetic NOCS-format datasets, a contact sheet and the point cache.

Each `catpose data` action is one `_add_<action>(actions)` function listed in `ACTIONS`; a new
action adds its parser there and sets `func` (heavy imports stay inside `func`).

`generate` writes ``<out>/<CAMERA|Real>/<train|val|test>/<scene>/<index:04d>_*`` (subset
'camera' for --intrinsics camera, 'real' for real; the test split is CAMERA 'val' or Real
'test'), the SPD list file, and for test splits the NOCS ``gts`` pickles. Scene k draws from
`SeedSequence((seed, split, k))`, so the output does not depend on the number of workers.
"""

import argparse
import logging
from pathlib import Path
from typing import Callable, List, Tuple

from catpose_ros.cli import HelpFormatter

LOG = logging.getLogger(__name__)
SPLIT_KEYS = {'train': 1, 'test': 2, 'val': 3}
MOTIONS = ('orbit', 'random', 'objects')
NOCS_SPLITS = ('camera_train', 'camera_val', 'real_train', 'real_test')


def _nocs_split(split: str, intrinsics: str) -> str:
    """Map (train|test, camera|real) to the NOCS split name of nocs.SPLITS."""
    if intrinsics == 'camera':
        return 'camera_train' if split == 'train' else 'camera_val'
    return 'real_train' if split == 'train' else 'real_test'


def _scene_name(index: int, intrinsics: str) -> str:
    return '%05d' % index if intrinsics == 'camera' else 'scene_%d' % (index + 1)


def _add_scene_options(parser: argparse.ArgumentParser, frames: int, frames_help: str,
                       intrinsics: str = 'camera') -> None:
    """Add the options that choose which synthetic scenes are rendered."""
    parser.add_argument('--scenes', type=int, required=True, help='number of scenes')
    parser.add_argument('--split', choices=tuple(SPLIT_KEYS), default='train',
                        help='object-instance library (val and test instances are unseen in '
                        'train)')
    parser.add_argument('--frames-per-scene', type=int, default=frames, help=frames_help)
    parser.add_argument('--intrinsics', choices=('real', 'camera'), default=intrinsics,
                        help='camera model: REAL275 (real) or CAMERA25 (camera) intrinsics')


def _add_point_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of what the point cache keeps per instance."""
    parser.add_argument('--max-points', type=int, default=2048,
                        help='points kept per instance (random subset)')
    parser.add_argument('--mask-noise-variants', type=int, default=1,
                        help='extra copies cut with a degraded mask, per instance')


def _add_generate(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        'generate', help='render synthetic tabletop scenes in the NOCS on-disk format',
        formatter_class=HelpFormatter)
    parser.add_argument('--out', type=Path, required=True, help='dataset root')
    _add_scene_options(parser, frames=10, frames_help='views (frames) rendered per scene')
    parser.add_argument('--motion', choices=MOTIONS, default='orbit',
                        help='orbit: smooth camera arc; random: independent viewpoints; '
                        'objects: objects slide on the table under a camera arc')
    parser.add_argument('--no-noise', action='store_true', help='write clean depth')
    parser.add_argument('--seed', type=int, default=0,
                        help='run seed (scene k draws from (seed, split, k))')
    parser.add_argument('--workers', type=int, default=1, help='rendering processes')
    parser.set_defaults(func=run_generate)


def _add_contact_sheet(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        'contact-sheet', help='one PNG with rows of scenes: RGB, depth, instances, NOCS map',
        formatter_class=HelpFormatter)
    parser.add_argument('--out', type=Path, default=Path('contact_sheet.png'),
                        help='PNG to write')
    parser.add_argument('--scenes', type=int, default=4, help='rows (one scene each)')
    parser.add_argument('--split', choices=tuple(SPLIT_KEYS), default='train',
                        help='object-instance library')
    parser.add_argument('--intrinsics', choices=('real', 'camera'), default='real',
                        help='camera model: REAL275 (real) or CAMERA25 (camera) intrinsics')
    parser.add_argument('--seed', type=int, default=0, help='scene seed')
    parser.set_defaults(func=run_contact_sheet)


def _add_cache(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        'cache', help='back-project every instance of a NOCS split once into a point cache',
        formatter_class=HelpFormatter)
    parser.add_argument('--root', type=Path, required=True, help='NOCS dataset root')
    parser.add_argument('--split', choices=NOCS_SPLITS, required=True,
                        help='which NOCS split to read')
    parser.add_argument('--out', type=Path, required=True, help='cache file (.npz)')
    _add_point_options(parser)
    parser.add_argument('--min-points', type=int, default=50,
                        help='instances with fewer valid depth pixels are dropped')
    parser.add_argument('--seed', type=int, default=0, help='subsampling and mask-noise seed')
    parser.set_defaults(func=run_cache)


def _add_synth_cache(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        'synth-cache', help='render synthetic scenes straight into a point cache (no image '
        'files: the fast way to feed training)',
        formatter_class=HelpFormatter)
    parser.add_argument('--out', type=Path, required=True, help='cache file (.npz)')
    _add_scene_options(parser, frames=5, frames_help='independent random viewpoints per scene')
    parser.add_argument('--first-scene', type=int, default=0,
                        help='index of the first scene (to grow a cache in parts)')
    _add_point_options(parser)
    parser.add_argument('--seed', type=int, default=0, help='scene and cache seed')
    parser.add_argument('--workers', type=int, default=1, help='rendering processes')
    parser.set_defaults(func=run_synth_cache)


def _add_segmentation_samples(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        'seg-samples', help='render scenes into instance-segmentation samples (one .npz of '
        'RGB, depth and label images at the detector input size)',
        formatter_class=HelpFormatter)
    parser.add_argument('--out', type=Path, required=True, help='samples file (.npz)')
    _add_scene_options(parser, frames=4, frames_help='independent random viewpoints per scene',
                       intrinsics='real')
    parser.add_argument('--size', type=int, nargs=2, default=(320, 240),
                        metavar=('WIDTH', 'HEIGHT'), help='sample image size')
    parser.add_argument('--first-scene', type=int, default=0,
                        help='index of the first scene (to grow a sample file in parts)')
    parser.add_argument('--seed', type=int, default=0, help='scene seed')
    parser.add_argument('--workers', type=int, default=1, help='rendering processes')
    parser.set_defaults(func=run_segmentation_samples)


ACTIONS: Tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_generate, _add_contact_sheet, _add_cache, _add_synth_cache, _add_segmentation_samples)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `catpose data` and every action in ACTIONS."""
    parser = subparsers.add_parser('data', help='synthetic data: generate, contact-sheet, cache')
    actions = parser.add_subparsers(dest='data_command', required=True)
    for add in ACTIONS:
        add(actions)


def _intrinsics(name: str):
    from catpose_ros.geometry.camera import NOCS_CAMERA_INTRINSICS, NOCS_REAL_INTRINSICS

    return NOCS_CAMERA_INTRINSICS if name == 'camera' else NOCS_REAL_INTRINSICS


def scene_frames(index: int, seed: int, split: str, intrinsics_name: str, num_frames: int,
                 motion: str, noise: bool):
    """Generate scene `index` of a run and yield its frames (deterministic per index)."""
    import numpy as np

    from catpose_ros.data import scenes
    from catpose_ros.data.sensor import SensorConfig

    rng = np.random.default_rng(np.random.SeedSequence((seed, SPLIT_KEYS[split], index)))
    name = _scene_name(index, intrinsics_name)
    scene = scenes.generate_scene(scenes.SceneConfig(split=split), rng, name)
    if motion == 'random':
        poses = [scenes.sample_camera_pose(scene, rng) for _ in range(num_frames)]
    else:
        poses = scenes.camera_trajectory(scene, num_frames, rng)
    states = scenes.moving_objects_sequence(scene, num_frames, rng) if motion == 'objects' \
        else scene
    sensor = SensorConfig() if noise else SensorConfig.noiseless()
    return scenes.render_sequence(states, poses, _intrinsics(intrinsics_name), sensor, rng)


def _write_scene(job) -> List[str]:
    """Render and write one scene; return its list-file entries (run in a worker)."""
    import torch

    from catpose_ros.data import nocs

    torch.set_num_threads(1)
    index, args = job
    nocs_split = _nocs_split(args['split'], args['intrinsics'])
    directory, part = nocs.SPLITS[nocs_split]
    name = _scene_name(index, args['intrinsics'])
    scene_dir = Path(args['out']) / directory / part / name
    scene_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    frames = scene_frames(index, args['seed'], args['split'], args['intrinsics'],
                          args['frames_per_scene'], args['motion'], args['noise'])
    for k, frame in enumerate(frames):
        nocs.write_frame(scene_dir, k, frame, args['intrinsics'])
        entries.append('%s/%s/%04d' % (part, name, k))
        if args['split'] != 'train':
            data = 'val' if args['intrinsics'] == 'camera' else 'real_test'
            nocs.write_gts(args['out'], data, name, k, frame, entries[-1])
    return entries


def run_generate(args: argparse.Namespace) -> int:
    """Render the scenes (optionally in worker processes) and write the split's list file."""
    import multiprocessing
    import time

    from tqdm import tqdm

    from catpose_ros.data import nocs

    if args.scenes < 1 or args.frames_per_scene < 1 or args.workers < 1:
        raise SystemExit('--scenes, --frames-per-scene and --workers must be positive')
    job = {'out': str(args.out), 'split': args.split, 'intrinsics': args.intrinsics,
           'frames_per_scene': args.frames_per_scene, 'motion': args.motion,
           'noise': not args.no_noise, 'seed': args.seed}
    jobs = [(index, job) for index in range(args.scenes)]
    entries: List[List[str]] = [[] for _ in jobs]
    start = time.perf_counter()
    with tqdm(total=args.scenes * args.frames_per_scene, unit='frame') as progress:
        if args.workers == 1:
            results = map(_write_scene, jobs)
        else:
            pool = multiprocessing.get_context('spawn').Pool(args.workers)
            results = pool.imap(_write_scene, jobs)
        for index, scene_entries in enumerate(results):
            entries[index] = scene_entries
            progress.update(len(scene_entries))
        if args.workers > 1:
            pool.close()
            pool.join()
    elapsed = time.perf_counter() - start
    flat = [entry for scene_entries in entries for entry in scene_entries]
    listing = nocs.write_list_file(args.out, _nocs_split(args.split, args.intrinsics), flat)
    LOG.info('wrote %d frames in %.1f s (%.2f frames/s) and %s', len(flat), elapsed,
             len(flat) / elapsed, listing)
    return 0


def run_contact_sheet(args: argparse.Namespace) -> int:
    """Render one noisy view of each of a few scenes and save them side by side."""
    import cv2

    from catpose_ros.data.contact_sheet import contact_sheet

    frames = [next(iter(scene_frames(index, args.seed, args.split, args.intrinsics, 1,
                                     'random', True)))
              for index in range(args.scenes)]
    sheet = contact_sheet(frames)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise SystemExit('could not write %s' % args.out)
    LOG.info('wrote %s (%d x %d)', args.out, sheet.shape[1], sheet.shape[0])
    return 0


def _render_scene(job) -> list:
    """Render the frames of one scene in memory (run in a worker)."""
    import torch

    torch.set_num_threads(1)
    index, args = job
    return list(scene_frames(index, args['seed'], args['split'], args['intrinsics'],
                             args['frames_per_scene'], 'random', True))


def _scene_jobs(args: argparse.Namespace, **extra) -> list:
    """Check the scene options; return one (scene index, settings) job per scene."""
    if args.scenes < 1 or args.frames_per_scene < 1 or args.workers < 1:
        raise SystemExit('--scenes, --frames-per-scene and --workers must be positive')
    job = {'split': args.split, 'intrinsics': args.intrinsics, 'seed': args.seed,
           'frames_per_scene': args.frames_per_scene, **extra}
    return [(index, job) for index in range(args.first_scene, args.first_scene + args.scenes)]


def run_synth_cache(args: argparse.Namespace) -> int:
    """Render scenes in worker processes and back-project them into one point cache."""
    import multiprocessing

    from catpose_ros.data.dataset import build_point_cache

    jobs = _scene_jobs(args)
    context = multiprocessing.get_context('spawn')
    with context.Pool(args.workers) as pool:
        frames = (frame for scene in pool.imap(_render_scene, jobs) for frame in scene)
        counts = build_point_cache(frames, args.out, max_points=args.max_points,
                                   mask_noise_variants=args.mask_noise_variants,
                                   seed=args.seed)
    LOG.info('cache %s: %s', args.out, counts)
    return 0


def run_cache(args: argparse.Namespace) -> int:
    """Build the training point cache of one NOCS split."""
    from catpose_ros.data.dataset import build_point_cache

    counts = build_point_cache(args.root, args.out, args.split, max_points=args.max_points,
                               min_points=args.min_points,
                               mask_noise_variants=args.mask_noise_variants, seed=args.seed)
    LOG.info('cache %s: %s', args.out, counts)
    return 0


def _segmentation_scene(job):
    """Render one scene and shrink its frames to segmentation samples (run in a worker)."""
    from catpose_ros.data.segmentation import samples_from_frames

    return samples_from_frames(_render_scene(job), job[1]['size'])


def run_segmentation_samples(args: argparse.Namespace) -> int:
    """Render scenes (optionally in worker processes) into one segmentation samples file."""
    import multiprocessing

    from tqdm import tqdm

    from catpose_ros.data.segmentation import SegmentationSamples

    jobs = _scene_jobs(args, size=tuple(args.size))
    if args.workers == 1:
        parts = [_segmentation_scene(j) for j in tqdm(jobs, unit='scene')]
    else:
        with multiprocessing.get_context('spawn').Pool(args.workers) as pool:
            parts = list(tqdm(pool.imap(_segmentation_scene, jobs), total=len(jobs),
                              unit='scene'))
    samples = SegmentationSamples.concatenate(parts)
    LOG.info('wrote %d samples to %s', len(samples), samples.save(args.out))
    return 0
