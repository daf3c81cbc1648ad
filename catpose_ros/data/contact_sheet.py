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

"""One image that shows what the data engine makes: RGB, depth, instance masks and NOCS maps."""

from typing import Sequence

import cv2
import numpy as np

from catpose_ros.data.frame import Frame

COLUMNS = ('RGB', 'depth', 'instances', 'NOCS map')
_HEADER_PX = 22


def depth_image(depth: np.ndarray) -> np.ndarray:
    """Colour-map metric depth between its 2nd and 98th percentile; missing depth is black."""
    valid = depth > 0
    if not valid.any():
        return np.zeros(depth.shape + (3,), np.uint8)
    lo, hi = np.percentile(depth[valid], [2, 98])
    scaled = np.clip((depth - lo) / max(hi - lo, 1e-6), 0, 1)
    image = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    image[~valid] = 0
    return image


def mask_image(mask: np.ndarray) -> np.ndarray:
    """Give every instance id a distinct colour; background is black."""
    palette = np.random.default_rng(7).integers(60, 256, (256, 3)).astype(np.uint8)
    palette[0] = 0
    return palette[mask.astype(np.int64) % 256]


def nocs_image(coord: np.ndarray) -> np.ndarray:
    """Show NOCS coordinates (x, y, z) in [0, 1] as RGB."""
    return (np.clip(coord, 0, 1) * 255 + 0.5).astype(np.uint8)


def _tile(image: np.ndarray, width: int) -> np.ndarray:
    height = int(round(image.shape[0] * width / image.shape[1]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _header(width: int, tile_width: int) -> np.ndarray:
    bar = np.full((_HEADER_PX, width, 3), 30, np.uint8)
    for k, name in enumerate(COLUMNS):
        cv2.putText(bar, name, (k * tile_width + 6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (235, 235, 235), 1, cv2.LINE_AA)
    return bar


def contact_sheet(frames: Sequence[Frame], tile_width: int = 320) -> np.ndarray:
    """Lay frames out as rows of RGB | depth | instances | NOCS map (an RGB uint8 image)."""
    if not frames:
        raise ValueError('a contact sheet needs at least one frame')
    rows = []
    for frame in frames:
        coord = frame.coord if frame.coord is not None else np.zeros(frame.depth.shape + (3,))
        tiles = [frame.color, depth_image(frame.depth), mask_image(frame.mask), nocs_image(coord)]
        rows.append(np.concatenate([_tile(t, tile_width) for t in tiles], 1))
    body = np.concatenate(rows, 0)
    return np.concatenate([_header(body.shape[1], tile_width), body], 0)
