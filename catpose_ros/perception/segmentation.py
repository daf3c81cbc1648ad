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

"""Instance segmentation: the `Instance` type every stage passes around, and its backends."""

from dataclasses import dataclass
from typing import Tuple

import numpy as np


@dataclass
class Instance:
    """One segmented object: a boolean mask on the depth grid, its category and score.

    `instance_id` is the value of this object in the published instance label image.
    `box` is (x1, y1, x2, y2) in pixels, inclusive-exclusive.
    """

    instance_id: int
    category: str
    mask: np.ndarray
    score: float = 1.0
    box: Tuple[int, int, int, int] = (0, 0, 0, 0)
