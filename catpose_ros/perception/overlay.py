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

"""Draw estimated (and ground-truth) metric boxes and axes onto an RGB image."""

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.geometry.transforms import to_camera_frame

Color = Tuple[int, int, int]
# Corner index pairs of a box whose corners are the sign patterns of (x, y, z).
_EDGES = ((0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 3), (2, 6), (3, 7), (4, 5), (4, 6),
          (5, 7), (6, 7))


def box_corners(size: np.ndarray) -> np.ndarray:
    """Return the 8 corners (object frame) of a box of extents size centred at the origin."""
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    return 0.5 * signs * np.asarray(size, dtype=np.float64)


def project(points_cam: np.ndarray, intrinsics: CameraIntrinsics) -> np.ndarray:
    """Project camera-frame points [N, 3] to integer pixel coordinates [N, 2]."""
    pixels, _ = cv2.projectPoints(np.asarray(points_cam, np.float64), np.zeros(3), np.zeros(3),
                                  intrinsics.matrix, None)
    return np.round(pixels.reshape(-1, 2)).astype(np.int32)


def draw_pose(image: np.ndarray, intrinsics: CameraIntrinsics, rotation: np.ndarray,
              translation: np.ndarray, size: np.ndarray, color: Color,
              label: Optional[str] = None, thickness: int = 2, axes: bool = True) -> np.ndarray:
    """Draw a posed box (and its x/y/z axes in red/green/blue) in place; returns the image."""
    rotation = np.asarray(rotation, np.float64)
    translation = np.asarray(translation, np.float64)
    if translation[2] <= 0:
        return image
    corners = project(to_camera_frame(box_corners(size), rotation, translation), intrinsics)
    for a, b in _EDGES:
        cv2.line(image, tuple(map(int, corners[a])), tuple(map(int, corners[b])), color,
                 thickness, cv2.LINE_AA)
    if axes:
        length = 0.6 * float(np.max(size))
        axes_points = np.vstack((np.zeros(3), length * np.eye(3)))
        ends = project(to_camera_frame(axes_points, rotation, translation), intrinsics)
        for axis, axis_color in enumerate(((255, 0, 0), (0, 255, 0), (0, 0, 255))):
            cv2.line(image, tuple(map(int, ends[0])), tuple(map(int, ends[axis + 1])),
                     axis_color, thickness, cv2.LINE_AA)
    if label:
        top = corners[corners[:, 1].argmin()]
        cv2.putText(image, label, (int(top[0]), max(12, int(top[1]) - 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return image


def draw_legend(image: np.ndarray, entries: Sequence[Tuple[str, Color]],
                corner: Tuple[int, int] = (8, 8)) -> np.ndarray:
    """Draw a key of (text, line colour) rows on a dark panel in place; returns the image.

    An overlay with several kinds of boxes says which is which on the image itself.
    """
    font, scale, row = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 18
    width = max(cv2.getTextSize(text, font, scale, 1)[0][0] for text, _ in entries) + 40
    x0, y0 = corner
    panel = image[y0:y0 + row * len(entries) + 8, x0:x0 + width]
    panel[:] = (0.35 * panel).astype(image.dtype)
    for index, (text, color) in enumerate(entries):
        y = y0 + 4 + row * index + row // 2
        cv2.line(image, (x0 + 6, y), (x0 + 26, y), color, 2, cv2.LINE_AA)
        cv2.putText(image, text, (x0 + 32, y + 5), font, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return image
