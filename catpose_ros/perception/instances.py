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

"""Segmented instances: the `Instance` every stage passes around and its label-image form.

The segmentation node publishes instances as a mono16 label image (ids 1..N, 0 background)
plus Detection2D labels; the pose node turns that image back into instances with
`LabelImageSegmenter`, as does a bag with ground-truth masks. Pure NumPy: no model here.
"""

from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from catpose_ros.categories import category_names

Box = Tuple[int, int, int, int]
MAX_LABEL_ID = int(np.iinfo(np.uint16).max)


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


def mask_box(mask: np.ndarray) -> Box:
    """Return the tight (x1, y1, x2, y2) box of a boolean mask, inclusive-exclusive."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def instances_to_label_image(instances: Sequence[Instance], shape: Tuple[int, int]) -> np.ndarray:
    """Paint instances into a mono16 label image (0 = background).

    Where masks overlap, the earlier instance (the higher score) keeps the pixel.
    """
    shape = tuple(int(s) for s in shape[:2])
    label = np.zeros(shape, dtype=np.uint16)
    seen = set()
    for instance in instances:
        _check_label_id(instance.instance_id)
        if instance.instance_id in seen:
            raise ValueError('duplicate instance id %d' % instance.instance_id)
        seen.add(instance.instance_id)
        if instance.mask.shape != shape:
            raise ValueError('mask of instance %d has shape %s, label image %s'
                             % (instance.instance_id, instance.mask.shape, shape))
    for instance in reversed(list(instances)):
        label[instance.mask.astype(bool)] = instance.instance_id
    return label


def masked_depth(depth: np.ndarray, instances: Sequence[Instance]) -> np.ndarray:
    """Keep depth only on instance pixels; elsewhere 0 (integer depth) or NaN (float depth).

    The invalid values follow REP 118 for 16UC1 and 32FC1 depth images.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError('depth must be HxW, got shape %s' % (depth.shape,))
    keep = np.zeros(depth.shape, dtype=bool)
    for instance in instances:
        if instance.mask.shape != depth.shape:
            raise ValueError('mask of instance %d has shape %s, depth %s'
                             % (instance.instance_id, instance.mask.shape, depth.shape))
        keep |= instance.mask.astype(bool)
    invalid = np.nan if np.issubdtype(depth.dtype, np.floating) else 0
    return np.where(keep, depth, np.asarray(invalid, dtype=depth.dtype))


def _check_label_id(instance_id: int) -> None:
    if not 1 <= int(instance_id) <= MAX_LABEL_ID:
        raise ValueError('instance id %r outside 1..%d' % (instance_id, MAX_LABEL_ID))


def check_min_mask_pixels(min_mask_pixels: int) -> None:
    if min_mask_pixels < 1:
        raise ValueError('min_mask_pixels must be >= 1, got %r' % (min_mask_pixels,))


@dataclass(frozen=True)
class InstanceLabel:
    """Category and score of one label id, e.g. from a Detection2D (id, class_id, score).

    `category` is a category name or a 1-based class index as text ('6' = 6th category).
    """

    category: str
    score: float = 1.0


@dataclass(frozen=True)
class SkippedLabel:
    """A label id that produced no instance, and why."""

    instance_id: int
    reason: str


@dataclass
class LabelImageResult:
    """Instances found in a label image, and the label ids that were skipped."""

    instances: List[Instance]
    skipped: List[SkippedLabel]


class LabelImageSegmenter:
    """Turn an external instance label image plus per-id labels into instances.

    Used when masks come from another node's topic or from ground truth in a bag. Label ids
    keep their values as instance ids, so they stay linked to the external detections.
    """

    def __init__(self, categories: Optional[Sequence[str]] = None, min_mask_pixels: int = 50,
                 background: int = 0, default_category: Optional[str] = None):
        check_min_mask_pixels(min_mask_pixels)
        self.categories = list(categories) if categories is not None else \
            list(category_names())
        if default_category is not None and default_category not in self.categories:
            raise ValueError('default_category %r is not one of %s'
                             % (default_category, self.categories))
        self.min_mask_pixels = int(min_mask_pixels)
        self.background = int(background)
        self.default_category = default_category

    def resolve_category(self, category: str) -> Optional[str]:
        """Map a category name or a 1-based class index (as text) to a name, None if unknown."""
        text = str(category).strip()
        if text in self.categories:
            return text
        if text.isdigit() and 1 <= int(text) <= len(self.categories):
            return self.categories[int(text) - 1]
        return None

    def convert(self, label_image: np.ndarray, labels: Mapping[int, InstanceLabel],
                shape: Optional[Tuple[int, int]] = None) -> LabelImageResult:
        """Split a label image into instances; ids without label, pixels or category are skipped.

        shape, when given, is the depth grid the label image must match.
        """
        label_image = self._check_label_image(label_image, shape)
        ids, areas = np.unique(label_image, return_counts=True)
        area_by_id = {int(i): int(a) for i, a in zip(ids, areas) if int(i) != self.background}
        instances: List[Instance] = []
        skipped: List[SkippedLabel] = []
        for instance_id in sorted(set(area_by_id) | {int(i) for i in labels}):
            outcome = self._instance(label_image, instance_id, area_by_id.get(instance_id, 0),
                                     labels.get(instance_id))
            if isinstance(outcome, Instance):
                instances.append(outcome)
            else:
                skipped.append(SkippedLabel(instance_id, outcome))
        instances.sort(key=lambda inst: -inst.score)
        return LabelImageResult(instances, skipped)

    def _instance(self, label_image: np.ndarray, instance_id: int, area: int,
                  label: Optional[InstanceLabel]) -> Union[Instance, str]:
        """Build one instance, or return the reason it is skipped."""
        if instance_id == self.background or not 1 <= instance_id <= MAX_LABEL_ID:
            return 'label id %d is not a valid instance id' % instance_id
        if label is None and self.default_category is None:
            return 'label id %d has no category (no matching detection)' % instance_id
        category = self.default_category if label is None else \
            self.resolve_category(label.category)
        if category is None:
            return 'label id %d has unknown category %r' % (instance_id, label.category)
        if area == 0:
            return 'label id %d has no pixels in the label image' % instance_id
        if area < self.min_mask_pixels:
            return 'label id %d has %d pixels, fewer than min_mask_pixels %d' \
                % (instance_id, area, self.min_mask_pixels)
        mask = label_image == instance_id
        score = 1.0 if label is None else float(label.score)
        return Instance(instance_id, category, mask, score, mask_box(mask))

    @staticmethod
    def _check_label_image(label_image: np.ndarray,
                           shape: Optional[Tuple[int, int]]) -> np.ndarray:
        label_image = np.asarray(label_image)
        if label_image.ndim == 3 and label_image.shape[2] == 1:
            label_image = label_image[:, :, 0]
        if label_image.ndim != 2 or not np.issubdtype(label_image.dtype, np.integer):
            raise ValueError('label image must be an HxW integer array, got shape %s dtype %s'
                             % (label_image.shape, label_image.dtype))
        if label_image.size and label_image.min() < 0:
            raise ValueError('label image has negative ids')
        if shape is not None and label_image.shape != tuple(shape[:2]):
            raise ValueError('label image shape %s does not match the depth image %s'
                             % (label_image.shape, tuple(shape[:2])))
        return label_image
