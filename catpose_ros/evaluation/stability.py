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

"""Frame-to-frame rotation jitter of tracked objects: how much a published frame turns.

Accuracy metrics forgive any turn of a symmetric object about its axis; a robot grasping it
does not, when the frame spins between frames. Jitter of one step is the angle between the
estimated relative rotation R_est(k+1) R_est(k)^T and the true one R_gt(k+1) R_gt(k)^T
(identity for a static camera and scene): the full geodesic angle, symmetry not forgiven.
"""

from dataclasses import dataclass, field
import math
from typing import Dict, List, Sequence, Tuple

import numpy as np


def relative_rotation_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Geodesic angle (degrees) between two rotation matrices."""
    cosine = (float(np.trace(np.asarray(a).T @ np.asarray(b))) - 1.0) / 2.0
    return math.degrees(math.acos(min(1.0, max(-1.0, cosine))))


def step_jitter_deg(estimated: Sequence[np.ndarray], truth: Sequence[np.ndarray]) -> List[float]:
    """Jitter (degrees) of each step of one track: consecutive rotation pairs."""
    if len(estimated) != len(truth):
        raise ValueError('got %d estimated and %d true rotations' % (len(estimated), len(truth)))
    jitter = []
    for k in range(len(estimated) - 1):
        moved_est = estimated[k + 1] @ np.asarray(estimated[k]).T
        moved_true = truth[k + 1] @ np.asarray(truth[k]).T
        jitter.append(relative_rotation_deg(moved_est, moved_true))
    return jitter


@dataclass
class JitterTable:
    """Step jitter collected per group (e.g. category), with summary statistics."""

    steps: Dict[str, List[float]] = field(default_factory=dict)

    def add(self, group: str, estimated: Sequence[np.ndarray],
            truth: Sequence[np.ndarray]) -> None:
        """Add the steps of one track (consecutive frames) to a group."""
        self.steps.setdefault(group, []).extend(step_jitter_deg(estimated, truth))

    def summary(self, group: str) -> Tuple[int, float, float, float]:
        """Return (steps, median, 90th percentile, max) in degrees of one group."""
        values = np.asarray(self.steps.get(group, []), dtype=np.float64)
        if values.size == 0:
            return 0, math.nan, math.nan, math.nan
        return (int(values.size), float(np.median(values)), float(np.percentile(values, 90)),
                float(values.max()))
