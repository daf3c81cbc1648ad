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

"""Per-object pose errors with the one symmetry rule, and accuracy at deg / cm thresholds.

The rule (NOCS's): bottle, bowl and can are symmetric about their y axis; a mug is symmetric
only when its handle is not visible; every other category is not symmetric. Rotation error is
then the angle between the y axes, otherwise the geodesic angle. Translation error is the
Euclidean distance in centimetres. Every accuracy in the package goes through this module
or `catpose_ros.evaluation.nocs_map`.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from catpose_ros.categories import category_by_name, UnknownCategoryError
from catpose_ros.geometry.rotation import symmetry_aware_angle

DEFAULT_THRESHOLDS: Tuple[Tuple[float, float], ...] = ((5, 2), (5, 5), (10, 2), (10, 5))


@dataclass
class PoseErrors:
    """Per-object errors: rotation in degrees and translation in centimetres."""

    rotation_deg: np.ndarray
    translation_cm: np.ndarray

    def accuracy(self, max_deg: float, max_cm: float) -> float:
        """Return the fraction of objects within both thresholds (nan when there are none)."""
        if self.rotation_deg.size == 0:
            return float('nan')
        ok = (self.rotation_deg <= max_deg) & (self.translation_cm <= max_cm)
        return float(ok.mean())

    def summary(self, thresholds: Sequence[Tuple[float, float]] = DEFAULT_THRESHOLDS
                ) -> Dict[str, float]:
        """Return median errors and the accuracy at each (deg, cm) threshold."""
        result = {
            'count': float(self.rotation_deg.size),
            'median_rotation_deg': float(np.median(self.rotation_deg))
            if self.rotation_deg.size else float('nan'),
            'median_translation_cm': float(np.median(self.translation_cm))
            if self.translation_cm.size else float('nan'),
        }
        for deg, cm in thresholds:
            result['%gdeg%gcm' % (deg, cm)] = self.accuracy(deg, cm)
        return result


def is_symmetric(category: str, handle_visible: bool = True) -> bool:
    """Whether rotations about y are indistinguishable for this object in this view.

    Categories outside the NOCS table (e.g. HouseCat6D's) are treated as not symmetric.
    """
    try:
        return category_by_name(category).is_symmetric(bool(handle_visible))
    except UnknownCategoryError:
        return False


def symmetric_flags(categories: Sequence[str],
                    handle_visible: Optional[Sequence[bool]] = None) -> np.ndarray:
    """Apply `is_symmetric` to a batch; handle_visible defaults to True (no mug rule)."""
    if handle_visible is None:
        handle_visible = [True] * len(categories)
    if len(handle_visible) != len(categories):
        raise ValueError('categories and handle_visible differ in length: %d vs %d'
                         % (len(categories), len(handle_visible)))
    return np.array([is_symmetric(c, h) for c, h in zip(categories, handle_visible)],
                    dtype=bool).reshape(-1)


def pose_errors(rotation_pred: np.ndarray, translation_pred: np.ndarray,
                rotation_gt: np.ndarray, translation_gt: np.ndarray,
                symmetric: np.ndarray) -> PoseErrors:
    """Compute errors for batches: rotations [N, 3, 3], translations [N, 3] (metres)."""
    angle = symmetry_aware_angle(
        torch.as_tensor(np.asarray(rotation_gt, dtype=np.float64)),
        torch.as_tensor(np.asarray(rotation_pred, dtype=np.float64)),
        torch.as_tensor(np.asarray(symmetric, dtype=bool)))
    distance = np.linalg.norm(np.asarray(translation_pred, dtype=np.float64)
                              - np.asarray(translation_gt, dtype=np.float64), axis=-1)
    return PoseErrors(np.degrees(angle.numpy()).reshape(-1), (100.0 * distance).reshape(-1))


def pair_nearest(truth_categories: Sequence[str], truth_translations: np.ndarray,
                 estimate_categories: Sequence[str], estimate_translations: np.ndarray,
                 max_distance_m: float) -> Tuple[List[Tuple[int, int]], List[int]]:
    """Pair each ground truth, in order, with the nearest unused estimate of its category.

    For outputs that carry no masks (e.g. a recorded bag). Returns ([(truth, estimate)],
    [unpaired truth indices]); pairs further apart than max_distance_m are not made.
    """
    used, pairs, missed = set(), [], []
    estimate_translations = np.asarray(estimate_translations, dtype=np.float64).reshape(-1, 3)
    for i, (category, translation) in enumerate(zip(truth_categories, truth_translations)):
        candidates = [j for j, other in enumerate(estimate_categories)
                      if other == category and j not in used]
        distances = [float(np.linalg.norm(estimate_translations[j] - translation))
                     for j in candidates]
        if not candidates or min(distances) > max_distance_m:
            missed.append(i)
            continue
        best = candidates[int(np.argmin(distances))]
        used.add(best)
        pairs.append((i, best))
    return pairs, missed
