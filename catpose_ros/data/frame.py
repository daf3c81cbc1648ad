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

"""In-memory RGB-D frame with per-object ground truth: what the renderer makes and loaders read.

Conventions (documented once, used everywhere):
- camera frame: OpenCV optical frame (x right, y down, z forward), metres;
- object frame: NOCS canonical frame (y up = symmetry axis), origin at the centre of the
  object's tight bounding box;
- pose: object -> camera, p_cam = R @ p_obj + t;
- NOCS coordinates: nocs = p_obj / scale + 0.5, with scale the diagonal of the tight box, so
  the object fits in the unit cube;
- instance mask: 0 is background, 1..254 are instance ids (file formats map their own
  background values on read and write).
"""

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from catpose_ros.geometry.camera import CameraIntrinsics


@dataclass
class ObjectAnnotation:
    """Ground truth of one object instance in one frame."""

    instance_id: int
    category: str
    rotation: np.ndarray
    translation: np.ndarray
    size: np.ndarray
    handle_visible: bool = True
    model_id: str = ''

    @property
    def scale(self) -> float:
        """NOCS scale: the diagonal of the tight bounding box in metres."""
        return float(np.linalg.norm(self.size))

    @property
    def pose(self) -> np.ndarray:
        """The 4x4 object->camera transform."""
        transform = np.eye(4)
        transform[:3, :3] = self.rotation
        transform[:3, 3] = self.translation
        return transform


@dataclass
class Frame:
    """One RGB-D frame: images on one pixel grid plus its camera and object ground truth."""

    color: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    intrinsics: CameraIntrinsics
    objects: List[ObjectAnnotation] = field(default_factory=list)
    coord: Optional[np.ndarray] = None
    camera_pose: Optional[np.ndarray] = None
    frame_id: str = ''

    def object_by_instance(self, instance_id: int) -> ObjectAnnotation:
        """Return the annotation whose mask value is instance_id."""
        for obj in self.objects:
            if obj.instance_id == instance_id:
                return obj
        raise KeyError('frame %s has no instance %d' % (self.frame_id, instance_id))
