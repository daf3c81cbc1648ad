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

"""Instance-segmentation samples: rendered frames shrunk to the detector's input size.

A sample is an RGB image, a depth image (uint16 millimetres) and an instance label image
(0 = background) with the category index (1-based, `category_names()` order) of each label.
Samples are rendered once by the data engine and stored in one `.npz`, so training never
renders. The segmenter sees depth as a fourth channel, `depth_channel(depth_m)`.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from catpose_ros.categories import category_names
from catpose_ros.data.frame import Frame

DEPTH_RANGE_M = 4.0
MIN_INSTANCE_PIXELS = 20


def depth_channel(depth_m: np.ndarray) -> np.ndarray:
    """Map metric depth to [0, 1] (0 = invalid or beyond DEPTH_RANGE_M) as float32."""
    depth = np.nan_to_num(np.asarray(depth_m, dtype=np.float32), nan=0.0, posinf=0.0)
    depth = np.where((depth > 0) & (depth <= DEPTH_RANGE_M), depth, 0.0)
    return (depth / DEPTH_RANGE_M).astype(np.float32)


def depth_in_metres(depth: np.ndarray, scale: float = 0.001) -> np.ndarray:
    """Return depth in metres: integer images (16UC1) are scaled, float images kept."""
    depth = np.asarray(depth)
    if np.issubdtype(depth.dtype, np.integer):
        return depth.astype(np.float32) * float(scale)
    return depth.astype(np.float32)


def image_tensor(rgb: np.ndarray, depth_m: Union[np.ndarray, None],
                 in_channels: int) -> torch.Tensor:
    """Stack RGB (and depth) into the CxHxW float tensor in [0, 1] the detector takes."""
    image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0
    if in_channels == 3:
        return image
    if depth_m is None:
        raise ValueError('this segmenter uses depth (4 input channels) but got none')
    depth = depth_channel(depth_m)
    if depth.shape != rgb.shape[:2]:
        depth = cv2.resize(depth, (rgb.shape[1], rgb.shape[0]),
                           interpolation=cv2.INTER_NEAREST)
    return torch.cat([image, torch.from_numpy(depth)[None]], dim=0)


@dataclass
class SegmentationSamples:
    """Stacked samples: rgb (N,H,W,3) uint8, depth_mm (N,H,W) uint16, labels (N,H,W) uint8.

    `categories[n]` maps label value -> 1-based category index for sample n (0 = unused).
    """

    rgb: np.ndarray
    depth_mm: np.ndarray
    labels: np.ndarray
    categories: np.ndarray

    def __len__(self) -> int:
        return int(self.rgb.shape[0])

    def save(self, path: Union[str, Path]) -> Path:
        """Write all arrays into one compressed .npz."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, rgb=self.rgb, depth_mm=self.depth_mm, labels=self.labels,
                            categories=self.categories)
        return path

    @classmethod
    def load(cls, path: Union[str, Path]) -> 'SegmentationSamples':
        """Read samples written by `save`."""
        with np.load(Path(path)) as data:
            return cls(data['rgb'], data['depth_mm'], data['labels'], data['categories'])

    @classmethod
    def concatenate(cls, parts: Sequence['SegmentationSamples']) -> 'SegmentationSamples':
        """Join sample sets of the same image size."""
        if not parts:
            raise ValueError('no samples to concatenate')
        width = max(p.categories.shape[1] for p in parts)
        categories = [np.pad(p.categories, ((0, 0), (0, width - p.categories.shape[1])))
                      for p in parts]
        return cls(np.concatenate([p.rgb for p in parts]),
                   np.concatenate([p.depth_mm for p in parts]),
                   np.concatenate([p.labels for p in parts]), np.concatenate(categories))


def frame_sample(frame: Frame, size: Tuple[int, int],
                 categories: Sequence[str] = ()) -> Tuple[np.ndarray, ...]:
    """Shrink one frame to size (width, height): (rgb, depth_mm, labels, label->category).

    Labels are renumbered 1..K over the objects of the known categories that keep at least
    MIN_INSTANCE_PIXELS pixels; distractors and tiny remnants become background.
    """
    names = list(categories) or list(category_names())
    width, height = size
    rgb = cv2.resize(frame.color, (width, height), interpolation=cv2.INTER_AREA)
    depth = cv2.resize(np.nan_to_num(frame.depth.astype(np.float32)), (width, height),
                       interpolation=cv2.INTER_NEAREST)
    depth_mm = np.clip(np.round(depth * 1000.0), 0, np.iinfo(np.uint16).max).astype(np.uint16)
    source = cv2.resize(frame.mask.astype(np.uint8), (width, height),
                        interpolation=cv2.INTER_NEAREST)
    labels = np.zeros((height, width), dtype=np.uint8)
    label_categories = [0]
    for obj in frame.objects:
        pixels = source == obj.instance_id
        if obj.category not in names or int(pixels.sum()) < MIN_INSTANCE_PIXELS:
            continue
        label_categories.append(names.index(obj.category) + 1)
        labels[pixels] = len(label_categories) - 1
    return rgb, depth_mm, labels, np.asarray(label_categories, dtype=np.uint8)


def samples_from_frames(frames: Iterable[Frame], size: Tuple[int, int],
                        categories: Sequence[str] = ()) -> SegmentationSamples:
    """Stack frame_sample over frames; the category table is padded to the most objects."""
    rows = [frame_sample(frame, size, categories) for frame in frames]
    if not rows:
        raise ValueError('no frames to build segmentation samples from')
    width = max(len(row[3]) for row in rows)
    table = np.zeros((len(rows), width), dtype=np.uint8)
    for index, row in enumerate(rows):
        table[index, :len(row[3])] = row[3]
    return SegmentationSamples(np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]),
                               np.stack([r[2] for r in rows]), table)


def sample_target(labels: np.ndarray, categories: np.ndarray) -> Dict[str, torch.Tensor]:
    """Build torchvision's detection target (boxes, labels, masks) from a label image."""
    ids = [int(i) for i in np.unique(labels) if i != 0 and categories[i] != 0]
    masks = np.stack([labels == i for i in ids]) if ids else \
        np.zeros((0,) + labels.shape, dtype=bool)
    boxes = np.zeros((len(ids), 4), dtype=np.float32)
    for k, mask in enumerate(masks):
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        boxes[k] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return {'boxes': torch.from_numpy(boxes),
            'labels': torch.as_tensor([int(categories[i]) for i in ids], dtype=torch.int64),
            'masks': torch.from_numpy(masks.astype(np.uint8))}


class SegmentationDataset:
    """Samples as (image tensor, target) pairs, optionally augmented with a given generator.

    Augmentation draws only from the generator passed in, so a training run that derives
    it from (seed, step) is reproducible and resumable.
    """

    def __init__(self, samples: SegmentationSamples, in_channels: int = 3):
        if in_channels not in (3, 4):
            raise ValueError('in_channels must be 3 (RGB) or 4 (RGB-D), got %r' % in_channels)
        self.samples = samples
        self.in_channels = in_channels

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        return self.item(index)

    def item(self, index: int, rng: Union[np.random.Generator, None] = None
             ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Return sample index as (image, target), augmented when rng is given."""
        s = self.samples
        rgb, depth_mm, labels = s.rgb[index], s.depth_mm[index], s.labels[index]
        if rng is not None:
            rgb, depth_mm, labels = augmented(rgb, depth_mm, labels, rng)
        image = image_tensor(rgb, depth_in_metres(depth_mm), self.in_channels)
        return image, sample_target(labels, s.categories[index])


def augmented(rgb: np.ndarray, depth_mm: np.ndarray, labels: np.ndarray,
              rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal flip and per-image colour gain/offset (what another camera would change)."""
    if rng.random() < 0.5:
        rgb, depth_mm, labels = rgb[:, ::-1], depth_mm[:, ::-1], labels[:, ::-1]
    gain = rng.uniform(0.7, 1.3, size=3)
    offset = rng.uniform(-20.0, 20.0)
    rgb = np.clip(rgb.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb), np.ascontiguousarray(depth_mm), \
        np.ascontiguousarray(labels)


def iterate_frames(frame_lists: Iterable[Iterable[Frame]]) -> Iterator[Frame]:
    """Flatten per-scene frame iterables."""
    for frames in frame_lists:
        yield from frames
