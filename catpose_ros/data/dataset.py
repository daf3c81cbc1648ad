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

"""Point-cloud cache and the training dataset built on it.

GenPose decodes PNGs and pickles for every sample, which starves the GPU. Here each visible
instance is back-projected once (``build_point_cache``) and stored with its labels in one
compressed .npz (or shards): up to `max_points` unique points per instance, as float16
offsets from a float32 per-instance centre (0.25 mm resolution within 0.5 m), so training
only slices arrays. ``PosePointDataset`` resamples to `num_points` (GenPose's rule: random
subset, or tiling when fewer) and applies the point augmentations of data/augment.py.

Mask boundary noise needs the mask, which the cache does not keep: the cache stores
`mask_noise_variants` extra point sets per instance, back-projected through noisy masks
(augment.mask_boundary_noise), and the dataset picks one with probability
``AugmentConfig.mask_noise_prob``.

Memory: about 6 * points bytes per stored point set (12 KB for 2048 points), held in RAM.
"""

import logging
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
from tqdm import tqdm

from catpose_ros.categories import category_by_name
from catpose_ros.data.augment import augment_sample, AugmentConfig, mask_boundary_noise
from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.data.nocs import DatasetError
from catpose_ros.geometry.camera import MAX_DEPTH_M, MIN_DEPTH_M

LOGGER = logging.getLogger(__name__)
CACHE_VERSION = 1
LABELS = ('rotation', 'translation', 'size', 'category', 'category_name', 'symmetric',
          'handle_visible', 'instance_id', 'frame_id')


def nocs_category_id(obj: ObjectAnnotation) -> int:
    """Return the NOCS class id of an annotation (the default category numbering)."""
    return category_by_name(obj.category).class_id


def nocs_symmetric(obj: ObjectAnnotation) -> bool:
    """Whether a NOCS-category annotation is symmetric about y in this view."""
    return category_by_name(obj.category).is_symmetric(obj.handle_visible)


class _PointSets:
    """Variable-length point sets packed as float16 offsets + float32 centres."""

    def __init__(self):
        self.chunks: List[np.ndarray] = []
        self.centres: List[np.ndarray] = []
        self.lengths: List[int] = []

    def add(self, points: np.ndarray) -> None:
        centre = points.mean(axis=0)
        self.chunks.append((points - centre).astype(np.float16))
        self.centres.append(centre.astype(np.float32))
        self.lengths.append(len(points))

    def arrays(self, prefix: str) -> Dict[str, np.ndarray]:
        offsets = np.concatenate(([0], np.cumsum(self.lengths))).astype(np.int64)
        return {
            prefix + 'points': (np.concatenate(self.chunks) if self.chunks
                                else np.zeros((0, 3), np.float16)),
            prefix + 'offsets': offsets,
            prefix + 'centre': np.array(self.centres, np.float32).reshape(-1, 3),
        }


def _subsample(points: np.ndarray, max_points: int, rng: np.random.Generator) -> np.ndarray:
    if len(points) <= max_points:
        return points
    return points[rng.choice(len(points), max_points, replace=False)]


def _frames_from(source: Union[Iterable[Frame], str, Path], split: Optional[str]):
    if isinstance(source, (str, Path)):
        from catpose_ros.data.nocs import NocsDataset
        if split is None:
            raise ValueError('a NOCS root needs a split (camera_train, real_train, ...)')
        return NocsDataset(Path(source), split)
    return source


def build_point_cache(source: Union[Iterable[Frame], str, Path], out_path: Path,
                      split: Optional[str] = None, max_points: int = 2048,
                      min_points: int = 50, mask_noise_variants: int = 1, seed: int = 0,
                      category_id: Callable[[ObjectAnnotation], int] = nocs_category_id,
                      is_symmetric: Callable[[ObjectAnnotation], bool] = nocs_symmetric,
                      min_depth: float = MIN_DEPTH_M,
                      max_depth: float = MAX_DEPTH_M) -> Dict[str, int]:
    """Back-project every visible instance of `source` once and save points + labels.

    `source` is an iterable of Frames or a NOCS root (with `split`). Instances with fewer
    than `min_points` valid depth pixels are dropped, as GenPose does; a source that yields
    no instance at all is a DatasetError. Returns counts (frames, instances, dropped).
    """
    # geometry.backprojection imports torch; importing it here keeps `catpose --help` fast.
    from catpose_ros.geometry.backprojection import backproject
    rng = np.random.default_rng(seed)
    clean, noisy = _PointSets(), _PointSets()
    labels: Dict[str, list] = {key: [] for key in LABELS}
    noisy_owner: List[int] = []
    counts = {'frames': 0, 'instances': 0, 'dropped': 0}
    for frame in tqdm(_frames_from(source, split), desc='point cache', unit='frame',
                      disable=None):
        counts['frames'] += 1
        for obj in frame.objects:
            mask = frame.mask == obj.instance_id
            points = backproject(frame.depth, mask, frame.intrinsics, min_depth, max_depth)
            if len(points) < min_points:
                counts['dropped'] += 1
                continue
            owner = len(clean.lengths)
            clean.add(_subsample(points, max_points, rng))
            for _ in range(mask_noise_variants):
                noisy_mask = mask_boundary_noise(mask, rng)
                variant = backproject(frame.depth, noisy_mask, frame.intrinsics, min_depth,
                                      max_depth)
                if len(variant) >= min_points:
                    noisy.add(_subsample(variant, max_points, rng))
                    noisy_owner.append(owner)
            for key, value in (('rotation', obj.rotation), ('translation', obj.translation),
                               ('size', obj.size), ('category', category_id(obj)),
                               ('category_name', obj.category),
                               ('symmetric', is_symmetric(obj)),
                               ('handle_visible', obj.handle_visible),
                               ('instance_id', obj.instance_id),
                               ('frame_id', frame.frame_id)):
                labels[key].append(value)
    counts['instances'] = len(clean.lengths)
    if counts['instances'] == 0:
        raise DatasetError('no instance with >= %d valid points in %d frames; nothing cached '
                           'to %s' % (min_points, counts['frames'], out_path))
    arrays = dict(clean.arrays(''), **{'noisy_' + k: v for k, v in noisy.arrays('').items()})
    arrays.update(
        rotation=np.array(labels['rotation'], np.float32),
        translation=np.array(labels['translation'], np.float32),
        size=np.array(labels['size'], np.float32),
        category=np.array(labels['category'], np.int64),
        category_name=np.array(labels['category_name'], dtype=str),
        symmetric=np.array(labels['symmetric'], bool),
        handle_visible=np.array(labels['handle_visible'], bool),
        instance_id=np.array(labels['instance_id'], np.int64),
        frame_id=np.array(labels['frame_id'], dtype=str),
        noisy_owner=np.array(noisy_owner, np.int64),
        version=np.array(CACHE_VERSION))
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path, **arrays)
    LOGGER.info('cached %d instances from %d frames (%d dropped) to %s', counts['instances'],
                counts['frames'], counts['dropped'], out_path)
    return counts


def _load_cache(path: Path) -> Dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise DatasetError('missing point cache: %s' % path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise DatasetError('corrupt point cache %s: %s' % (path, error)) from None
    if int(arrays.get('version', -1)) != CACHE_VERSION:
        raise DatasetError('point cache %s has version %s, expected %d'
                           % (path, arrays.get('version'), CACHE_VERSION))
    return arrays


def _concatenate(caches: Sequence[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """Join shards: offsets and owners are shifted by what comes before."""
    if len(caches) == 1:
        return caches[0]
    merged: Dict[str, list] = {}
    shift = {'offsets': 0, 'noisy_offsets': 0, 'noisy_owner': 0}
    for cache in caches:
        for key, value in cache.items():
            if key == 'version':
                continue
            if key in ('offsets', 'noisy_offsets'):
                value = value[(1 if merged.get(key) else 0):] + shift[key]
            elif key == 'noisy_owner':
                value = value + shift[key]
            merged.setdefault(key, []).append(value)
        shift['offsets'] += len(cache['points'])
        shift['noisy_offsets'] += len(cache['noisy_points'])
        shift['noisy_owner'] += len(cache['rotation'])
    return {key: np.concatenate(parts) for key, parts in merged.items()}


class PosePointDataset:
    """Map-style dataset over a point cache (works with torch.utils.data.DataLoader).

    Each item is a dict of numpy values that DataLoader's default collate turns into
    tensors: points (num_points, 3) float32 camera frame, rotation (3, 3), translation (3,)
    absolute, size (3,), category (int), symmetric (bool). Items are a deterministic
    function of (seed, epoch, index), whatever the worker layout; call set_epoch per epoch.
    """

    def __init__(self, cache_path: Union[Path, Sequence[Path]], num_points: int = 1024,
                 augment: Optional[AugmentConfig] = None, seed: int = 0):
        paths = [cache_path] if isinstance(cache_path, (str, Path)) else list(cache_path)
        self.data = _concatenate([_load_cache(p) for p in paths])
        self.num_points = num_points
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self._variants = self._index_variants()

    def _index_variants(self) -> List[np.ndarray]:
        owners = self.data['noisy_owner']
        order = np.argsort(owners, kind='stable')
        bounds = np.searchsorted(owners[order], np.arange(len(self) + 1))
        return [order[bounds[i]:bounds[i + 1]] for i in range(len(self))]

    def set_epoch(self, epoch: int) -> None:
        """Change the random stream (augmentations, resampling) for a new epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.data['rotation'])

    def _points(self, prefix: str, index: int) -> np.ndarray:
        start, stop = self.data[prefix + 'offsets'][index:index + 2]
        return (self.data[prefix + 'points'][start:stop].astype(np.float32)
                + self.data[prefix + 'centre'][index])

    def __getitem__(self, index: int) -> Dict[str, object]:
        return self.item(index)

    def item(self, index: int, copy: int = 0) -> Dict[str, object]:
        """Return object `index`; each `copy` > 0 draws its own points and augmentation."""
        from catpose_ros.geometry.backprojection import resample_points
        if not 0 <= index < len(self):
            raise IndexError(index)
        stream = [self.seed, self.epoch, index] + ([copy] if copy else [])
        rng = np.random.default_rng(stream)
        variants = self._variants[index]
        if (self.augment is not None and len(variants)
                and rng.random() < self.augment.mask_noise_prob):
            points = self._points('noisy_', int(variants[rng.integers(len(variants))]))
        else:
            points = self._points('', index)
        points = resample_points(points, self.num_points, rng)
        rotation = self.data['rotation'][index]
        translation = self.data['translation'][index]
        size = self.data['size'][index]
        category = int(self.data['category'][index])
        symmetric = bool(self.data['symmetric'][index])
        if self.augment is not None:
            name = str(self.data['category_name'][index])
            points, rotation, translation, size = augment_sample(
                points, rotation, translation, size, name, symmetric, self.augment, rng)
        return {'points': np.asarray(points, np.float32),
                'rotation': np.asarray(rotation, np.float32),
                'translation': np.asarray(translation, np.float32),
                'size': np.asarray(size, np.float32), 'category': category,
                'symmetric': symmetric}


def parse_category_repeats(spec: str) -> Dict[str, int]:
    """Parse 'camera=2,mug=2' into {'camera': 2, 'mug': 2} (known categories, counts >= 1)."""
    repeats: Dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(','))):
        name, _, count = part.partition('=')
        name = name.strip()
        try:
            category_by_name(name)
        except KeyError as error:
            raise ValueError('category repeat %r: %s' % (part, error.args[0])) from None
        try:
            repeats[name] = int(count)
        except ValueError:
            raise ValueError('category repeat %r: expected name=count' % part) from None
        if repeats[name] < 1:
            raise ValueError('category repeat %r: count must be >= 1' % part)
    return repeats


class CategoryRepeats:
    """An epoch that holds each object of some categories several times (ours, not the paper's).

    Oversampling the categories a model gets wrong most gives them a larger share of every
    batch without changing the loss. Each copy is its own draw of points and augmentation
    (``PosePointDataset.item``), so no batch sees the same input twice.
    """

    def __init__(self, dataset: PosePointDataset, repeats: Dict[str, int]):
        self.dataset = dataset
        names = dataset.data['category_name']
        counts = np.array([repeats.get(str(n), 1) for n in names], dtype=np.int64)
        self._base = np.repeat(np.arange(len(names)), counts)
        firsts = np.repeat(np.cumsum(counts) - counts, counts)
        self._copy = np.arange(len(self._base)) - firsts

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to the underlying dataset."""
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self._base)

    def __getitem__(self, index: int) -> Dict[str, object]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.dataset.item(int(self._base[index]), int(self._copy[index]))
