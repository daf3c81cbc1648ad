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

"""Small line and bar charts drawn with OpenCV (already a dependency; no plotting library)."""

from pathlib import Path
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

WIDTH, HEIGHT = 720, 440
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 150, 40, 60
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127))
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _canvas(title: str, x_label: str, y_label: str) -> np.ndarray:
    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    cv2.putText(image, title, (MARGIN_LEFT, 25), FONT, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, x_label, (MARGIN_LEFT + 150, HEIGHT - 15), FONT, 0.5, (0, 0, 0), 1,
                cv2.LINE_AA)
    cv2.putText(image, y_label, (5, MARGIN_TOP - 8), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def _mapper(x_range: Tuple[float, float], y_range: Tuple[float, float]):
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def to_pixel(x: float, y: float) -> Tuple[int, int]:
        u = (x - x_range[0]) / (x_range[1] - x_range[0])
        v = (y - y_range[0]) / (y_range[1] - y_range[0])
        return (int(round(MARGIN_LEFT + u * plot_w)),
                int(round(HEIGHT - MARGIN_BOTTOM - v * plot_h)))
    return to_pixel


def _axes(image: np.ndarray, to_pixel, x_range, y_range, ticks: int = 5) -> None:
    origin, x_end, y_end = (to_pixel(x_range[0], y_range[0]), to_pixel(x_range[1], y_range[0]),
                            to_pixel(x_range[0], y_range[1]))
    cv2.line(image, origin, x_end, (0, 0, 0), 1)
    cv2.line(image, origin, y_end, (0, 0, 0), 1)
    for k in range(ticks + 1):
        x = x_range[0] + k * (x_range[1] - x_range[0]) / ticks
        y = y_range[0] + k * (y_range[1] - y_range[0]) / ticks
        px, py = to_pixel(x, y_range[0]), to_pixel(x_range[0], y)
        cv2.line(image, px, (px[0], px[1] + 4), (0, 0, 0), 1)
        cv2.putText(image, '%g' % round(x, 2), (px[0] - 10, px[1] + 20), FONT, 0.4, (0, 0, 0),
                    1, cv2.LINE_AA)
        cv2.line(image, (py[0] - 4, py[1]), py, (0, 0, 0), 1)
        cv2.line(image, (py[0] + 1, py[1]), (to_pixel(x_range[1], y)[0], py[1]), (230, 230, 230),
                 1)
        cv2.putText(image, '%g' % round(y, 2), (py[0] - 45, py[1] + 4), FONT, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)


def _legend(image: np.ndarray, names: Sequence[str]) -> None:
    for k, name in enumerate(names):
        y = MARGIN_TOP + 10 + 20 * k
        color = PALETTE[k % len(PALETTE)][::-1]
        cv2.line(image, (WIDTH - MARGIN_RIGHT + 10, y), (WIDTH - MARGIN_RIGHT + 35, y), color, 2)
        cv2.putText(image, name, (WIDTH - MARGIN_RIGHT + 40, y + 4), FONT, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)


def _save(path: Path, image: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError('cannot write %s' % path)
    return path


def line_plot(path: Path, curves: Dict[str, Tuple[np.ndarray, np.ndarray]], title: str,
              x_label: str, y_label: str, y_range: Tuple[float, float] = (0.0, 100.0)) -> Path:
    """Draw named (x, y) curves sharing one x range into a PNG."""
    xs = np.concatenate([np.asarray(x, dtype=float) for x, _ in curves.values()]) \
        if curves else np.array([0.0, 1.0])
    x_range = (float(xs.min()), float(xs.max()) if xs.max() > xs.min() else float(xs.min()) + 1)
    image = _canvas(title, x_label, y_label)
    to_pixel = _mapper(x_range, y_range)
    _axes(image, to_pixel, x_range, y_range)
    for k, (x, y) in enumerate(curves.values()):
        points = np.array([to_pixel(a, b) for a, b in zip(x, y) if np.isfinite(b)], np.int32)
        if len(points) > 1:
            cv2.polylines(image, [points], False, PALETTE[k % len(PALETTE)][::-1], 2,
                          cv2.LINE_AA)
    _legend(image, list(curves))
    return _save(path, image)


def histogram_plot(path: Path, values: np.ndarray, edges: np.ndarray, title: str,
                   x_label: str) -> Path:
    """Draw a histogram (percent of values per bin; values past the last edge go in it)."""
    values = np.asarray(values, dtype=float)
    clipped = np.clip(values[~np.isnan(values)], edges[0], edges[-1])
    counts, _ = np.histogram(clipped, bins=edges)
    share = 100.0 * counts / max(len(values), 1)
    top = max(10.0, float(np.ceil(share.max() / 10.0) * 10.0)) if share.size else 10.0
    image = _canvas(title, x_label, '% of objects')
    to_pixel = _mapper((float(edges[0]), float(edges[-1])), (0.0, top))
    _axes(image, to_pixel, (float(edges[0]), float(edges[-1])), (0.0, top))
    for left, right, height in zip(edges[:-1], edges[1:], share):
        cv2.rectangle(image, to_pixel(left, 0.0), to_pixel(right, height), PALETTE[0][::-1], -1)
        cv2.rectangle(image, to_pixel(left, 0.0), to_pixel(right, height), (0, 0, 0), 1)
    return _save(path, image)
