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

"""HouseCat6D scenes: reader and a writer of the same layout (fixtures, converted data).

A scene directory holds ``rgb/NNNNNN.png``, ``depth/NNNNNN.png`` (uint16 mm),
``instance/NNNNNN.png`` (instance id in OpenCV channel 2), ``labels/NNNNNN_label.pkl``,
``intrinsics.txt`` (3x3 K) and ``meta.txt`` (``<instance_id> <class_id> <class>-<name>``).
The label pickle holds per-instance ``class_ids`` (1-based), ``instance_ids``, ``model_list``,
``rotations`` (model -> camera), ``translations`` (m), ``gt_scales`` (metric box sides, m) and
``bboxes`` ([y1, x1, y2, x2]).

HouseCat6D's ten categories are not NOCS's six, so annotations keep the HouseCat6D category
name as a string (``ObjectAnnotation.category``); they are not looked up in
``catpose_ros.categories``. Bottle, can and glass are symmetric about the object y axis; cups
get no handle rule (handle_visible is True). The instance-image background value is not
documented: pixels whose value is not a labelled instance id are background on read, and the
writer stores background as 0.
"""

from pathlib import Path
import re
from typing import Dict, List, Mapping, Optional, Sequence

import cv2
import numpy as np

from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.data.nocs import (DatasetError, mask_bbox, read_image, read_pickle,
                                   write_image, write_pickle)
from catpose_ros.geometry.camera import CameraIntrinsics

HOUSECAT6D_CATEGORIES = ('box', 'bottle', 'can', 'cup', 'remote', 'teapot', 'cutlery', 'glass',
                         'shoe', 'tube')
HOUSECAT6D_SYMMETRIC = frozenset({'bottle', 'can', 'glass'})
NOCS_TO_HOUSECAT6D: Dict[str, str] = {'bottle': 'bottle', 'can': 'can', 'mug': 'cup'}
LABEL_KEYS = ('class_ids', 'instance_ids', 'model_list', 'rotations', 'translations',
              'gt_scales', 'bboxes')
SPLIT_PATTERNS = {'train': r'scene\d+', 'val': r'val_scene\d+', 'test': r'test_scene\d+'}


def housecat6d_class_id(name: str) -> int:
    """Return the 1-based HouseCat6D class id of a category name."""
    if name not in HOUSECAT6D_CATEGORIES:
        raise ValueError('unknown HouseCat6D category %r; known: %s'
                         % (name, ', '.join(HOUSECAT6D_CATEGORIES)))
    return HOUSECAT6D_CATEGORIES.index(name) + 1


def housecat6d_is_symmetric(name: str) -> bool:
    """Whether a HouseCat6D category is treated as symmetric about y in evaluation."""
    return name in HOUSECAT6D_SYMMETRIC


def read_intrinsics(scene_dir: Path, width: int, height: int) -> CameraIntrinsics:
    """Read a scene's intrinsics.txt (3 rows of K) for images of width x height."""
    path = Path(scene_dir) / 'intrinsics.txt'
    if not path.is_file():
        raise DatasetError('missing file: %s' % path)
    try:
        k = np.loadtxt(path, dtype=np.float64)
        return CameraIntrinsics.from_matrix(k, width, height)
    except ValueError as error:
        raise DatasetError('bad intrinsics %s: %s' % (path, error)) from None


def frame_indices(scene_dir: Path) -> List[int]:
    """Return the frame numbers of a scene, from its rgb/NNNNNN.png files."""
    return sorted(int(p.stem) for p in (Path(scene_dir) / 'rgb').glob('*.png')
                  if p.stem.isdigit())


def _label_objects(label: Dict, path: Path) -> List[ObjectAnnotation]:
    missing = [key for key in LABEL_KEYS if key not in label]
    if missing:
        raise DatasetError('label %s lacks keys %s' % (path, missing))
    count = len(label['instance_ids'])
    if {len(label[key]) for key in LABEL_KEYS} != {count}:
        raise DatasetError('label %s has per-instance arrays of different lengths' % path)
    objects = []
    for i in range(count):
        class_id = int(label['class_ids'][i])
        if not 1 <= class_id <= len(HOUSECAT6D_CATEGORIES):
            raise DatasetError('label %s has unknown class id %d' % (path, class_id))
        objects.append(ObjectAnnotation(
            instance_id=int(label['instance_ids'][i]),
            category=HOUSECAT6D_CATEGORIES[class_id - 1],
            rotation=np.asarray(label['rotations'][i], dtype=np.float64).reshape(3, 3),
            translation=np.asarray(label['translations'][i], dtype=np.float64).reshape(3),
            size=np.asarray(label['gt_scales'][i], dtype=np.float64).reshape(3),
            handle_visible=True,
            model_id=str(label['model_list'][i])))
    return objects


def read_housecat6d_frame(scene_dir: Path, index: int,
                          intrinsics: Optional[CameraIntrinsics] = None) -> Frame:
    """Read frame `index` of a HouseCat6D scene into a Frame (depth in metres)."""
    scene_dir = Path(scene_dir)
    name = '%06d' % index
    color = cv2.cvtColor(read_image(scene_dir / 'rgb' / (name + '.png'), cv2.IMREAD_COLOR),
                         cv2.COLOR_BGR2RGB)
    depth_path = scene_dir / 'depth' / (name + '.png')
    depth = read_image(depth_path)
    if depth.ndim != 2 or depth.dtype != np.uint16:
        raise DatasetError('depth %s is not single-channel uint16' % depth_path)
    instance = read_image(scene_dir / 'instance' / (name + '.png'), cv2.IMREAD_COLOR)[..., 2]
    label_path = scene_dir / 'labels' / (name + '_label.pkl')
    objects = _label_objects(read_pickle(label_path), label_path)
    labelled = [o.instance_id for o in objects]
    mask = np.where(np.isin(instance, labelled), instance, 0).astype(np.uint8)
    if not (color.shape[:2] == depth.shape == mask.shape):
        raise DatasetError('images of %s/%s have different sizes' % (scene_dir, name))
    height, width = depth.shape
    return Frame(color=color, depth=depth.astype(np.float32) / 1000.0, mask=mask,
                 intrinsics=intrinsics or read_intrinsics(scene_dir, width, height),
                 objects=objects, frame_id='%s/%s' % (scene_dir.name, name))


def list_scenes(root: Path, split: str) -> List[Path]:
    """Return the scene directories of a split ('train', 'val' or 'test') under `root`."""
    if split not in SPLIT_PATTERNS:
        raise ValueError('split must be one of %s, got %r' % (tuple(SPLIT_PATTERNS), split))
    pattern = re.compile(SPLIT_PATTERNS[split] + '$')
    scenes = sorted(p for p in Path(root).iterdir() if p.is_dir() and pattern.match(p.name))
    if not scenes:
        raise DatasetError('no %s scenes (%s) under %s' % (split, SPLIT_PATTERNS[split], root))
    return scenes


class HouseCat6DDataset:
    """All frames of the scenes of one HouseCat6D split, in scene then frame order."""

    def __init__(self, root: Path, split: str):
        self.scenes = list_scenes(root, split)
        self.items = [(scene, index) for scene in self.scenes for index in frame_indices(scene)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Frame:
        scene, frame_index = self.items[index]
        return read_housecat6d_frame(scene, frame_index)

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _housecat_category(category: str, category_map: Mapping[str, str]) -> str:
    name = category_map.get(category, category)
    housecat6d_class_id(name)
    return name


def _model_name(obj: ObjectAnnotation, category: str) -> str:
    name = obj.model_id or 'object%d' % obj.instance_id
    return name if name.startswith(category + '-') else '%s-%s' % (category, name)


def _frame_label(frame: Frame, category_map: Mapping[str, str]) -> Dict:
    present = set(np.unique(frame.mask).tolist()) - {0}
    objects = sorted((o for o in frame.objects if o.instance_id in present),
                     key=lambda o: o.instance_id)
    categories = [_housecat_category(o.category, category_map) for o in objects]
    return {
        'class_ids': np.array([housecat6d_class_id(c) for c in categories], dtype=np.int64),
        'instance_ids': np.array([o.instance_id for o in objects], dtype=np.int64),
        'model_list': [_model_name(o, c) for o, c in zip(objects, categories)],
        'rotations': np.array([o.rotation for o in objects], dtype=np.float32).reshape(-1, 3, 3),
        'translations': np.array([o.translation for o in objects],
                                 dtype=np.float32).reshape(-1, 3),
        'gt_scales': np.array([o.size for o in objects], dtype=np.float32).reshape(-1, 3),
        'bboxes': np.array([mask_bbox(frame.mask == o.instance_id) for o in objects],
                           dtype=np.int64).reshape(-1, 4),
    }


def write_housecat6d_scene(scene_dir: Path, frames: Sequence[Frame],
                           category_map: Mapping[str, str] = NOCS_TO_HOUSECAT6D) -> Path:
    """Write frames as one HouseCat6D scene (frames 000000, 000001, ...); return scene_dir.

    All frames must share one camera (one intrinsics.txt per scene). Categories are mapped
    through `category_map` (NOCS mug -> cup by default); an object whose category has no
    HouseCat6D name is a ValueError. meta.txt lists every instance seen in the scene.
    """
    scene_dir = Path(scene_dir)
    if not frames:
        raise ValueError('a scene needs at least one frame')
    if any(f.intrinsics != frames[0].intrinsics for f in frames):
        raise ValueError('all frames of a HouseCat6D scene must share one camera')
    meta: Dict[int, str] = {}
    for index, frame in enumerate(frames):
        name = '%06d' % index
        label = _frame_label(frame, category_map)
        write_image(scene_dir / 'rgb' / (name + '.png'),
                    cv2.cvtColor(np.asarray(frame.color, dtype=np.uint8), cv2.COLOR_RGB2BGR))
        depth_mm = np.rint(np.nan_to_num(np.asarray(frame.depth, np.float64)) * 1000.0)
        write_image(scene_dir / 'depth' / (name + '.png'),
                    np.clip(depth_mm, 0, 65535).astype(np.uint16))
        write_image(scene_dir / 'instance' / (name + '.png'),
                    np.repeat(np.asarray(frame.mask, np.uint8)[..., None], 3, axis=2))
        write_pickle(scene_dir / 'labels' / (name + '_label.pkl'), label)
        for inst, cls, model in zip(label['instance_ids'], label['class_ids'],
                                    label['model_list']):
            meta[int(inst)] = '%d %d %s' % (inst, cls, model)
    np.savetxt(scene_dir / 'intrinsics.txt', frames[0].intrinsics.matrix, fmt='%.8f')
    (scene_dir / 'meta.txt').write_text(''.join(meta[k] + '\n' for k in sorted(meta)))
    return scene_dir
