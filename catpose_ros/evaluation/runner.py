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

"""Run the frame pipeline over a dataset split and collect per-frame NOCS results.

`open_dataset` recognises a split of the datasets the package reads (our synthetic data and
REAL275 / CAMERA25 in the NOCS layouts, HouseCat6D, Omni6DPose ROPE / SOPE) and says which it
found. `evaluate_frames` runs `FramePipeline` (ground-truth or predicted masks; every frame
cold, or tracked within each sequence) and returns, per frame, the result dict in the NOCS
pickle layout that `nocs_map` scores and `--export-nocs` writes, plus per-object errors of
the predictions paired with ground truth by mask overlap.
"""

from dataclasses import dataclass, field
from pathlib import Path
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np

from catpose_ros.categories import category_names
from catpose_ros.data.frame import Frame
from catpose_ros.evaluation.metrics import is_symmetric, pose_errors
from catpose_ros.evaluation.nocs_map import frame_result, PosedBox
from catpose_ros.evaluation.vus import calibrated_rotation_error, symmetry_rotations

MASK_SOURCES = ('gt', 'predicted')
MODES = ('single', 'track')
# A prediction and a ground truth of the same category are one object above this mask IoU.
PAIRING_MASK_IOU = 0.5
# Dataset categories read as NOCS categories (HouseCat6D calls a mug a cup).
CATEGORY_ALIASES: Dict[str, str] = {'cup': 'mug'}
FRAME_PERIOD_NS = 33_333_333


@dataclass
class EvalFrame:
    """One frame of a split: its result name, its sequence (tracking resets between), a loader."""

    name: str
    sequence: str
    load: Callable[[], Frame]
    symmetries: Optional[Callable[[Frame], Dict[int, object]]] = None


@dataclass
class EvalDataset:
    """The frames of one split and a sentence saying what was found where."""

    kind: str
    description: str
    frames: List[EvalFrame]


@dataclass
class ObjectRecord:
    """One ground-truth object: its category and the errors of its paired prediction."""

    frame: str
    category: str
    handle_visible: bool
    rotation_deg: float = float('inf')
    translation_cm: float = float('inf')
    paired: bool = False
    pose_confidence: Optional[float] = None     # the paired prediction's, where it has one


@dataclass
class EvalOutcome:
    """What a run produced: per-frame NOCS results (by name), object records, timings."""

    results: Dict[str, Dict] = field(default_factory=dict)
    objects: List[ObjectRecord] = field(default_factory=list)
    frame_ms: List[float] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    ignored_objects: int = 0


# ---------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------

def _nocs_dataset(root: Path, split: str) -> EvalDataset:
    from catpose_ros.data.nocs import NocsDataset
    dataset = NocsDataset(root, split)
    frames = [EvalFrame(dataset.eval_name(i), str(Path(dataset.entries[i]).parent),
                        (lambda i=i: dataset[i])) for i in range(len(dataset))]
    return EvalDataset('nocs', 'NOCS %s: %s' % (split, dataset.location.describe()), frames)


def _housecat6d_dataset(root: Path, split: str) -> EvalDataset:
    from catpose_ros.data.housecat6d import frame_indices, list_scenes, read_housecat6d_frame
    frames = [EvalFrame('results_housecat6d_%s_%06d.pkl' % (scene.name, index), scene.name,
                        (lambda scene=scene, index=index: read_housecat6d_frame(scene, index)))
              for scene in list_scenes(root, split) for index in frame_indices(scene)]
    return EvalDataset('housecat6d', 'HouseCat6D %s: %d frames under %s'
                       % (split, len(frames), root), frames)


def _omni6dpose_dataset(root: Path, split: str) -> EvalDataset:
    from catpose_ros.data.omni6dpose import (frame_symmetries, list_frames, load_obj_meta,
                                             read_omni6dpose_frame)
    directory = Path(root) / split.upper()
    meta_name = 'real_obj_meta.json' if split.upper() == 'ROPE' else 'obj_meta.json'
    meta_path = Path(root) / 'Meta' / meta_name
    obj_meta = load_obj_meta(meta_path) if meta_path.is_file() else None
    prefixes = list_frames(directory)
    if not prefixes:
        from catpose_ros.data.nocs import DatasetError
        raise DatasetError('no Omni6DPose frames (*_color.png) under %s' % directory)
    symmetries = (lambda frame: frame_symmetries(frame, obj_meta)) if obj_meta else None
    frames = [EvalFrame('results_%s.pkl' % '_'.join(p.relative_to(root).parts), str(p.parent),
                        (lambda p=p: read_omni6dpose_frame(p, obj_meta)), symmetries)
              for p in prefixes]
    return EvalDataset('omni6dpose', 'Omni6DPose %s: %d frames under %s, symmetry from %s'
                       % (split.upper(), len(frames), directory,
                          meta_path if obj_meta else 'the NOCS rule (no %s)' % meta_path),
                       frames)


def open_dataset(root: Path, split: str) -> EvalDataset:
    """Open `split` of the dataset at `root`; DatasetError / ValueError say what is missing.

    Splits: camera_train, camera_val, real_train, real_test (NOCS layouts: our synthetic
    data, REAL275, CAMERA25); train, val, test (HouseCat6D); ROPE, SOPE (Omni6DPose).
    """
    from catpose_ros.data.nocs import SPLITS
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError('dataset root %s does not exist' % root)
    if split in SPLITS:
        return _nocs_dataset(root, split)
    if split in ('train', 'val', 'test'):
        return _housecat6d_dataset(root, split)
    if split.upper() in ('ROPE', 'SOPE'):
        return _omni6dpose_dataset(root, split)
    raise ValueError('unknown split %r: NOCS splits %s, HouseCat6D train/val/test, '
                     'Omni6DPose ROPE/SOPE' % (split, ', '.join(SPLITS)))


# ---------------------------------------------------------------------------------------
# One frame
# ---------------------------------------------------------------------------------------

def nocs_category(name: str) -> Optional[str]:
    """Return the NOCS category a dataset category is scored as (None: not a NOCS one)."""
    name = CATEGORY_ALIASES.get(name, name)
    return name if name in category_names() else None


def _box(mask: np.ndarray) -> np.ndarray:
    """Return the [y1, x1, y2, x2] box of a mask, ends exclusive (as NOCS)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return np.array([rows[0], cols[0], rows[-1] + 1, cols[-1] + 1], dtype=np.int32)


def ground_truth_instances(frame: Frame) -> List:
    """Segmenter-style instances (score 1) of the visible objects of known categories."""
    from catpose_ros.perception.instances import Instance, mask_box
    instances = []
    for obj in frame.objects:
        category = nocs_category(obj.category)
        mask = frame.mask == obj.instance_id
        if category is not None and mask.any():
            instances.append(Instance(obj.instance_id, category, mask, 1.0, mask_box(mask)))
    return instances


def _visible_truth(frame: Frame) -> List:
    return [obj for obj in frame.objects
            if nocs_category(obj.category) is not None and (frame.mask == obj.instance_id).any()]


def nocs_result(frame: Frame, estimates: Sequence, instances: Sequence, name: str) -> Dict:
    """Return the frame's ground truth and predictions in the NOCS result-pickle layout.

    estimates are PoseEstimates whose instance_id names their instance in `instances`.
    """
    truth = _visible_truth(frame)
    masks = {inst.instance_id: inst.mask for inst in instances}
    return frame_result(
        [PosedBox(nocs_category(o.category), o.rotation, o.translation, o.size,
                  handle_visible=bool(o.handle_visible)) for o in truth],
        [PosedBox(e.category, e.rotation, e.translation, e.size, float(e.score))
         for e in estimates],
        np.array([_box(frame.mask == o.instance_id) for o in truth]).reshape(-1, 4),
        np.array([_box(masks[e.instance_id]) for e in estimates]).reshape(-1, 4),
        name, frame.frame_id)


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def pair_objects(frame: Frame, estimates: Sequence, instances: Sequence, name: str,
                 symmetries: Optional[Dict[int, object]] = None) -> List[ObjectRecord]:
    """Pair each visible ground truth with the same-category prediction of best mask IoU.

    Errors use the one symmetry rule, or an Omni6DPose symmetry label when one is given.
    Unpaired ground truths keep infinite errors.
    """
    masks = {inst.instance_id: inst.mask for inst in instances}
    free = list(estimates)
    records = []
    for obj in _visible_truth(frame):
        category = nocs_category(obj.category)
        record = ObjectRecord(name, category, bool(obj.handle_visible))
        truth_mask = frame.mask == obj.instance_id
        overlaps = [(_mask_iou(truth_mask, masks[e.instance_id]), e) for e in free
                    if e.category == category]
        best = max(overlaps, key=lambda pair: pair[0], default=(0.0, None))
        if best[1] is not None and best[0] >= PAIRING_MASK_IOU:
            estimate = best[1]
            free.remove(estimate)
            label = (symmetries or {}).get(obj.instance_id)
            if label is not None:
                rotation_deg = calibrated_rotation_error(
                    estimate.rotation, obj.rotation,
                    symmetry_rotations(label.x, label.y, label.z), label.any_rotation)
            else:
                rotation_deg = float(pose_errors(
                    estimate.rotation[None], estimate.translation[None], obj.rotation[None],
                    obj.translation[None],
                    np.array([is_symmetric(category, obj.handle_visible)])).rotation_deg[0])
            record.rotation_deg = rotation_deg
            record.translation_cm = 100.0 * float(np.linalg.norm(
                np.asarray(estimate.translation) - np.asarray(obj.translation)))
            record.paired = True
            record.pose_confidence = getattr(estimate, 'pose_confidence', None)
        records.append(record)
    return records


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------

def evaluate_frames(frames: Sequence[EvalFrame], pipeline, masks: str = 'gt',
                    mode: str = 'single', segmenter=None,
                    progress: bool = True) -> EvalOutcome:
    """Run `pipeline` (a FramePipeline) over the frames, in order; see the module docstring.

    mode 'single' estimates every frame cold; 'track' warm-starts within each sequence and
    resets the tracker when the sequence changes. masks 'predicted' needs `segmenter`.
    """
    if masks not in MASK_SOURCES:
        raise ValueError('masks must be one of %s, got %r' % (MASK_SOURCES, masks))
    if mode not in MODES:
        raise ValueError('mode must be one of %s, got %r' % (MODES, mode))
    if masks == 'predicted' and segmenter is None:
        raise ValueError("masks 'predicted' needs a segmenter")
    outcome = EvalOutcome()
    sequence, step = None, 0
    for item in _progress(frames, progress):
        frame = item.load()
        if mode == 'single' or item.sequence != sequence:
            pipeline.reset()
            sequence, step = item.sequence, 0
        instances = ground_truth_instances(frame) if masks == 'gt' else [
            inst for inst in segmenter.segment(frame.color, frame.depth)
            if inst.category in category_names()]
        started = time.perf_counter()
        result = pipeline.process(step * FRAME_PERIOD_NS, frame.depth, frame.intrinsics,
                                  instances)
        outcome.frame_ms.append(1000.0 * (time.perf_counter() - started))
        step += 1
        estimates = [tracked.estimate for tracked in result.poses]
        outcome.skipped.extend('%s: instance %d: %s' % (item.name, i, reason)
                               for i, reason in result.skipped)
        outcome.results[item.name] = nocs_result(frame, estimates, instances, item.name)
        outcome.objects.extend(pair_objects(
            frame, estimates, instances, item.name,
            item.symmetries(frame) if item.symmetries else None))
        outcome.ignored_objects += sum(1 for o in frame.objects
                                       if nocs_category(o.category) is None)
    return outcome


def _progress(frames: Iterable, enabled: bool):
    if not enabled:
        return frames
    from tqdm import tqdm
    return tqdm(frames, unit='frame', desc='catpose eval')


def export_nocs(results: Dict[str, Dict], directory: Path) -> List[Path]:
    """Write one ``results_*.pkl`` per frame, the files the official NOCS evaluation reads."""
    from catpose_ros.data.nocs import write_pickle
    directory = Path(directory)
    paths = []
    for name, result in sorted(results.items()):
        paths.append(directory / name)
        write_pickle(paths[-1], result)
    return paths
