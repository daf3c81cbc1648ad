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

"""Pinhole camera intrinsics, including the NOCS REAL275 and CAMERA25 cameras."""

from dataclasses import dataclass
import math
from typing import Optional

import numpy as np

# A focal length below one pixel means a field of view near 180 degrees for any image, and
# back-projection through it overflows; above 1e6 pixels no lens is that narrow.
MIN_FOCAL_PX, MAX_FOCAL_PX = 1.0, 1e6

# Depth (metres) trusted by default: nearer than 10 cm is inside the minimum range of common
# RGB-D sensors, farther than 4 m is beyond a tabletop and too noisy to pose an object.
MIN_DEPTH_M, MAX_DEPTH_M = 0.1, 4.0


@dataclass(frozen=True)
class CameraIntrinsics:
    """A pinhole camera (OpenCV convention: x right, y down, z forward; pixels)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self):
        problem = self.problem()
        if problem is not None:
            raise ValueError('invalid intrinsics (%s): %r' % (problem, self))

    def problem(self) -> Optional[str]:
        """Say what makes these intrinsics unusable, or None when they are sane.

        Focal lengths must be finite and within [MIN_FOCAL_PX, MAX_FOCAL_PX]; the principal
        point finite and within one image size of the image (crops move it outside, never
        further).
        """
        try:
            finite = all(math.isfinite(float(v)) for v in (self.fx, self.fy, self.cx, self.cy))
        except (TypeError, ValueError):
            finite = False
        if not finite:
            return 'fx, fy, cx and cy must be finite numbers'
        if not (self.width > 0 and self.height > 0):
            return 'width and height must be positive'
        for name, focal in (('fx', self.fx), ('fy', self.fy)):
            if not MIN_FOCAL_PX <= focal <= MAX_FOCAL_PX:
                return '%s must lie in [%g, %g] pixels' % (name, MIN_FOCAL_PX, MAX_FOCAL_PX)
        for name, centre, extent in (('cx', self.cx, self.width), ('cy', self.cy, self.height)):
            if not -extent <= centre <= 2 * extent:
                return '%s must lie in [%d, %d] for a %s of %d pixels' % (
                    name, -extent, 2 * extent, 'width' if name == 'cx' else 'height', extent)
        return None

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @classmethod
    def from_matrix(cls, k: np.ndarray, width: int, height: int) -> 'CameraIntrinsics':
        """Build from a 3x3 K (or its 9 row-major values, as in sensor_msgs/CameraInfo.k)."""
        k = np.asarray(k, dtype=np.float64).reshape(3, 3)
        return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]),
                   int(width), int(height))

    def scaled(self, width: int, height: int) -> 'CameraIntrinsics':
        """Return the same camera for an image resized to width x height."""
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy,
                                int(width), int(height))

    def check_image(self, image: np.ndarray) -> None:
        """Raise ValueError unless image (H x W[...]) has this camera's size.

        A depth image of another size would back-project to silently wrong points.
        """
        if np.shape(image)[:2] != (self.height, self.width):
            raise ValueError('image shape %s does not match the intrinsics (%d x %d); use '
                             'CameraIntrinsics.scaled() for resized images'
                             % (np.shape(image), self.height, self.width))


NOCS_REAL_INTRINSICS = CameraIntrinsics(591.0125, 590.16775, 322.525, 244.11084, 640, 480)
NOCS_CAMERA_INTRINSICS = CameraIntrinsics(577.5, 577.5, 319.5, 239.5, 640, 480)
