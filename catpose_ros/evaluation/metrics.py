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

"""Pose errors with NOCS's symmetry rule, and accuracy at degree / centimetre thresholds.

Rotation error is the geodesic angle, or the angle between the y axes for objects that are
symmetric about y in that view (bottle, bowl, can, and a mug whose handle is hidden).
Translation error is the Euclidean distance in centimetres.
"""

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import numpy as np
import torch

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
