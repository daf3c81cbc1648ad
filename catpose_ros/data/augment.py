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

"""GenPose's training augmentations (from FS-Net), with labels kept consistent with the points.

Points are camera-frame (N, 3); the pose maps object -> camera (p = R q + t); size is the
metric box. Box scaling, R/t jitter and box-cage deformation change the labels together with
the points, so the points stay inside the labelled box. Radial jitter is point noise: labels
do not move and points may leave the box by up to `radial_max` of their distance to t.
Mask boundary noise acts on the instance mask, before back-projection (the point cache
stores noisy-mask variants, see data/dataset.py).
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from catpose_ros.geometry.transforms import to_camera_frame, to_object_frame

Sample = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges, GenPose's defaults (configs/config.py)."""

    mask_noise_prob: float = 0.5
    box_scale_prob: float = 0.3
    box_scale_range: Tuple[float, float] = (0.8, 1.2)
    rt_prob: float = 0.3
    rt_translation_m: float = 0.05
    rt_rotation_deg: float = 15.0
    cage_prob: float = 0.3
    cage_range: Tuple[float, float] = (0.8, 1.2)
    cage_categories: Tuple[str, ...] = ('bowl', 'mug')
    radial_prob: float = 0.2
    radial_max: float = 0.2


def box_scale(points: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
              size: np.ndarray, symmetric: bool, rng: np.random.Generator,
              scale_range: Tuple[float, float] = (0.8, 1.2)) -> Sample:
    """Stretch the object per axis by U(range); y-symmetric objects share one x/z factor."""
    factors = rng.uniform(*scale_range, size=3)
    if symmetric:
        factors[[0, 2]] = factors[[0, 2]].mean()
    local = to_object_frame(points, rotation, translation) * factors
    return (to_camera_frame(local, rotation, translation), rotation, translation,
            np.asarray(size) * factors)


def euler_jitter(max_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Rotation Rz Ry Rx with each angle U(-max_deg, max_deg) (GenPose's get_rotation)."""
    x, y, z = rng.uniform(-max_deg, max_deg, size=3)
    return Rotation.from_euler('ZYX', [z, y, x], degrees=True).as_matrix()


def rt_jitter(points: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
              size: np.ndarray, rng: np.random.Generator, max_translation: float = 0.05,
              max_deg: float = 15.0) -> Sample:
    """Shift by U(+-max_translation) per axis, then rotate points and pose about the camera."""
    shift = rng.uniform(-max_translation, max_translation, size=3)
    delta = euler_jitter(max_deg, rng)
    return ((np.asarray(points) + shift) @ delta.T, delta @ rotation,
            delta @ (translation + shift), np.asarray(size))


def box_cage(points: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
             size: np.ndarray, rng: np.random.Generator,
             factor_range: Tuple[float, float] = (0.8, 1.2)) -> Sample:
    """Scale x/z by a factor that runs linearly from the box bottom to its top (bowl, mug).

    The new x/z extents take the larger end factor: an upper bound that keeps every point
    of the deformed object inside the box (GenPose recomputes them from the full model).
    """
    top, bottom = rng.uniform(*factor_range, size=2)
    size = np.asarray(size, dtype=np.float64)
    local = to_object_frame(points, rotation, translation)
    height = (np.clip(local[:, 1] / size[1], -0.5, 0.5) + 0.5)
    per_point = bottom + height * (top - bottom)
    local[:, 0] *= per_point
    local[:, 2] *= per_point
    new_size = size * np.array([max(top, bottom), 1.0, max(top, bottom)])
    return to_camera_frame(local, rotation, translation), rotation, translation, new_size


def radial_jitter(points: np.ndarray, translation: np.ndarray, rng: np.random.Generator,
                  max_ratio: float = 0.2) -> np.ndarray:
    """Push each point away from t by U(0, max_ratio) of its offset, per axis."""
    points = np.asarray(points)
    return points + rng.uniform(0.0, max_ratio, size=points.shape) * (points - translation)


def mask_boundary_noise(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Randomise the one-pixel band between erosion and dilation: half kept, half dropped."""
    mask = np.asarray(mask).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2, 2))
    band = cv2.erode(mask, kernel) != cv2.dilate(mask, kernel)
    noisy = mask.astype(bool)
    count = int(band.sum())
    if count == 0:
        return noisy
    values = np.ones(count, dtype=bool)
    values[rng.choice(count, count // 2, replace=False)] = False
    noisy[band] = values
    return noisy


def augment_sample(points: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
                   size: np.ndarray, category: str, symmetric: bool, config: AugmentConfig,
                   rng: Optional[np.random.Generator] = None) -> Sample:
    """Apply the point augmentations in GenPose's order: box scale, R/t, cage, radial."""
    rng = np.random.default_rng() if rng is None else rng
    sample = (np.asarray(points, np.float64), np.asarray(rotation, np.float64),
              np.asarray(translation, np.float64), np.asarray(size, np.float64))
    if rng.random() < config.box_scale_prob:
        sample = box_scale(*sample, symmetric, rng, config.box_scale_range)
    if rng.random() < config.rt_prob:
        sample = rt_jitter(*sample, rng, config.rt_translation_m, config.rt_rotation_deg)
    if category in config.cage_categories and rng.random() < config.cage_prob:
        sample = box_cage(*sample, rng, config.cage_range)
    if rng.random() < config.radial_prob:
        sample = (radial_jitter(sample[0], sample[2], rng, config.radial_max),) + sample[1:]
    return sample
