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

"""Object categories and their symmetries: the one table every module agrees on.

The six NOCS categories keep NOCS's 1-based class ids (0 is background). The object frame
is NOCS's canonical frame: y is up and is the symmetry axis of bottle, bowl and can; a mug
is symmetric about y only when its handle is not visible.
"""

from dataclasses import dataclass
from typing import Dict, Tuple
import zlib


@dataclass(frozen=True)
class Category:
    """One object category, its NOCS class id and its rotational symmetry."""

    name: str
    class_id: int
    symmetric_about_y: bool
    symmetric_unless_handle_visible: bool = False

    def is_symmetric(self, handle_visible: bool = True) -> bool:
        """Whether rotations about the object y axis are indistinguishable for this view."""
        if self.symmetric_unless_handle_visible:
            return not handle_visible
        return self.symmetric_about_y


NOCS_CATEGORIES: Tuple[Category, ...] = (
    Category('bottle', 1, symmetric_about_y=True),
    Category('bowl', 2, symmetric_about_y=True),
    Category('camera', 3, symmetric_about_y=False),
    Category('can', 4, symmetric_about_y=True),
    Category('laptop', 5, symmetric_about_y=False),
    Category('mug', 6, symmetric_about_y=False, symmetric_unless_handle_visible=True),
)

_BY_NAME: Dict[str, Category] = {c.name: c for c in NOCS_CATEGORIES}
_BY_ID: Dict[int, Category] = {c.class_id: c for c in NOCS_CATEGORIES}


class UnknownCategoryError(KeyError):
    """Raised for a category name or id that is not in the category table."""


def category_by_name(name: str) -> Category:
    """Look a category up by name, with an error that lists the known names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownCategoryError(
            'unknown category %r; known: %s' % (name, ', '.join(_BY_NAME))) from None


def category_by_id(class_id: int) -> Category:
    """Look a category up by its 1-based NOCS class id."""
    try:
        return _BY_ID[int(class_id)]
    except KeyError:
        raise UnknownCategoryError(
            'unknown class id %r; known: %s' % (class_id, sorted(_BY_ID))) from None


def category_names() -> Tuple[str, ...]:
    """Category names in class-id order."""
    return tuple(c.name for c in NOCS_CATEGORIES)


_PALETTE = (
    (0.90, 0.30, 0.24), (0.20, 0.60, 0.86), (0.18, 0.80, 0.44), (0.95, 0.77, 0.06),
    (0.61, 0.35, 0.71), (0.90, 0.49, 0.13), (0.10, 0.74, 0.61), (0.93, 0.44, 0.63),
)


def category_color(category: str) -> Tuple[float, float, float]:
    """Return a fixed RGB colour per category (NOCS class id order, else a name hash)."""
    try:
        index = category_by_name(category).class_id - 1
    except UnknownCategoryError:
        index = zlib.crc32(category.encode('utf-8'))
    return _PALETTE[index % len(_PALETTE)]
