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

"""NOCS REAL275 / CAMERA25 frames on disk, in the layout the NOCS and SPD tools produce.

One frame is a set of files sharing a prefix ``<scene>/<index:04d>``:

- ``_color.png``: 8-bit colour (BGR on disk, RGB in memory);
- ``_depth.png``: uint16 millimetres (subset 'real'), or for subset 'camera' the 3-channel
  8-bit encoding that the NOCS/SPD loaders decode as ``img[..., 1] * 256 + img[..., 2]`` of the
  OpenCV (BGR) array, with 32001 meaning invalid;
- ``_mask.png``: instance id in OpenCV channel 2, 255 = background;
- ``_coord.png``: NOCS map as ``round(255 * (x, y, 1 - z))`` in RGB, saved BGR;
- ``_meta.txt``: ``inst_id cls_id model_id`` (real) or ``inst_id cls_id synset model_id``
  (camera);
- ``_label.pkl``: the SPD label (class_ids 1..6, bboxes [y1, x1, y2, x2] with exclusive
  ends, scales = NOCS scale, rotations, translations, instance_ids, model_list, size =
  normalised extents, poses = 4x4 sRT, handle_visibility).

Splits are found in the SPD/GenPose layout (``Real/test/<scene>/``, ``CAMERA/val/...`` with
``*_list.txt``) or in the layout of the released archives (``real_test/scene_1/...``,
``camera_val/...``), see `locate_split`. The reader needs the label pickle: poses cannot be
recovered honestly from the raw NOCS files without the SPD/Umeyama step, so a missing label
is an error naming the file.
Our object frame is already centred on the tight box, so the SPD mug re-centring
(mug_meta.pkl) does not apply to frames written here.
"""

from dataclasses import dataclass
from pathlib import Path
import pickle
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from catpose_ros.categories import category_by_id, category_by_name
from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.data.safe_pickle import safe_load, UnsafePickleError
from catpose_ros.geometry.camera import (CameraIntrinsics, NOCS_CAMERA_INTRINSICS,
                                         NOCS_REAL_INTRINSICS)

SUBSETS = ('real', 'camera')
CAMERA_SYNSETS: Dict[str, str] = {
    'bottle': '02876657', 'bowl': '02880940', 'camera': '02942699',
    'can': '02946921', 'laptop': '03642806', 'mug': '03797390',
}
CAMERA_INVALID_DEPTH_MM = 32001
MASK_BACKGROUND = 255
LABEL_KEYS = ('class_ids', 'bboxes', 'scales', 'rotations', 'translations', 'instance_ids',
              'model_list')
GTS_KEYS = ('gt_class_ids', 'gt_bboxes', 'gt_RTs', 'gt_scales', 'gt_handle_visibility')
SPLITS: Dict[str, tuple] = {
    'camera_train': ('CAMERA', 'train'), 'camera_val': ('CAMERA', 'val'),
    'real_train': ('Real', 'train'), 'real_test': ('Real', 'test'),
}


class DatasetError(RuntimeError):
    """A dataset file is missing, unreadable or inconsistent (the message names the file)."""


def read_image(path: Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Read an image with OpenCV, turning a missing or undecodable file into DatasetError."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError('missing file: %s' % path)
    image = cv2.imread(str(path), flags)
    if image is None:
        raise DatasetError('cannot decode image: %s' % path)
    return image


def write_image(path: Path, image: np.ndarray) -> None:
    """Write an image with OpenCV, failing loudly instead of returning False."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise DatasetError('cannot write image: %s' % path)


def read_pickle(path: Path):
    """Load a (possibly Python-2 era) pickle, with DatasetError naming a bad file.

    Only NumPy arrays and builtin containers are allowed (data/safe_pickle.py), so a
    shared dataset file cannot run code.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError('missing file: %s' % path)
    try:
        with open(path, 'rb') as handle:
            return safe_load(handle)
    except UnsafePickleError as error:
        raise DatasetError('unsafe pickle %s: %s' % (path, error)) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise DatasetError('corrupt pickle %s: %s' % (path, error)) from None


def write_pickle(path: Path, data) -> None:
    """Write a pickle, creating the parent directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'wb') as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)


def mask_bbox(mask: np.ndarray) -> np.ndarray:
    """Return the [y1, x1, y2, x2] box of a boolean mask, ends exclusive (as NOCS/SPD)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError('empty mask has no bounding box')
    return np.array([rows[0], cols[0], rows[-1] + 1, cols[-1] + 1], dtype=np.int32)


def _file(prefix: Path, suffix: str) -> Path:
    return Path(str(prefix) + suffix)


def _check_subset(subset: str) -> None:
    if subset not in SUBSETS:
        raise ValueError('subset must be one of %s, got %r' % (SUBSETS, subset))


def default_intrinsics(subset: str) -> CameraIntrinsics:
    """Return the fixed camera of a NOCS subset."""
    _check_subset(subset)
    return NOCS_REAL_INTRINSICS if subset == 'real' else NOCS_CAMERA_INTRINSICS


def encode_depth(depth_m: np.ndarray, subset: str) -> np.ndarray:
    """Turn metric depth into the subset's depth.png array (0 = no depth)."""
    _check_subset(subset)
    depth_mm = np.rint(np.nan_to_num(np.asarray(depth_m, dtype=np.float64)) * 1000.0)
    if subset == 'real':
        return np.clip(depth_mm, 0, 65535).astype(np.uint16)
    depth_mm = np.where((depth_mm <= 0) | (depth_mm >= CAMERA_INVALID_DEPTH_MM),
                        CAMERA_INVALID_DEPTH_MM, depth_mm).astype(np.uint16)
    encoded = np.zeros(depth_mm.shape + (3,), dtype=np.uint8)
    encoded[..., 1] = depth_mm >> 8
    encoded[..., 2] = depth_mm & 0xFF
    return encoded


def decode_depth(image: np.ndarray, path: Path = Path('<array>')) -> np.ndarray:
    """Decode a NOCS depth.png array (uint16 mm or CAMERA 3-channel) to metres (float32)."""
    if image.ndim == 3:
        depth_mm = image[..., 1].astype(np.uint16) * 256 + image[..., 2].astype(np.uint16)
        depth_mm[depth_mm == CAMERA_INVALID_DEPTH_MM] = 0
    elif image.ndim == 2 and image.dtype == np.uint16:
        depth_mm = image
    else:
        raise DatasetError('unsupported depth image %s (%s, shape %s)'
                           % (path, image.dtype, image.shape))
    return depth_mm.astype(np.float32) / 1000.0


def encode_mask(mask: np.ndarray) -> np.ndarray:
    """Turn an in-memory mask (0 = background) into NOCS's 3-channel mask.png array."""
    mask = np.asarray(mask)
    if mask.size and (mask.min() < 0 or mask.max() >= MASK_BACKGROUND):
        raise ValueError('instance ids must lie in 0..254, got max %d' % mask.max())
    stored = np.where(mask == 0, MASK_BACKGROUND, mask).astype(np.uint8)
    return np.repeat(stored[..., None], 3, axis=2)


def decode_mask(image: np.ndarray) -> np.ndarray:
    """Turn a NOCS mask.png array (id in channel 2, 255 = background) into 0-background ids."""
    ids = image[..., 2] if image.ndim == 3 else image
    return np.where(ids == MASK_BACKGROUND, 0, ids).astype(np.uint8)


def encode_coord(coord: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Turn a NOCS map in [0, 1] into coord.png's BGR array (z stored as 1 - z)."""
    rgb = np.clip(np.asarray(coord, dtype=np.float64), 0.0, 1.0).copy()
    rgb[..., 2] = 1.0 - rgb[..., 2]
    stored = np.rint(rgb * 255.0).astype(np.uint8)
    stored[mask == 0] = 0
    return stored[..., ::-1].copy()


def decode_coord(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Decode coord.png (BGR, z stored as 1 - z) into NOCS coordinates, 0 off the objects."""
    coord = image[..., :3][..., ::-1].astype(np.float32) / 255.0
    coord[..., 2] = 1.0 - coord[..., 2]
    coord[mask == 0] = 0.0
    return coord


def _visible_objects(frame: Frame) -> List[ObjectAnnotation]:
    """Objects with at least one mask pixel, sorted by instance id (SPD's label order)."""
    present = set(np.unique(frame.mask).tolist()) - {0}
    return sorted((o for o in frame.objects if o.instance_id in present),
                  key=lambda o: o.instance_id)


def _model_name(obj: ObjectAnnotation) -> str:
    return obj.model_id or '%s_%d' % (obj.category, obj.instance_id)


def _meta_lines(objects: Sequence[ObjectAnnotation], subset: str) -> List[str]:
    lines = []
    for obj in objects:
        class_id = category_by_name(obj.category).class_id
        if subset == 'real':
            lines.append('%d %d %s' % (obj.instance_id, class_id, _model_name(obj)))
        else:
            lines.append('%d %d %s %s' % (obj.instance_id, class_id,
                                          CAMERA_SYNSETS[obj.category], _model_name(obj)))
    return lines


def _sRT(obj: ObjectAnnotation) -> np.ndarray:
    pose = obj.pose.astype(np.float32)
    pose[:3, :3] *= obj.scale
    return pose


def frame_label(frame: Frame) -> Dict:
    """Build the SPD label dict of a frame's visible objects."""
    objects = _visible_objects(frame)
    scales = np.array([o.scale for o in objects], dtype=np.float32)
    return {
        'class_ids': [category_by_name(o.category).class_id for o in objects],
        'bboxes': np.array([mask_bbox(frame.mask == o.instance_id) for o in objects],
                           dtype=np.int32).reshape(-1, 4),
        'scales': scales,
        'rotations': np.array([o.rotation for o in objects], dtype=np.float32).reshape(-1, 3, 3),
        'translations': np.array([o.translation for o in objects],
                                 dtype=np.float32).reshape(-1, 3),
        'instance_ids': [int(o.instance_id) for o in objects],
        'model_list': [_model_name(o) for o in objects],
        'size': np.array([np.asarray(o.size) / o.scale for o in objects],
                         dtype=np.float32).reshape(-1, 3),
        'poses': np.array([_sRT(o) for o in objects], dtype=np.float32).reshape(-1, 4, 4),
        'handle_visibility': np.array([int(o.handle_visible) for o in objects], dtype=np.int32),
    }


def write_frame(scene_dir: Path, index: int, frame: Frame, subset: str) -> Path:
    """Write one frame in the NOCS layout of `subset` ('real' or 'camera'); return its prefix.

    Objects that have no mask pixel are left out of meta.txt and the label, as in SPD.
    """
    _check_subset(subset)
    prefix = Path(scene_dir) / ('%04d' % index)
    write_image(_file(prefix, '_color.png'),
                cv2.cvtColor(np.asarray(frame.color, dtype=np.uint8), cv2.COLOR_RGB2BGR))
    write_image(_file(prefix, '_depth.png'), encode_depth(frame.depth, subset))
    write_image(_file(prefix, '_mask.png'), encode_mask(frame.mask))
    if frame.coord is not None:
        write_image(_file(prefix, '_coord.png'), encode_coord(frame.coord, frame.mask))
    objects = _visible_objects(frame)
    _file(prefix, '_meta.txt').write_text(''.join(line + '\n'
                                                  for line in _meta_lines(objects, subset)))
    write_pickle(_file(prefix, '_label.pkl'), frame_label(frame))
    return prefix


def _label_field(label: Dict, key: str, path: Path):
    if key not in label:
        raise DatasetError('label %s lacks key %r' % (path, key))
    return label[key]


def _normalised_sizes(label: Dict, path: Path,
                      model_sizes: Optional[Dict[str, np.ndarray]]) -> np.ndarray:
    """Normalised extents per instance: the label's 'size' or the model-size table."""
    if 'size' in label:
        return np.asarray(label['size'], dtype=np.float64).reshape(-1, 3)
    if model_sizes is None:
        raise DatasetError('label %s has no "size" (a training label); pass model_sizes from '
                           'obj_models/*.pkl (see load_model_sizes)' % path)
    try:
        return np.array([model_sizes[name] for name in label['model_list']], dtype=np.float64)
    except KeyError as error:
        raise DatasetError('model %s of %s not in model_sizes' % (error, path)) from None


def label_objects(label: Dict, path: Path,
                  model_sizes: Optional[Dict[str, np.ndarray]] = None) -> List[ObjectAnnotation]:
    """Turn an SPD label dict into ObjectAnnotations (metric size = scale * normalised size)."""
    fields = {key: _label_field(label, key, path) for key in LABEL_KEYS}
    count = len(fields['instance_ids'])
    sizes = _normalised_sizes(label, path, model_sizes)
    handles = label.get('handle_visibility', np.ones(count))
    lengths = {len(fields[key]) for key in LABEL_KEYS} | {len(sizes), len(handles)}
    if lengths != {count}:
        raise DatasetError('label %s has per-instance arrays of different lengths' % path)
    objects = []
    for i in range(count):
        scale = float(np.asarray(fields['scales'][i]).reshape(-1)[0])
        objects.append(ObjectAnnotation(
            instance_id=int(fields['instance_ids'][i]),
            category=category_by_id(int(fields['class_ids'][i])).name,
            rotation=np.asarray(fields['rotations'][i], dtype=np.float64).reshape(3, 3),
            translation=np.asarray(fields['translations'][i], dtype=np.float64).reshape(3),
            size=scale * sizes[i],
            handle_visible=bool(handles[i]),
            model_id=str(fields['model_list'][i])))
    return objects


def read_frame(prefix: Path, subset: str, intrinsics: Optional[CameraIntrinsics] = None,
               model_sizes: Optional[Dict[str, np.ndarray]] = None) -> Frame:
    """Read one NOCS frame (files ``<prefix>_*``) with its SPD label into a Frame.

    Without `intrinsics`, the subset's 640 x 480 camera is used, scaled to the image size.
    """
    _check_subset(subset)
    prefix = Path(prefix)
    color = cv2.cvtColor(read_image(_file(prefix, '_color.png'), cv2.IMREAD_COLOR),
                         cv2.COLOR_BGR2RGB)
    depth_path = _file(prefix, '_depth.png')
    depth = decode_depth(read_image(depth_path), depth_path)
    mask = decode_mask(read_image(_file(prefix, '_mask.png'), cv2.IMREAD_COLOR))
    coord_path = _file(prefix, '_coord.png')
    coord = (decode_coord(read_image(coord_path, cv2.IMREAD_COLOR), mask)
             if coord_path.is_file() else None)
    label_path = _file(prefix, '_label.pkl')
    objects = label_objects(read_pickle(label_path), label_path, model_sizes)
    if not (color.shape[:2] == depth.shape == mask.shape):
        raise DatasetError('images of %s have different sizes' % prefix)
    if intrinsics is None:
        intrinsics = default_intrinsics(subset)
        if (intrinsics.height, intrinsics.width) != depth.shape:
            intrinsics = intrinsics.scaled(depth.shape[1], depth.shape[0])
    return Frame(color=color, depth=depth, mask=mask, intrinsics=intrinsics, objects=objects,
                 coord=coord, frame_id=str(prefix))


def load_model_sizes(obj_models_pkl: Path) -> Dict[str, np.ndarray]:
    """Normalised extents (2 max|p|, as SPD) of each model in obj_models/<split>.pkl."""
    models = read_pickle(obj_models_pkl)
    return {name: 2.0 * np.abs(np.asarray(points)).max(axis=0) for name, points in models.items()}


def _subset_of_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError('split must be one of %s, got %r' % (tuple(SPLITS), split))
    return 'camera' if SPLITS[split][0] == 'CAMERA' else 'real'


def list_file(root: Path, split: str) -> Path:
    """Return the SPD list file of a split, e.g. ``<root>/Real/test_list.txt``."""
    _subset_of_split(split)
    directory, part = SPLITS[split]
    return Path(root) / directory / ('%s_list.txt' % part)


def scan_split(root: Path, split: str) -> List[str]:
    """List a split's frames as ``<part>/<scene>/<index>`` by scanning for *_color.png."""
    _subset_of_split(split)
    directory, part = SPLITS[split]
    base = Path(root) / directory
    return sorted(str(p.relative_to(base))[:-len('_color.png')]
                  for p in (base / part).glob('*/*_color.png'))


def write_list_file(root: Path, split: str, entries: Optional[Sequence[str]] = None) -> Path:
    """Write a split's list file (from `entries`, or from a directory scan)."""
    path = list_file(root, split)
    entries = scan_split(root, split) if entries is None else list(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(entry + '\n' for entry in entries))
    return path


# Where each layout keeps a split's scenes, relative to the dataset root.
ARCHIVE_DIRS: Dict[str, tuple] = {
    'camera_train': ('camera_train', 'camera/train'), 'camera_val': ('camera_val', 'camera/val'),
    'real_train': ('real_train', 'real/train'), 'real_test': ('real_test', 'real/test'),
}
EVAL_DATA_NAMES: Dict[str, str] = {
    'camera_train': 'train', 'camera_val': 'val', 'real_train': 'real_train',
    'real_test': 'real_test'}


@dataclass
class SplitLocation:
    """Where a split's frames are: the layout found, the base of the entries, the entries."""

    layout: str
    base: Path
    entries: List[str]
    listing: Optional[Path] = None

    def describe(self) -> str:
        """One line saying which layout was found and where."""
        source = 'list file %s' % self.listing if self.listing else 'a directory scan'
        return '%s layout under %s (%d frames from %s)' % (
            self.layout, self.base, len(self.entries), source)


def _scan(base: Path, part: str = '') -> List[str]:
    directory = base / part if part else base
    return sorted(str(p.relative_to(base))[:-len('_color.png')]
                  for p in directory.glob('*/*_color.png'))


def _listed(path: Path) -> List[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def locate_split(root: Path, split: str) -> SplitLocation:
    """Find a split in the SPD/GenPose layout or in the layout of the released archives.

    SPD/GenPose: ``<root>/Real/test/<scene>/<index>_*`` with an optional
    ``<root>/Real/test_list.txt`` (entries ``test/<scene>/<index>``). Released archives:
    ``<root>/real_test/<scene>/<index>_*`` (also ``<root>/real/test``), with an optional
    ``<root>/real_test_list.txt`` (entries ``<scene>/<index>``). DatasetError says what was
    looked for when neither matches.
    """
    _subset_of_split(split)
    root = Path(root)
    listing = list_file(root, split)
    spd_base = listing.parent
    if listing.is_file():
        return SplitLocation('SPD/GenPose', spd_base, _listed(listing), listing)
    entries = _scan(spd_base, SPLITS[split][1])
    if entries:
        return SplitLocation('SPD/GenPose', spd_base, entries)
    archive_listing = root / ('%s_list.txt' % split)
    for name in ARCHIVE_DIRS[split]:
        base = root / name
        if archive_listing.is_file() and base.is_dir():
            return SplitLocation('released-archive', base, _listed(archive_listing),
                                 archive_listing)
        entries = _scan(base)
        if entries:
            return SplitLocation('released-archive', base, entries)
    looked = [str(listing), str(spd_base / SPLITS[split][1] / '*' / '*_color.png')]
    looked += [str(root / name / '*' / '*_color.png') for name in ARCHIVE_DIRS[split]]
    raise DatasetError('split %s has no frames under %s: neither the SPD/GenPose layout nor '
                       'the released-archive layout matched (looked for %s)'
                       % (split, root, ', '.join(looked)))


class NocsDataset:
    """The frames of one NOCS split: 'camera_train', 'camera_val', 'real_train', 'real_test'.

    Frames need the SPD ``_label.pkl`` next to their images (SPD's preprocess/pose_data.py
    writes it into either layout). Without `model_sizes`, ``<root>/obj_models/<split>.pkl`` is
    used when present, for training labels that carry no 'size'.
    """

    def __init__(self, root: Path, split: str,
                 model_sizes: Optional[Dict[str, np.ndarray]] = None):
        self.root = Path(root)
        self.split = split
        self.subset = _subset_of_split(split)
        models = self.root / 'obj_models' / ('%s.pkl' % split)
        if model_sizes is None and models.is_file():
            model_sizes = load_model_sizes(models)
        self.model_sizes = model_sizes
        self.location = locate_split(self.root, split)
        self.entries = self.location.entries

    def prefix(self, index: int) -> Path:
        """Return the file prefix of frame `index`."""
        return self.location.base / self.entries[index]

    def eval_name(self, index: int) -> str:
        """Return the NOCS result-pickle name, ``results_<data>_<scene>_<index>.pkl``."""
        parts = Path(self.entries[index]).parts
        return 'results_%s_%s.pkl' % (EVAL_DATA_NAMES[self.split], '_'.join(parts[-2:]))

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Frame:
        return read_frame(self.prefix(index), self.subset, model_sizes=self.model_sizes)

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def gts_path(root: Path, data: str, scene: str, index: int) -> Path:
    """Return ``<root>/gts/<data>/results_<data>_<scene>_<index:04d>.pkl`` (NOCS naming)."""
    if data not in ('val', 'real_test'):
        raise ValueError("data must be 'val' or 'real_test', got %r" % data)
    return Path(root) / 'gts' / data / ('results_%s_%s_%04d.pkl' % (data, scene, index))


def write_gts(root: Path, data: str, scene: str, index: int, frame: Frame,
              image_path: str = '') -> Path:
    """Write the NOCS evaluation ground truth of a frame (gt_RTs are sRT, gt_scales normalised)."""
    label = frame_label(frame)
    path = gts_path(root, data, scene, index)
    write_pickle(path, {
        'image_id': index,
        'image_path': image_path,
        'gt_class_ids': np.asarray(label['class_ids'], dtype=np.int32),
        'gt_bboxes': label['bboxes'],
        'gt_RTs': label['poses'],
        'gt_scales': label['size'],
        'gt_handle_visibility': label['handle_visibility'],
    })
    return path


def read_gts(path: Path) -> Dict:
    """Read a NOCS gts pickle, checking that its ground-truth keys are there and consistent."""
    gts = read_pickle(path)
    if not isinstance(gts, dict):
        raise DatasetError('gts %s is not a dict' % path)
    missing = [key for key in GTS_KEYS if key not in gts]
    if missing:
        raise DatasetError('gts %s lacks keys %s' % (path, missing))
    if len({len(gts[key]) for key in GTS_KEYS}) != 1:
        raise DatasetError('gts %s has per-instance arrays of different lengths' % path)
    return gts


def gts_objects(gts: Dict) -> List[ObjectAnnotation]:
    """Turn NOCS gts (sRT with s*R, normalised scales) into ObjectAnnotations (ids 1..)."""
    objects = []
    for i, (class_id, srt) in enumerate(zip(gts['gt_class_ids'], gts['gt_RTs'])):
        srt = np.asarray(srt, dtype=np.float64)
        scale = float(np.cbrt(np.linalg.det(srt[:3, :3])))
        objects.append(ObjectAnnotation(
            instance_id=i + 1, category=category_by_id(int(class_id)).name,
            rotation=srt[:3, :3] / scale, translation=srt[:3, 3].copy(),
            size=scale * np.asarray(gts['gt_scales'][i], dtype=np.float64),
            handle_visible=bool(gts['gt_handle_visibility'][i])))
    return objects
