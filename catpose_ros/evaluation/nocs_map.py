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

"""NOCS mAP as the official NOCS evaluation computes it, so figures compare with the field.

Input is one result per frame in the NOCS pickle layout (what `--export-nocs` writes):
``gt_class_ids``, ``gt_RTs`` (4x4, rotation block s * R), ``gt_scales`` (box extents / s),
``gt_handle_visibility``, ``pred_class_ids``, ``pred_scores``, ``pred_RTs``, ``pred_scales``
and ``pred_bboxes``. The metric box of an object is s * scales in its RT frame.

Conventions of the official code (``compute_degree_cm_mAP`` as ``detect_eval.py`` calls it:
pose matches gated by 3D IoU 0.1), reproduced here:

- Per frame and class, predictions are ranked by score with ``np.argsort`` reversed (so tied
  scores are ordered as the official code orders them).
- 3D IoU matching: each prediction in turn takes the unmatched ground truth of highest IoU;
  a match needs an IoU strictly above the threshold. For a symmetric ground truth the IoU is
  the best over 20 rotations of the prediction about its own y axis.
- Pose matching: only predictions and ground truths matched at 3D IoU 0.1 take part; each
  prediction takes the unmatched ground truth with the smallest degrees + centimetres among
  those within both thresholds (<=). The symmetry rule is `metrics.is_symmetric`.
- AP: VOC all-point interpolated precision over all predictions of a class ranked by score;
  recall counts the class's ground truths (for pose: those matched at 3D IoU 0.1, so a missed
  detection lowers the IoU APs but not the pose APs).

Deliberate differences, documented in docs/evaluation.md:

- The official box overlap takes min / max over the three coordinates of each corner (axis 0
  of its 3 x 8 corner array) instead of over the corners. The ``iou25/50/75`` keys keep that
  (comparable with published tables); ``iou25/50/75_fixed`` use the corrected axis-aligned
  overlap that CATRE published. Pose matching is gated by the official IoU in both.
- The mean is over categories with at least one ground truth; the official code averages all
  six and scores a category absent from the split 0 (identical when all six are present).
- Rotation cosines are clipped to [-1, 1]; the official arccos returns nan there (which then
  passes every threshold), which only changes how ties between candidates are broken.
"""

from dataclasses import dataclass, field
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from catpose_ros.categories import category_by_id, category_by_name, NOCS_CATEGORIES
from catpose_ros.evaluation.metrics import is_symmetric, pose_errors

POSE_THRESHOLDS: Dict[str, Tuple[float, float]] = {
    '5deg2cm': (5.0, 2.0), '5deg5cm': (5.0, 5.0), '10deg2cm': (10.0, 2.0),
    '10deg5cm': (10.0, 5.0)}
IOU_THRESHOLDS: Dict[str, float] = {'iou25': 0.25, 'iou50': 0.5, 'iou75': 0.75}
IOU_VARIANTS = ('official', 'fixed')
POSE_GATE_IOU = 0.1
SYMMETRY_STEPS = 20
MAP_KEYS: Tuple[str, ...] = tuple(POSE_THRESHOLDS) + tuple(IOU_THRESHOLDS)
FIXED_IOU_KEYS: Tuple[str, ...] = tuple(key + '_fixed' for key in IOU_THRESHOLDS)

# Box corners in the official order: y outermost, then x, then z, each + before -.
_CORNER_SIGNS = np.array([(sx, sy, sz) for sy in (1, -1) for sx in (1, -1) for sz in (1, -1)],
                         dtype=np.float64)


# ---------------------------------------------------------------------------------------
# Per-pair quantities
# ---------------------------------------------------------------------------------------

def box_corners(transforms: np.ndarray, extents: np.ndarray) -> np.ndarray:
    """Corners [..., 3, 8] of boxes with `extents` [3] placed by 4x4 `transforms` [..., 4, 4]."""
    local = 0.5 * _CORNER_SIGNS * np.asarray(extents, dtype=np.float64).reshape(1, 3)
    homogeneous = np.concatenate((local.T, np.ones((1, 8))), axis=0)
    placed = np.asarray(transforms, dtype=np.float64) @ homogeneous
    return placed[..., :3, :] / placed[..., 3:, :]


def _overlap_ratio(corners_a: np.ndarray, corners_b: np.ndarray, axis: int) -> np.ndarray:
    """Intersection over union of the min / max extents taken along `axis` of [..., 3, 8]."""
    low_a, high_a = corners_a.min(axis=axis), corners_a.max(axis=axis)
    low_b, high_b = corners_b.min(axis=axis), corners_b.max(axis=axis)
    overlap = np.minimum(high_a, high_b) - np.maximum(low_a, low_b)
    intersection = np.where(overlap.min(axis=-1) < 0, 0.0, np.prod(overlap, axis=-1))
    union = np.prod(high_a - low_a, axis=-1) + np.prod(high_b - low_b, axis=-1) - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)


def _rotations_about_y(steps: int) -> np.ndarray:
    angles = 2.0 * math.pi * np.arange(steps) / float(steps)
    transforms = np.tile(np.eye(4), (steps, 1, 1))
    transforms[:, 0, 0] = transforms[:, 2, 2] = np.cos(angles)
    transforms[:, 0, 2] = np.sin(angles)
    transforms[:, 2, 0] = -np.sin(angles)
    return transforms


def box_iou(pred_rt: np.ndarray, gt_rt: np.ndarray, pred_scales: np.ndarray,
            gt_scales: np.ndarray, symmetric: bool, variant: str = 'official') -> float:
    """3D IoU of a predicted and a true box (best over 20 y rotations when symmetric).

    variant 'official' reproduces the NOCS code's overlap (extents over each corner's
    coordinates); 'fixed' is the axis-aligned overlap in the camera frame (CATRE's fix).
    """
    if variant not in IOU_VARIANTS:
        raise ValueError('variant must be one of %s, got %r' % (IOU_VARIANTS, variant))
    axis = -2 if variant == 'official' else -1
    pred_rt = np.asarray(pred_rt, dtype=np.float64)
    candidates = pred_rt @ _rotations_about_y(SYMMETRY_STEPS) if symmetric else pred_rt[None]
    ratios = _overlap_ratio(box_corners(candidates, pred_scales),
                            box_corners(gt_rt, gt_scales)[None], axis)
    return float(max(0.0, ratios.max())) if symmetric else float(ratios[0])


def _rotation_part(transforms: np.ndarray) -> np.ndarray:
    """Rotation of s * R blocks [N, 4, 4] (the scale removed with the cube root of det)."""
    blocks = np.asarray(transforms, dtype=np.float64)[:, :3, :3]
    return blocks / np.cbrt(np.linalg.det(blocks))[:, None, None]


def pose_error_matrix(pred_rts: np.ndarray, gt_rts: np.ndarray,
                      symmetric: np.ndarray) -> np.ndarray:
    """Errors [P, G, 2] (degrees, centimetres) between every prediction and ground truth."""
    count_p, count_g = len(pred_rts), len(gt_rts)
    if count_p == 0 or count_g == 0:
        return np.zeros((count_p, count_g, 2))
    pred_rts = np.asarray(pred_rts, dtype=np.float64)
    gt_rts = np.asarray(gt_rts, dtype=np.float64)
    errors = pose_errors(np.repeat(_rotation_part(pred_rts), count_g, axis=0),
                         np.repeat(pred_rts[:, :3, 3], count_g, axis=0),
                         np.tile(_rotation_part(gt_rts), (count_p, 1, 1)),
                         np.tile(gt_rts[:, :3, 3], (count_p, 1)),
                         np.tile(np.asarray(symmetric, dtype=bool), count_p))
    return np.stack((errors.rotation_deg, errors.translation_cm), -1).reshape(
        count_p, count_g, 2)


# ---------------------------------------------------------------------------------------
# Matching and average precision
# ---------------------------------------------------------------------------------------

def match_by_iou(ious: np.ndarray, threshold: float) -> Tuple[np.ndarray, np.ndarray]:
    """Greedy matching of ranked predictions (rows) to ground truths by 3D IoU.

    Returns (pred_to_gt [P], gt_to_pred [G]) with -1 for unmatched.
    """
    pred_to_gt = -np.ones(ious.shape[0], dtype=np.int64)
    gt_to_pred = -np.ones(ious.shape[1], dtype=np.int64)
    for i in range(ious.shape[0]):
        for j in np.argsort(ious[i])[::-1]:
            if gt_to_pred[j] > -1:
                continue
            if ious[i, j] < threshold:
                break
            if ious[i, j] > threshold:
                pred_to_gt[i], gt_to_pred[j] = j, i
                break
    return pred_to_gt, gt_to_pred


def match_by_pose(errors: np.ndarray, max_deg: float,
                  max_cm: float) -> Tuple[np.ndarray, np.ndarray]:
    """Greedy matching of ranked predictions to the closest (deg + cm) ground truth in range."""
    count_p, count_g = errors.shape[:2]
    pred_to_gt = -np.ones(count_p, dtype=np.int64)
    gt_to_pred = -np.ones(count_g, dtype=np.int64)
    for i in range(count_p):
        for j in np.argsort(errors[i].sum(axis=-1)):
            if gt_to_pred[j] > -1 or errors[i, j, 0] > max_deg or errors[i, j, 1] > max_cm:
                continue
            pred_to_gt[i], gt_to_pred[j] = j, i
            break
    return pred_to_gt, gt_to_pred


def voc_average_precision(matched: np.ndarray, scores: np.ndarray, num_gt: int) -> float:
    """VOC all-point interpolated AP of predictions (matched flags, scores).

    Without ground truth the AP is 0 when there is no prediction either (as in the official
    code, e.g. a pose AP where no ground truth passed the IoU gate) and nan otherwise.
    """
    if num_gt == 0:
        return float('nan') if len(matched) else 0.0
    order = np.argsort(np.asarray(scores, dtype=np.float64))[::-1]
    hits = np.cumsum(np.asarray(matched, dtype=bool)[order])
    precision = np.concatenate(([0.0], hits / np.arange(1, len(hits) + 1), [0.0]))
    recall = np.concatenate(([0.0], hits / float(num_gt), [1.0]))
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


@dataclass
class _Tally:
    """Ranked predictions (matched flag, score) and the ground-truth count of one metric."""

    matched: List[np.ndarray] = field(default_factory=list)
    scores: List[np.ndarray] = field(default_factory=list)
    num_gt: int = 0

    def add(self, pred_to_gt: np.ndarray, scores: np.ndarray, num_gt: int) -> None:
        self.matched.append(pred_to_gt > -1)
        self.scores.append(np.asarray(scores, dtype=np.float64))
        self.num_gt += int(num_gt)

    def average_precision(self) -> float:
        matched = np.concatenate(self.matched) if self.matched else np.zeros(0, bool)
        scores = np.concatenate(self.scores) if self.scores else np.zeros(0)
        return voc_average_precision(matched, scores, self.num_gt)


@dataclass
class NocsMap:
    """NOCS APs in percent: per category (nan for a category without ground truth), mean."""

    per_category: Dict[str, Dict[str, float]]
    mean: Dict[str, float]
    ground_truths: Dict[str, int]
    # The official mean over all six categories (absent: 0, or nan with false positives).
    mean_of_six: Dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> Dict:
        """JSON-ready form (nan becomes None)."""
        def clean(values: Mapping[str, float]) -> Dict[str, Optional[float]]:
            return {k: (None if math.isnan(v) else round(float(v), 4)) for k, v in values.items()}
        return {'mAP': clean(self.mean), 'mAP_mean_of_six': clean(self.mean_of_six),
                'per_category': {name: clean(v) for name, v in self.per_category.items()},
                'ground_truths': dict(self.ground_truths)}


def _field(result: Mapping, key: str, shape: Tuple[int, ...]) -> np.ndarray:
    value = result.get(key)
    if value is None or len(value) == 0:
        return np.zeros((0,) + shape)
    return np.asarray(value)


def _tally_frame_class(result: Mapping, class_id: int, tallies: Dict[str, _Tally]) -> None:
    """Match one frame's predictions of one class and add them to the tallies."""
    gt_ids = _field(result, 'gt_class_ids', ()).astype(np.int64)
    pred_ids = _field(result, 'pred_class_ids', ()).astype(np.int64)
    gt_sel, pred_sel = gt_ids == class_id, pred_ids == class_id
    if not gt_sel.any() and not pred_sel.any():
        return
    name = category_by_id(class_id).name
    handles = _field(result, 'gt_handle_visibility', ())
    if len(handles) != len(gt_ids):
        handles = np.ones(len(gt_ids))
    gt_rts = _field(result, 'gt_RTs', (4, 4))[gt_sel]
    gt_scales = _field(result, 'gt_scales', (3,))[gt_sel]
    symmetric = np.array([is_symmetric(name, bool(h)) for h in handles[gt_sel]], dtype=bool)
    scores = _field(result, 'pred_scores', ())[pred_sel]
    order = np.argsort(scores)[::-1]
    scores = scores[order]
    pred_rts = _field(result, 'pred_RTs', (4, 4))[pred_sel][order]
    pred_scales = _field(result, 'pred_scales', (3,))[pred_sel][order]
    gate = None
    for variant, suffix in (('official', ''), ('fixed', '_fixed')):
        ious = np.array([[box_iou(p, g, ps, gs, sym, variant)
                          for g, gs, sym in zip(gt_rts, gt_scales, symmetric)]
                         for p, ps in zip(pred_rts, pred_scales)]).reshape(len(pred_rts),
                                                                           len(gt_rts))
        for key, threshold in IOU_THRESHOLDS.items():
            tallies[key + suffix].add(match_by_iou(ious, threshold)[0], scores, len(gt_rts))
        if variant == 'official':
            gate = match_by_iou(ious, POSE_GATE_IOU)
    kept_pred, kept_gt = gate[0] > -1, gate[1] > -1
    errors = pose_error_matrix(pred_rts[kept_pred], gt_rts[kept_gt], symmetric[kept_gt])
    for key, (max_deg, max_cm) in POSE_THRESHOLDS.items():
        tallies[key].add(match_by_pose(errors, max_deg, max_cm)[0], scores[kept_pred],
                         int(kept_gt.sum()))


def nocs_map(results: Sequence[Mapping]) -> NocsMap:
    """Compute the NOCS APs (percent) over per-frame results in the NOCS pickle layout.

    Frames are taken in the given order (the official tool sorts its pickle names); with
    tied scores that order decides the ranking, as it does in the official code.
    """
    keys = MAP_KEYS + FIXED_IOU_KEYS
    per_category: Dict[str, Dict[str, float]] = {}
    as_official: Dict[str, Dict[str, float]] = {}
    ground_truths: Dict[str, int] = {}
    for category in NOCS_CATEGORIES:
        tallies = {key: _Tally() for key in keys}
        for result in results:
            _tally_frame_class(result, category.class_id, tallies)
        ground_truths[category.name] = tallies['iou25'].num_gt
        as_official[category.name] = {key: 100.0 * tallies[key].average_precision()
                                      for key in keys}
        per_category[category.name] = {
            key: value if ground_truths[category.name] else float('nan')
            for key, value in as_official[category.name].items()}
    present = [name for name, count in ground_truths.items() if count > 0]
    mean = {key: float(np.mean([per_category[name][key] for name in present]))
            if present else float('nan') for key in keys}
    mean_of_six = {key: float(np.mean([values[key] for values in as_official.values()]))
                   for key in keys}
    return NocsMap(per_category, mean, ground_truths, mean_of_six)


# ---------------------------------------------------------------------------------------
# Building results, and the one-call scorer for arrays of paired poses
# ---------------------------------------------------------------------------------------

def similarity_transform(rotation: np.ndarray, translation: np.ndarray,
                         size: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Return NOCS's (4x4 with s * R, extents / s) for a metric pose and box size, s = |size|."""
    size = np.asarray(size, dtype=np.float64).reshape(3)
    scale = float(np.linalg.norm(size))
    if not scale > 0:
        raise ValueError('box size must be positive, got %s' % size)
    transform = np.eye(4)
    transform[:3, :3] = scale * np.asarray(rotation, dtype=np.float64).reshape(3, 3)
    transform[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
    return transform, size / scale


@dataclass
class PosedBox:
    """A ground-truth or predicted object: category, pose (object -> camera), metric size."""

    category: str
    rotation: np.ndarray
    translation: np.ndarray
    size: np.ndarray
    score: float = 1.0
    handle_visible: bool = True


def frame_result(truth: Sequence[PosedBox], predictions: Sequence[PosedBox],
                 gt_bboxes: Optional[np.ndarray] = None,
                 pred_bboxes: Optional[np.ndarray] = None, image_id: str = '',
                 image_path: str = '') -> Dict:
    """Build one frame's result in the NOCS pickle layout (bboxes [y1, x1, y2, x2]).

    The official code drops predictions whose box is all zeros, so boxes default to ones
    (they are not used otherwise).
    """
    gt = [similarity_transform(b.rotation, b.translation, b.size) for b in truth]
    pred = [similarity_transform(b.rotation, b.translation, b.size) for b in predictions]
    return {
        'image_id': image_id, 'image_path': image_path,
        'gt_class_ids': np.array([_class_id(b.category) for b in truth], dtype=np.int32),
        'gt_bboxes': (np.ones((len(truth), 4), np.int32) if gt_bboxes is None
                      else np.asarray(gt_bboxes, np.int32).reshape(-1, 4)),
        'gt_RTs': np.array([p[0] for p in gt]).reshape(-1, 4, 4),
        'gt_scales': np.array([p[1] for p in gt]).reshape(-1, 3),
        'gt_handle_visibility': np.array([int(bool(b.handle_visible)) for b in truth],
                                         dtype=np.int32),
        'pred_class_ids': np.array([_class_id(b.category) for b in predictions],
                                   dtype=np.int32),
        'pred_bboxes': (np.ones((len(predictions), 4), np.int32) if pred_bboxes is None
                        else np.asarray(pred_bboxes, np.int32).reshape(-1, 4)),
        'pred_scores': np.array([b.score for b in predictions], dtype=np.float32),
        'pred_RTs': np.array([p[0] for p in pred]).reshape(-1, 4, 4),
        'pred_scales': np.array([p[1] for p in pred]).reshape(-1, 3),
    }


def _class_id(category: Union[str, int]) -> int:
    if isinstance(category, (int, np.integer)):
        return category_by_id(int(category)).class_id
    return category_by_name(str(category)).class_id


def score_poses(pred_rotation: np.ndarray, pred_translation: np.ndarray,
                pred_size: Optional[np.ndarray], gt_rotation: np.ndarray,
                gt_translation: np.ndarray, gt_size: np.ndarray,
                categories: Sequence[Union[str, int]],
                handle_visible: Optional[Sequence[bool]] = None,
                scores: Optional[Sequence[float]] = None) -> Dict[str, float]:
    """Score N paired predictions as NOCS mAP (percent) plus median per-object errors.

    Rotations [N, 3, 3], translations [N, 3] (m), sizes [N, 3] (metric box extents; a None
    pred_size uses the true size, so the IoU keys then measure pose only). Categories are
    names or NOCS class ids. Each pair is one frame with one ground truth and one prediction
    of the given score (default 1), so this equals `catpose eval` with ground-truth masks.
    Returns the MAP_KEYS and FIXED_IOU_KEYS (percent), 'accuracy_<threshold>' (percent of
    objects within it: score-free, unlike AP over tied scores), 'median_rotation_deg',
    'median_translation_cm' and 'objects'.
    """
    count = len(categories)
    handle_visible = [True] * count if handle_visible is None else list(handle_visible)
    scores = [1.0] * count if scores is None else list(scores)
    pred_size = gt_size if pred_size is None else pred_size
    arrays = [np.asarray(a, dtype=np.float64) for a in (
        pred_rotation, pred_translation, pred_size, gt_rotation, gt_translation, gt_size)]
    if any(len(a) != count for a in arrays) or len(handle_visible) != count \
            or len(scores) != count:
        raise ValueError('every argument needs one entry per object (%d)' % count)
    names = [category_by_id(_class_id(c)).name for c in categories]
    results = [frame_result(
        [PosedBox(names[i], arrays[3][i], arrays[4][i], arrays[5][i],
                  handle_visible=bool(handle_visible[i]))],
        [PosedBox(names[i], arrays[0][i], arrays[1][i], arrays[2][i], float(scores[i]))])
        for i in range(count)]
    summary = nocs_map(results)
    errors = pose_errors(arrays[0], arrays[1], arrays[3], arrays[4],
                         np.array([is_symmetric(n, h) for n, h in zip(names, handle_visible)],
                                  dtype=bool))
    figures = dict(summary.mean)
    figures.update({'accuracy_' + key: 100.0 * errors.accuracy(deg, cm)
                    for key, (deg, cm) in POSE_THRESHOLDS.items()})
    figures.update(median_rotation_deg=float(np.median(errors.rotation_deg)) if count else
                   float('nan'),
                   median_translation_cm=float(np.median(errors.translation_cm)) if count else
                   float('nan'),
                   objects=float(count))
    return figures
