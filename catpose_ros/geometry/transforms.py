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

"""SE(3) helpers on 4x4 homogeneous matrices (numpy), batched over leading dimensions.

A pose maps object to camera: `p_cam = R @ p_obj + t`, stored as [[R, t], [0, 1]].
"""

import numpy as np


def make_transform(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Pack R [..., 3, 3] and t [..., 3] into homogeneous matrices [..., 4, 4]."""
    rotation = np.asarray(rotation, dtype=np.float64)
    translation = np.asarray(translation, dtype=np.float64)
    batch = np.broadcast_shapes(rotation.shape[:-2], translation.shape[:-1])
    transform = np.zeros(batch + (4, 4))
    transform[..., :3, :3] = rotation
    transform[..., :3, 3] = translation
    transform[..., 3, 3] = 1.0
    return transform


def split_transform(transform: np.ndarray):
    """Return (R [..., 3, 3], t [..., 3]) of homogeneous matrices [..., 4, 4]."""
    transform = np.asarray(transform, dtype=np.float64)
    if transform.shape[-2:] != (4, 4):
        raise ValueError('expected [..., 4, 4] transforms, got shape %s' % (transform.shape,))
    return transform[..., :3, :3], transform[..., :3, 3]


def invert_transform(transform: np.ndarray) -> np.ndarray:
    """Invert rigid transforms in closed form: [R, t]^-1 = [R^T, -R^T t]."""
    rotation, translation = split_transform(transform)
    rotation_t = np.swapaxes(rotation, -1, -2)
    return make_transform(rotation_t, -(rotation_t @ translation[..., None])[..., 0])


def compose(*transforms: np.ndarray) -> np.ndarray:
    """Chain transforms as a matrix product; the last one is applied to points first."""
    if not transforms:
        raise ValueError('compose needs at least one transform')
    result = np.asarray(transforms[0], dtype=np.float64)
    for transform in transforms[1:]:
        result = result @ np.asarray(transform, dtype=np.float64)
    return result


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply one transform [4, 4] to points [..., 3]; keeps the points' float dtype."""
    return to_camera_frame(points, *split_transform(transform))


def _float_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points)
    return points if np.issubdtype(points.dtype, np.floating) else points.astype(np.float64)


def to_camera_frame(points: np.ndarray, rotation: np.ndarray,
                    translation: np.ndarray) -> np.ndarray:
    """Map object-frame points [..., 3] into the camera frame, p = R q + t (dtype kept)."""
    points = _float_points(points)
    return (points @ np.asarray(rotation).T + translation).astype(points.dtype, copy=False)


def to_object_frame(points: np.ndarray, rotation: np.ndarray,
                    translation: np.ndarray) -> np.ndarray:
    """Map camera-frame points [..., 3] into the object frame, q = R^T (p - t) (dtype kept)."""
    points = _float_points(points)
    return ((points - translation) @ np.asarray(rotation)).astype(points.dtype, copy=False)
