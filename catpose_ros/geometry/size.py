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

"""Metric box size from the observed points, read in the estimated object frame.

The object frame's origin is the centre of the tight box, so every extent is taken
symmetric about the origin: extent_i = 2 * quantile(|p_i|, q). A depth camera sees only
the near half of an object, so the size is the visible half mirrored about the estimated
centre; this is why the rule is symmetric and not max - min. The quantile ignores stray
mask or flying-pixel outliers (up to 1 - q of the points); on an axis along which the
points are uniform it shrinks the extent by the factor q. For objects symmetric about y,
x and z share one extent: the radius quantile of the points about the y axis.
"""

import numpy as np

from catpose_ros.geometry.transforms import to_object_frame


def estimate_size(points_cam: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
                  symmetric: bool, upper: float = 0.98) -> np.ndarray:
    """Return the box extents (x, y, z) in metres of an object seen as `points_cam`.

    `upper` is the quantile of the distances from the centre that counts as the surface.
    """
    if not 0.0 < upper <= 1.0:
        raise ValueError('need 0 < upper <= 1, got %r' % (upper,))
    points_cam = np.asarray(points_cam)
    if points_cam.ndim != 2 or points_cam.shape[1] != 3 or len(points_cam) == 0:
        raise ValueError('need a non-empty (N, 3) point array, got shape %s'
                         % (points_cam.shape,))
    local = to_object_frame(np.asarray(points_cam, np.float64), rotation, translation)
    extents = 2.0 * np.quantile(np.abs(local), upper, axis=0)
    if symmetric:
        radius = np.hypot(local[:, 0], local[:, 2])
        extents[[0, 2]] = 2.0 * np.quantile(radius, upper)
    return extents
