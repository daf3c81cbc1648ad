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

"""Omni6DPose's VUS: the volume under the accuracy surface over degree and cm thresholds.

As the Omni6DPose evaluation defines it: acc(d, c) = fraction of objects with rotation error
< d and translation error < c, evaluated at the cell midpoints of a grid over [0, D] x [0, C];
VUS is the mean of that surface, per category, then averaged over categories (percent here).
The grids are D x C = 5 x 2 (cells 0.05 deg x 0.02 cm), 5 x 5 (0.05 x 0.05), 10 x 2 (0.1 x
0.02) and 10 x 5 (0.1 x 0.05).

Rotation error first snaps the prediction to the symmetric equivalent nearest the truth, using
Omni6DPose's per-instance symmetry label (any / none / half / quarter per axis; continuous
symmetries sampled at 100 steps). For NOCS categories the one symmetry rule of
`metrics.is_symmetric` applies instead. Ground-truth objects without a prediction count as
failures (infinite error).
"""

import itertools
import math
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

VUS_GRIDS: Dict[str, Tuple[float, float, float, float]] = {
    '5deg2cm': (5.0, 2.0, 0.05, 0.02), '5deg5cm': (5.0, 5.0, 0.05, 0.05),
    '10deg2cm': (10.0, 2.0, 0.1, 0.02), '10deg5cm': (10.0, 5.0, 0.1, 0.05)}
CONTINUOUS_STEPS = 100
_AXIS_ANGLES = {'none': 1, 'half': 2, 'quarter': 4, 'any': CONTINUOUS_STEPS}


def _axis_rotations(axis: int, count: int) -> np.ndarray:
    """Rotations by 2 pi k / count about one object axis, k = 0..count-1."""
    result = np.tile(np.eye(3), (count, 1, 1))
    angles = 2.0 * math.pi * np.arange(count) / count
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    result[:, i, i] = result[:, j, j] = np.cos(angles)
    result[:, i, j] = -np.sin(angles)
    result[:, j, i] = np.sin(angles)
    return result


def symmetry_rotations(x: str = 'none', y: str = 'none', z: str = 'none') -> np.ndarray:
    """Object-frame rotations [M, 3, 3] that leave a shape with this symmetry label unchanged."""
    per_axis = [_axis_rotations(axis, _AXIS_ANGLES[label]) for axis, label in
                enumerate((x, y, z))]
    return np.array([a @ b @ c for a, b, c in itertools.product(*per_axis)])


def calibrated_rotation_error(pred_rotation: np.ndarray, gt_rotation: np.ndarray,
                              symmetries: Optional[np.ndarray] = None,
                              any_rotation: bool = False) -> float:
    """Geodesic angle (deg) between the truth and the nearest symmetric equivalent."""
    if any_rotation:
        return 0.0
    symmetries = np.eye(3)[None] if symmetries is None else symmetries
    candidates = np.asarray(pred_rotation, dtype=np.float64) @ symmetries
    relative = np.einsum('ij,mik->mjk', np.asarray(gt_rotation, dtype=np.float64), candidates)
    cosines = np.clip((np.trace(relative, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    return float(np.degrees(np.arccos(cosines.max())))


def accuracy_surface(rotation_deg: np.ndarray, translation_cm: np.ndarray, max_deg: float,
                     max_cm: float, step_deg: float, step_cm: float) -> np.ndarray:
    """acc[i, j] = fraction with error < (midpoint i deg, midpoint j cm); empty -> nan."""
    deg_thresholds = (np.arange(int(round(max_deg / step_deg))) + 0.5) * step_deg
    cm_thresholds = (np.arange(int(round(max_cm / step_cm))) + 0.5) * step_cm
    rotation_deg = np.asarray(rotation_deg, dtype=np.float64).reshape(-1)
    translation_cm = np.asarray(translation_cm, dtype=np.float64).reshape(-1)
    if rotation_deg.size == 0:
        return np.full((deg_thresholds.size, cm_thresholds.size), np.nan)
    # Threshold k counts an error e iff e < t_k, i.e. k >= (number of thresholds <= e).
    first_d = np.searchsorted(deg_thresholds, rotation_deg, side='right')
    first_c = np.searchsorted(cm_thresholds, translation_cm, side='right')
    counts = np.zeros((deg_thresholds.size + 1, cm_thresholds.size + 1))
    np.add.at(counts, (first_d, first_c), 1.0)
    counts = counts.cumsum(axis=0).cumsum(axis=1)
    return counts[:-1, :-1] / rotation_deg.size


def volume_under_surface(rotation_deg: np.ndarray, translation_cm: np.ndarray
                         ) -> Dict[str, float]:
    """VUS (percent) of one set of errors on each grid of VUS_GRIDS."""
    return {key: 100.0 * float(np.mean(accuracy_surface(rotation_deg, translation_cm, *grid)))
            for key, grid in VUS_GRIDS.items()}


def vus_by_category(rotation_deg: Sequence[float], translation_cm: Sequence[float],
                    categories: Sequence[str]) -> Dict[str, Mapping[str, float]]:
    """VUS per category and its mean over categories ('mean'), percent."""
    rotation_deg = np.asarray(rotation_deg, dtype=np.float64)
    translation_cm = np.asarray(translation_cm, dtype=np.float64)
    categories = np.asarray(list(categories), dtype=object)
    result = {name: volume_under_surface(rotation_deg[categories == name],
                                         translation_cm[categories == name])
              for name in sorted(set(categories.tolist()))}
    result['mean'] = {key: float(np.mean([v[key] for v in result.values()]))
                      if result else float('nan') for key in VUS_GRIDS}
    return result
