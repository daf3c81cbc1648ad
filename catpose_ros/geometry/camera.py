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

import numpy as np


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
        if not (self.fx > 0 and self.fy > 0 and self.width > 0 and self.height > 0):
            raise ValueError('invalid intrinsics: %r' % (self,))

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


NOCS_REAL_INTRINSICS = CameraIntrinsics(591.0125, 590.16775, 322.525, 244.11084, 640, 480)
NOCS_CAMERA_INTRINSICS = CameraIntrinsics(577.5, 577.5, 319.5, 239.5, 640, 480)
