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

"""One rotation for objects that look the same at every turn about their y axis.

For a bottle, bowl or can (and a mug whose handle is hidden) every rotation R @ Ry(angle)
fits the observation equally well, so an estimator returns an arbitrary one and a published
frame would spin from frame to frame. These functions pick one member of that family:
- `closest_about_y(R, previous)`: the one nearest the previous frame's rotation (tracking);
- `canonical_about_y(R, t)`: a fixed choice without history (cold start): the object's x
  axis points as nearly as possible towards the camera (from the object centre t to the
  optical centre); when the y axis lies along the viewing ray, x points as nearly as
  possible along the camera's +x (image right).
Rotations are object -> camera (columns are the object axes in the camera frame).
"""

import math
from typing import Optional

import numpy as np

_DEGENERATE = 1e-6


def rotation_about_y(angle: float) -> np.ndarray:
    """Return the rotation by angle (radians) about the y axis."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def closest_about_y(rotation: np.ndarray, reference: np.ndarray) -> Optional[np.ndarray]:
    """Return R @ Ry(a) with a minimising the geodesic angle to reference, or None.

    trace(reference^T R Ry(a)) = cos(a) (M00 + M22) + sin(a) (M20 - M02) + M11 with
    M = reference^T R, so the best angle is atan2(M20 - M02, M00 + M22). None when every
    angle is equally far (the y axes point in opposite directions).
    """
    m = np.asarray(reference, dtype=np.float64).T @ np.asarray(rotation, dtype=np.float64)
    cos_part, sin_part = m[0, 0] + m[2, 2], m[2, 0] - m[0, 2]
    if math.hypot(cos_part, sin_part) < _DEGENERATE:
        return None
    return rotation @ rotation_about_y(math.atan2(sin_part, cos_part))


def canonical_about_y(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Return R @ Ry(a) whose x axis points as nearly as possible towards the camera.

    The x axis of R @ Ry(a) is cos(a) x - sin(a) z (x, z: columns of R), so its projection
    on a direction d is largest at a = atan2(-z.d, x.d).
    """
    rotation = np.asarray(rotation, dtype=np.float64)
    x_axis, z_axis = rotation[:, 0], rotation[:, 2]
    for direction in (_towards_camera(translation), np.array([1.0, 0.0, 0.0])):
        along_x, along_z = float(x_axis @ direction), float(z_axis @ direction)
        if math.hypot(along_x, along_z) > _DEGENERATE:
            return rotation @ rotation_about_y(math.atan2(-along_z, along_x))
    return rotation


def _towards_camera(translation: np.ndarray) -> np.ndarray:
    translation = np.asarray(translation, dtype=np.float64)
    norm = float(np.linalg.norm(translation))
    return -translation / norm if norm > _DEGENERATE else np.zeros(3)


def handle_visible(points: np.ndarray, rotation: np.ndarray, reach: float = 1.25,
                   min_fraction: float = 0.018, min_points: int = 8) -> bool:
    """Whether a mug's handle shows among its camera-frame points (N, 3).

    Only the estimated y axis (rotation[:, 1]) is used: it is reliable even when the turn
    about it is not. Seen along y, the body's points lie on a circle (fitted to them, twice,
    the second time without the points far outside the first fit); the handle's points lie
    further out than `reach` radii. Visible when enough points do. The thresholds were
    chosen on rendered mugs of the test library (test/test_geometry_symmetry.py).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(points) < max(min_points, 3):
        return False
    rotation = np.asarray(rotation, dtype=np.float64)
    plane = points @ rotation[:, [0, 2]]  # coordinates across the y axis
    keep = np.ones(len(plane), bool)
    for _ in range(2):
        circle = _fit_circle(plane[keep])
        if circle is None:
            return False
        centre, radius = circle
        distance = np.linalg.norm(plane - centre, axis=1)
        keep = distance <= 1.1 * radius
    outside = int(np.count_nonzero(distance > reach * radius))
    return outside >= max(min_points, min_fraction * len(points))


def _fit_circle(plane: np.ndarray):
    """Least-squares circle (Kasa) through 2-D points: (centre, radius), or None."""
    if len(plane) < 3:
        return None
    design = np.column_stack([plane, np.ones(len(plane))])
    target = -(plane ** 2).sum(axis=1)
    (d, e, f), *_ = np.linalg.lstsq(design, target, rcond=None)
    centre = -0.5 * np.array([d, e])
    squared = float(centre @ centre - f)
    if not np.isfinite(squared) or squared <= 0:
        return None
    return centre, math.sqrt(squared)
