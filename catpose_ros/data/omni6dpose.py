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

"""Omni6DPose (ROPE / SOPE) frames: reader and a writer of the same files (fixtures).

A frame is ``<prefix>_{meta.json,color.png,depth.exr,mask.exr[,coord.png]}``, e.g.
``ROPE/000123/000004`` or ``SOPE/07/train/ikea/0012/0003`` as prefix. depth.exr holds metres
(first channel); mask.exr holds mask_id / 255 in channel 2 (OpenCV order), 0 and 255 being
background; coord.png is a NOCS map (z stored as 1 - z, like NOCS). meta.json follows cutoop's
``ImageMetaData`` exactly (every field, no extra key); ``objects`` is a dict keyed
``"<mask_id>_<oid>"`` or a list whose items carry ``mask_id``. Intrinsics are rescaled when the
images are smaller than the size the intrinsics were given for.

Metric size = ``meta.scale * dimensions`` with dimensions and the per-instance symmetry taken
from ``obj_meta.json`` (``Meta/obj_meta.json`` for SOPE, ``Meta/real_obj_meta.json`` for ROPE).
Without it the deprecated ``bbox_side_len`` (documented to be the same product) is used.
Category names (149 of them) are kept as strings. The camera pose in meta.json has an
undocumented reference frame and is not put into ``Frame.camera_pose``.

EXR: the pip OpenCV builds this package pins (opencv-python-headless 5.0) are compiled without
OpenEXR, so ``OPENCV_IO_ENABLE_OPENEXR`` alone does not help there; EXR files then go through
the ``OpenEXR`` package (``pip install OpenEXR``), and without either a clear error says so.
"""

from dataclasses import dataclass, field
import json
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import numpy as np

from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.data.nocs import (DatasetError, decode_coord, encode_coord, read_image,
                                   write_image)
from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.geometry.rotation import matrix_to_quaternion_xyzw, quaternion_xyzw_to_matrix

# OpenCV reads this switch when it first decodes an EXR, so setting it here is early enough.
os.environ.setdefault('OPENCV_IO_ENABLE_OPENEXR', '1')
import cv2  # noqa: E402, I100

MASK_BACKGROUND = 255
MAX_DEPTH_M = 1e3
SYMMETRY_VALUES = ('none', 'any', 'half', 'quarter')


def _opencv_has_exr() -> bool:
    return bool(cv2.haveImageWriter('probe.exr'))


def _openexr():
    try:
        import OpenEXR
    except ImportError:
        raise DatasetError('reading/writing .exr needs OpenCV built with OpenEXR or the '
                           'OpenEXR package (pip install OpenEXR); this OpenCV has no '
                           'EXR codec') from None
    return OpenEXR


def read_exr(path: Path) -> np.ndarray:
    """Read an EXR as float32 in OpenCV's layout: H x W, or H x W x 3 in BGR order."""
    path = Path(path)
    if _opencv_has_exr():
        return read_image(path, cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH).astype(np.float32)
    if not path.is_file():
        raise DatasetError('missing file: %s' % path)
    openexr = _openexr()
    try:
        with openexr.File(str(path), separate_channels=True) as exr:
            channels = {name: np.asarray(ch.pixels) for name, ch in exr.channels().items()}
    except Exception as error:  # noqa: B902 - the binding raises bare exceptions
        raise DatasetError('cannot decode EXR %s: %s' % (path, error)) from None
    if all(name in channels for name in 'BGR'):
        return np.stack([channels[name] for name in 'BGR'], axis=-1).astype(np.float32)
    if len(channels) == 1:
        return next(iter(channels.values())).astype(np.float32)
    raise DatasetError('EXR %s has channels %s, expected one channel or R, G, B'
                       % (path, sorted(channels)))


def write_exr(path: Path, image: np.ndarray) -> None:
    """Write a float32 H x W or H x W x 3 (BGR) image as EXR (as OpenCV would)."""
    path = Path(path)
    image = np.ascontiguousarray(image, dtype=np.float32)
    if _opencv_has_exr():
        write_image(path, image)
        return
    openexr = _openexr()
    if image.ndim == 2:
        channels = {'Y': image}
    else:
        channels = {name: np.ascontiguousarray(image[..., i]) for i, name in enumerate('BGR')}
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {'compression': openexr.ZIP_COMPRESSION, 'type': openexr.scanlineimage}
    openexr.File(header, channels).write(str(path))


@dataclass(frozen=True)
class SymmetryLabel:
    """cutoop's per-instance symmetry: `any` (any_rotation) or none/any/half/quarter per axis."""

    any_rotation: bool = False
    x: str = 'none'
    y: str = 'none'
    z: str = 'none'

    def __post_init__(self):
        for axis in (self.x, self.y, self.z):
            if axis not in SYMMETRY_VALUES:
                raise ValueError('symmetry must be one of %s, got %r' % (SYMMETRY_VALUES, axis))

    @property
    def symmetric_about_y(self) -> bool:
        """Continuous symmetry about the object y axis (what our y-axis metric assumes)."""
        return self.any_rotation or self.y == 'any'


@dataclass
class ObjectInfo:
    """One instance of obj_meta.json's ``instance_dict``."""

    object_id: str
    class_name: str
    class_label: int
    dimensions: np.ndarray
    symmetry: SymmetryLabel = field(default_factory=SymmetryLabel)
    source: str = 'real'
    obj_path: str = ''
    datatype: str = 'train'


def _symmetry(label: dict) -> SymmetryLabel:
    return SymmetryLabel(bool(label['any']), label['x'], label['y'], label['z'])


def load_obj_meta(path: Path) -> Dict[str, ObjectInfo]:
    """Read obj_meta.json into ObjectInfo keyed by object id."""
    path = Path(path)
    data = _read_json(path)
    try:
        return {oid: ObjectInfo(
            object_id=entry['object_id'], class_name=entry['class_name'],
            class_label=int(entry['class_label']),
            dimensions=np.asarray(entry['dimensions'], dtype=np.float64).reshape(3),
            symmetry=_symmetry(entry['tag']['symmetry']), source=entry['source'],
            obj_path=entry['obj_path'], datatype=entry['tag']['datatype'])
            for oid, entry in data['instance_dict'].items()}
    except (KeyError, TypeError, ValueError) as error:
        raise DatasetError('bad obj_meta %s: %r' % (path, error)) from None


def write_obj_meta(path: Path, infos: Mapping[str, ObjectInfo]) -> Path:
    """Write obj_meta.json with every field cutoop's ObjectMetaData expects."""
    classes: Dict[str, dict] = {}
    for info in infos.values():
        entry = classes.setdefault(info.class_name, {
            'name': info.class_name, 'label': info.class_label, 'instance_ids': [],
            'stat': {}})
        entry['instance_ids'].append(info.object_id)
    instance_dict = {oid: {
        'object_id': info.object_id, 'source': info.source, 'name': info.object_id,
        'obj_path': info.obj_path,
        'tag': {'datatype': info.datatype, 'sceneChanger': False,
                'symmetry': {'any': info.symmetry.any_rotation, 'x': info.symmetry.x,
                             'y': info.symmetry.y, 'z': info.symmetry.z},
                'materialOptions': [], 'upAxis': ['y']},
        'class_label': info.class_label, 'class_name': info.class_name,
        'dimensions': [float(v) for v in info.dimensions]} for oid, info in infos.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({'class_list': sorted(classes.values(), key=lambda c: c['label']),
                                'instance_dict': instance_dict}, indent=1))
    return path


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError('missing file: %s' % path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError('corrupt JSON %s: %s' % (path, error)) from None


def _file(prefix: Path, suffix: str) -> Path:
    return Path('%s_%s' % (prefix, suffix))


def decode_mask(image: np.ndarray) -> np.ndarray:
    """Turn mask.exr (id / 255, channel 2 if 3 channels) into ids with 0 = background."""
    ids = image[..., 2] if image.ndim == 3 else image
    ids = np.rint(np.clip(np.nan_to_num(ids), 0.0, 1.0) * 255.0).astype(np.uint8)
    ids[ids == MASK_BACKGROUND] = 0
    return ids


def encode_mask(mask: np.ndarray) -> np.ndarray:
    """Encode ids as mask.exr values (id / 255).

    Each value is nudged up where needed so cutoop's truncating ``uint8(value * 255)`` gives
    the id back.
    """
    mask = np.asarray(mask)
    if mask.size and mask.max() >= MASK_BACKGROUND:
        raise ValueError('instance ids must lie in 0..254, got max %d' % mask.max())
    table = (np.arange(256) / 255.0).astype(np.float32)
    short = (table * np.float32(255)).astype(np.uint8) < np.arange(256)
    table[short] = np.nextafter(table[short], np.float32(2))
    return np.repeat(table[mask.astype(np.uint8)][..., None], 3, axis=2)


def decode_depth(image: np.ndarray, max_depth: float = MAX_DEPTH_M) -> np.ndarray:
    """Take depth.exr's first channel; 0, non-finite and far values become 0 (invalid)."""
    depth = (image[..., 0] if image.ndim == 3 else image).astype(np.float32)
    depth[~np.isfinite(depth) | (depth <= 0) | (depth > max_depth)] = 0.0
    return depth


def _meta_intrinsics(camera: dict, width: int, height: int, path: Path) -> CameraIntrinsics:
    try:
        k = camera['intrinsics']
        intrinsics = CameraIntrinsics(float(k['fx']), float(k['fy']), float(k['cx']),
                                      float(k['cy']), int(k['width']), int(k['height']))
    except (KeyError, TypeError, ValueError) as error:
        raise DatasetError('bad camera intrinsics in %s: %r' % (path, error)) from None
    if (intrinsics.width, intrinsics.height) != (width, height):
        intrinsics = intrinsics.scaled(width, height)
    return intrinsics


def meta_objects(meta: dict, path: Path) -> List[dict]:
    """Return meta.json's objects as a list of dicts that each carry ``mask_id``."""
    objects = meta.get('objects')
    if isinstance(objects, dict):
        return [dict(entry, mask_id=int(key.split('_')[0])) for key, entry in objects.items()]
    if isinstance(objects, list) and all('mask_id' in entry for entry in objects):
        return objects
    raise DatasetError('%s: "objects" must be a dict keyed "<mask_id>_..." or a list of '
                       'entries with mask_id' % path)


def _annotation(entry: dict, obj_meta: Optional[Mapping[str, ObjectInfo]],
                path: Path) -> ObjectAnnotation:
    info = entry['meta']
    oid = info['oid']
    if obj_meta is None:
        size = np.asarray(info['bbox_side_len'], dtype=np.float64)
    elif oid in obj_meta:
        size = np.asarray(info['scale'], dtype=np.float64) * obj_meta[oid].dimensions
    else:
        raise DatasetError('object %s of %s is not in obj_meta' % (oid, path))
    w, x, y, z = (float(v) for v in entry['quaternion_wxyz'])
    return ObjectAnnotation(
        instance_id=int(entry['mask_id']), category=str(info['class_name']),
        rotation=quaternion_xyzw_to_matrix(np.array([x, y, z, w])),
        translation=np.asarray(entry['translation'], dtype=np.float64).reshape(3),
        size=size.reshape(3), handle_visible=True, model_id=str(oid))


def read_omni6dpose_frame(prefix: Path, obj_meta: Optional[Mapping[str, ObjectInfo]] = None,
                          include_invalid: bool = False) -> Frame:
    """Read one Omni6DPose frame into a Frame.

    Annotations cover the objects with ``is_valid`` (all with include_invalid) that are not
    background objects; the mask keeps every id found in mask.exr.
    """
    prefix = Path(prefix)
    meta_path = _file(prefix, 'meta.json')
    meta = _read_json(meta_path)
    color = cv2.cvtColor(read_image(_file(prefix, 'color.png'), cv2.IMREAD_COLOR),
                         cv2.COLOR_BGR2RGB)
    depth = decode_depth(read_exr(_file(prefix, 'depth.exr')))
    mask = decode_mask(read_exr(_file(prefix, 'mask.exr')))
    if not (color.shape[:2] == depth.shape == mask.shape):
        raise DatasetError('images of %s have different sizes' % prefix)
    coord_path = _file(prefix, 'coord.png')
    coord = (decode_coord(read_image(coord_path, cv2.IMREAD_COLOR), mask)
             if coord_path.is_file() else None)
    try:
        objects = [_annotation(entry, obj_meta, meta_path)
                   for entry in meta_objects(meta, meta_path)
                   if (include_invalid or entry['is_valid'])
                   and not entry['meta']['is_background']]
        intrinsics = _meta_intrinsics(meta['camera'], depth.shape[1], depth.shape[0],
                                      meta_path)
    except (KeyError, TypeError, ValueError) as error:
        raise DatasetError('bad meta %s: %r' % (meta_path, error)) from None
    return Frame(color=color, depth=depth, mask=mask, intrinsics=intrinsics, objects=objects,
                 coord=coord, frame_id=str(prefix))


def frame_symmetries(frame: Frame, obj_meta: Mapping[str, ObjectInfo]) -> Dict[int, SymmetryLabel]:
    """Per instance id, the symmetry label of its object (looked up by model_id = oid)."""
    return {obj.instance_id: obj_meta[obj.model_id].symmetry for obj in frame.objects}


def list_frames(root: Path) -> List[Path]:
    """Find every frame prefix under root (recursive ``*_color.png``, as cutoop)."""
    return sorted(Path(str(p)[:-len('_color.png')]) for p in Path(root).rglob('*_color.png'))


class Omni6DPoseDataset:
    """All frames under a ROPE or SOPE directory."""

    def __init__(self, root: Path, obj_meta_path: Optional[Path] = None,
                 include_invalid: bool = False):
        self.prefixes = list_frames(root)
        if not self.prefixes:
            raise DatasetError('no *_color.png frames under %s' % root)
        self.obj_meta = load_obj_meta(obj_meta_path) if obj_meta_path else None
        self.include_invalid = include_invalid

    def __len__(self) -> int:
        return len(self.prefixes)

    def __getitem__(self, index: int) -> Frame:
        return read_omni6dpose_frame(self.prefixes[index], self.obj_meta, self.include_invalid)

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _quaternion_wxyz(rotation: np.ndarray) -> List[float]:
    x, y, z, w = matrix_to_quaternion_xyzw(np.asarray(rotation, dtype=np.float64))
    return [float(w), float(x), float(y), float(z)]


def _object_entry(obj: ObjectAnnotation, info: ObjectInfo, index: int) -> dict:
    scale = np.asarray(obj.size, dtype=np.float64) / info.dimensions
    return {
        'meta': {'oid': info.object_id, 'class_name': info.class_name,
                 'class_label': info.class_label, 'instance_path': info.obj_path,
                 'scale': scale.tolist(), 'is_background': False,
                 'bbox_side_len': [float(v) for v in obj.size]},
        'quaternion_wxyz': _quaternion_wxyz(obj.rotation),
        'translation': [float(v) for v in obj.translation],
        'is_valid': True, 'id': index + 1, 'material': [],
        'world_quaternion_wxyz': [1.0, 0.0, 0.0, 0.0], 'world_translation': [0.0, 0.0, 0.0],
    }


def frame_meta(frame: Frame, obj_meta: Mapping[str, ObjectInfo], objects_as: str = 'dict',
               scene_dataset: str = 'synthetic') -> dict:
    """Build a cutoop-complete meta.json dict for a frame (objects keyed by model_id = oid)."""
    if objects_as not in ('dict', 'list'):
        raise ValueError("objects_as must be 'dict' or 'list', got %r" % objects_as)
    missing = [o.model_id for o in frame.objects if o.model_id not in obj_meta]
    if missing:
        raise ValueError('objects %s have no obj_meta entry (model_id = object id)' % missing)
    entries = [(o.instance_id, _object_entry(o, obj_meta[o.model_id], i))
               for i, o in enumerate(frame.objects)]
    if objects_as == 'dict':
        objects = {'%d_%s' % (mask_id, entry['meta']['oid']): entry for mask_id, entry in entries}
    else:
        objects = [dict(entry, mask_id=mask_id) for mask_id, entry in entries]
    k = frame.intrinsics
    return {
        'objects': objects,
        'camera': {'quaternion': [1.0, 0.0, 0.0, 0.0], 'translation': [0.0, 0.0, 0.0],
                   'intrinsics': {'fx': k.fx, 'fy': k.fy, 'cx': k.cx, 'cy': k.cy,
                                  'width': k.width, 'height': k.height},
                   'scene_obj_path': '', 'background_image_path': '',
                   'background_depth_path': '', 'distances': [], 'kind': 'synthetic'},
        'scene_dataset': scene_dataset, 'env_param': {}, 'face_up': True,
        'concentrated': False, 'comments': '', 'runtime_seed': 0, 'baseline_dis': 0,
        'emitter_dist_l': 0,
    }


def write_omni6dpose_frame(directory: Path, index: int, frame: Frame,
                           obj_meta: Mapping[str, ObjectInfo], objects_as: str = 'dict',
                           digits: int = 4) -> Path:
    """Write a frame as ``<directory>/<index>_*`` (4 digits as SOPE, 6 as ROPE); return prefix.

    Every object's model_id must be an object id of `obj_meta` (write it with
    write_obj_meta); meta.scale = size / dimensions.
    """
    prefix = Path(directory) / ('%0*d' % (digits, index))
    meta = frame_meta(frame, obj_meta, objects_as)
    _file(prefix, 'meta.json').parent.mkdir(parents=True, exist_ok=True)
    _file(prefix, 'meta.json').write_text(json.dumps(meta, indent=1))
    write_image(_file(prefix, 'color.png'),
                cv2.cvtColor(np.asarray(frame.color, dtype=np.uint8), cv2.COLOR_RGB2BGR))
    write_exr(_file(prefix, 'depth.exr'), np.nan_to_num(np.asarray(frame.depth, np.float32)))
    write_exr(_file(prefix, 'mask.exr'), encode_mask(frame.mask))
    if frame.coord is not None:
        write_image(_file(prefix, 'coord.png'), encode_coord(frame.coord, frame.mask))
    return prefix
