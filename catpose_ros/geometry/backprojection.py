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

"""Depth + instance mask + intrinsics -> the fixed-size point cloud the encoder reads.

Points are in the OpenCV optical frame (x right, y down, z forward), metres. Unlike
GenPose, the mask pixels are used at full resolution instead of through a 256x256
nearest-neighbour ROI warp; both give a uniform random subset of the visible surface in
image space. As in GenPose there is no outlier filter beyond the depth range.
"""

from typing import Optional, Tuple, Union

import numpy as np
import torch

from catpose_ros.geometry.camera import CameraIntrinsics, MAX_DEPTH_M, MIN_DEPTH_M


class TooFewPointsError(ValueError):
    """Raised when an instance has fewer valid depth pixels than the encoder needs."""

    def __init__(self, num_valid: int, min_points: int):
        super().__init__('only %d valid depth points under the mask (need at least %d)'
                         % (num_valid, min_points))
        self.num_valid = num_valid
        self.min_points = min_points


class MaskShapeError(ValueError):
    """Raised when a mask does not have the depth image's shape."""


def depth_to_metres(depth: np.ndarray, depth_scale: float = 0.001) -> np.ndarray:
    """Decode depth to float32 metres; invalid readings (NaN, inf, <= 0) become 0.

    Integer images (16UC1 in millimetres) are multiplied by `depth_scale`; float images
    (32FC1, REP 118) are already in metres and are kept as they are.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError('depth must be a 2D image, got shape %s' % (depth.shape,))
    if np.issubdtype(depth.dtype, np.integer):
        metres = depth.astype(np.float32) * np.float32(depth_scale)
    elif np.issubdtype(depth.dtype, np.floating):
        metres = depth.astype(np.float32, copy=True)
    else:
        raise ValueError('unsupported depth dtype %s' % depth.dtype)
    metres[~np.isfinite(metres) | (metres <= 0)] = 0.0
    return metres


def backproject(depth_m: np.ndarray, mask: np.ndarray, intrinsics: CameraIntrinsics,
                min_depth: float = MIN_DEPTH_M, max_depth: float = MAX_DEPTH_M) -> np.ndarray:
    """Lift the masked pixels with depth in [min_depth, max_depth] to camera points (M, 3).

    Points come in row-major pixel order. Only the mask's bounding rows and columns are
    tested against the depth range (an object covers a small part of the image).
    """
    _check_shapes(depth_m, mask, intrinsics)
    mask = np.asarray(mask).astype(bool, copy=False)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.zeros((0, 3), np.float32)
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    depth_window = depth_m[window]
    valid = mask[window] & (depth_window >= min_depth) & (depth_window <= max_depth)
    v, u = np.nonzero(valid)
    z = depth_window[v, u].astype(np.float32)
    v, u = v + rows[0], u + cols[0]
    x = (u.astype(np.float32) - np.float32(intrinsics.cx)) * z / np.float32(intrinsics.fx)
    y = (v.astype(np.float32) - np.float32(intrinsics.cy)) * z / np.float32(intrinsics.fy)
    return np.stack((x, y, z), axis=-1).astype(np.float32, copy=False)


def _check_shapes(depth_m: np.ndarray, mask: np.ndarray, intrinsics: CameraIntrinsics):
    """Fail loudly on shapes that would silently give wrong points."""
    if np.shape(mask) != np.shape(depth_m):
        raise MaskShapeError('mask shape %s does not match depth shape %s'
                             % (np.shape(mask), np.shape(depth_m)))
    intrinsics.check_image(depth_m)


def resample_points(points: np.ndarray, num_points: int = 1024,
                    rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Bring a cloud to exactly `num_points` points, as GenPose does.

    More points: a random subset without repetition. Fewer: the whole cloud tiled as often
    as it fits, then a random subset of it for the remainder.
    """
    points = np.asarray(points)
    count = len(points)
    if count == 0:
        raise TooFewPointsError(0, 1)
    rng = np.random.default_rng() if rng is None else rng
    if count >= num_points:
        index = rng.permutation(count)[:num_points]
    else:
        repeats, remainder = divmod(num_points, count)
        index = np.concatenate((np.tile(np.arange(count), repeats),
                                rng.choice(count, remainder, replace=False)))
    return points[index]


def points_from_depth(depth: np.ndarray, mask: np.ndarray, intrinsics: CameraIntrinsics,
                      num_points: int = 1024, min_points: int = 50,
                      depth_scale: float = 0.001, min_depth: float = MIN_DEPTH_M,
                      max_depth: float = MAX_DEPTH_M, rng: Optional[np.random.Generator] = None,
                      ) -> Tuple[np.ndarray, int]:
    """Return (points (num_points, 3) float32, number of valid pixels) for one instance.

    Raises TooFewPointsError below `min_points` valid pixels and MaskShapeError when the
    mask and depth shapes differ.
    """
    points = backproject(depth_to_metres(depth, depth_scale), mask, intrinsics,
                         min_depth, max_depth)
    if len(points) < max(min_points, 1):
        raise TooFewPointsError(len(points), max(min_points, 1))
    return resample_points(points, num_points, rng), len(points)


ArrayLike = Union[np.ndarray, torch.Tensor]


def points_centroid(points: ArrayLike) -> ArrayLike:
    """Mean of points [..., N, 3] -> [..., 3]: the origin of the predicted translation."""
    return points.mean(-2) if isinstance(points, torch.Tensor) else np.mean(points, axis=-2)
