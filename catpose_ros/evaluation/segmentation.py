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

"""COCO-style box and mask AP of an instance segmenter, computed by pycocotools.

Ground truth and predictions are turned into COCO records (run-length-encoded masks) and
scored by pycocotools' COCOeval: AP50:95 (mean over IoU 0.50:0.05:0.95), AP50, and both per
category. Detections of every score count (COCO ranks them), so evaluate a segmenter built
with a low score threshold.
"""

from dataclasses import dataclass, field
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from catpose_ros.data.segmentation import depth_in_metres, SegmentationSamples
from catpose_ros.perception.instances import Instance

IOU_TYPES = ('segm', 'bbox')


@dataclass
class APResult:
    """AP50:95 and AP50 overall and per category for one IoU type (mask or box)."""

    ap: float
    ap50: float
    per_category: Dict[str, Dict[str, float]] = field(default_factory=dict)


@dataclass
class SegmentationReport:
    """Mask and box AP of one evaluation, with the frame count and time per frame."""

    mask: APResult
    box: APResult
    frames: int
    instances: int
    seconds_per_frame: float

    def as_dict(self) -> Dict:
        """Return the figures as a JSON-ready dict."""
        return {'frames': self.frames, 'instances': self.instances,
                'seconds_per_frame': self.seconds_per_frame,
                'mask': vars(self.mask), 'box': vars(self.box)}

    def table(self) -> str:
        """Per-category text table: mask AP50, mask AP50:95, box AP50, box AP50:95."""
        header = ('category', 'mask AP50', 'mask AP50:95', 'box AP50', 'box AP50:95')
        lines = ['%-8s %9s %12s %9s %12s' % header]
        for name in self.mask.per_category:
            m, b = self.mask.per_category[name], self.box.per_category[name]
            lines.append('%-8s %9.3f %12.3f %9.3f %12.3f'
                         % (name, m['ap50'], m['ap'], b['ap50'], b['ap']))
        lines.append('%-8s %9.3f %12.3f %9.3f %12.3f'
                     % ('all', self.mask.ap50, self.mask.ap, self.box.ap50, self.box.ap))
        return '\n'.join(lines)


def _rle(mask: np.ndarray) -> Dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _xywh(mask: np.ndarray) -> List[float]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return [float(cols[0]), float(rows[0]), float(cols[-1] + 1 - cols[0]),
            float(rows[-1] + 1 - rows[0])]


def ground_truth_records(samples: SegmentationSamples, categories: Sequence[str]) -> Dict:
    """COCO ground-truth dict (images, annotations, categories) of a sample set."""
    images, annotations = [], []
    height, width = samples.labels.shape[1:3]
    for index in range(len(samples)):
        images.append({'id': index + 1, 'height': int(height), 'width': int(width)})
        labels = samples.labels[index]
        for label in np.unique(labels):
            category = int(samples.categories[index][label]) if label else 0
            if category == 0:
                continue
            mask = labels == label
            annotations.append({'id': len(annotations) + 1, 'image_id': index + 1,
                                'category_id': category, 'segmentation': _rle(mask),
                                'area': float(mask.sum()), 'bbox': _xywh(mask),
                                'iscrowd': 0})
    return {'images': images, 'annotations': annotations,
            'categories': [{'id': k + 1, 'name': name} for k, name in enumerate(categories)]}


def detection_records(instances: Sequence[Instance], image_id: int,
                      categories: Sequence[str]) -> List[Dict]:
    """COCO result records of one image's instances (box = the instance's box)."""
    records = []
    for instance in instances:
        if not instance.mask.any():
            continue
        x1, y1, x2, y2 = instance.box
        records.append({'image_id': image_id,
                        'category_id': list(categories).index(instance.category) + 1,
                        'segmentation': _rle(instance.mask),
                        'bbox': [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                        'score': float(instance.score)})
    return records


def coco_ap(ground_truth: Dict, detections: List[Dict], iou_type: str,
            categories: Sequence[str]) -> APResult:
    """Run COCOeval for one IoU type ('segm' or 'bbox'); categories without GT get NaN."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if iou_type not in IOU_TYPES:
        raise ValueError('iou_type must be one of %s, got %r' % (IOU_TYPES, iou_type))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = ground_truth
        gt.createIndex()
        dt = gt.loadRes(detections) if detections else COCO()
        evaluator = COCOeval(gt, dt, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    # precision: [IoU threshold, recall, category, area range, max dets]; -1 = no GT.
    precision = evaluator.eval['precision'][:, :, :, 0, -1]
    per_category = {}
    for k, name in enumerate(categories):
        per_category[name] = {'ap': _mean_valid(precision[:, :, k]),
                              'ap50': _mean_valid(precision[0, :, k])}
    return APResult(ap=float(evaluator.stats[0]), ap50=float(evaluator.stats[1]),
                    per_category=per_category)


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else float('nan')


def evaluate_segmenter(segmenter, samples: SegmentationSamples,
                       categories: Optional[Sequence[str]] = None,
                       limit: int = 0, progress: bool = False) -> SegmentationReport:
    """Segment every sample (RGB + depth in metres) and score masks and boxes with COCO AP.

    progress shows a bar over the frames (the command line; training validation has its own).
    """
    from tqdm import tqdm

    names = list(categories or segmenter.categories)
    if limit:
        samples = SegmentationSamples(samples.rgb[:limit], samples.depth_mm[:limit],
                                      samples.labels[:limit], samples.categories[:limit])
    ground_truth = ground_truth_records(samples, names)
    if not ground_truth['annotations']:
        raise ValueError('the evaluation samples hold no instances')
    detections: List[Dict] = []
    started = time.perf_counter()
    for index in tqdm(range(len(samples)), desc='eval-segmentation', unit='frame',
                      disable=not progress):
        instances = segmenter.segment(np.ascontiguousarray(samples.rgb[index]),
                                      depth_in_metres(samples.depth_mm[index]))
        detections += detection_records(instances, index + 1, names)
    elapsed = (time.perf_counter() - started) / len(samples)
    if not detections:
        empty = APResult(0.0, 0.0, {n: {'ap': 0.0, 'ap50': 0.0} for n in names})
        return SegmentationReport(empty, empty, len(samples),
                                  len(ground_truth['annotations']), elapsed)
    return SegmentationReport(coco_ap(ground_truth, detections, 'segm', names),
                              coco_ap(ground_truth, detections, 'bbox', names),
                              len(samples), len(ground_truth['annotations']), elapsed)


def match_to_ground_truth(instances: Sequence[Instance], label_image: np.ndarray,
                          min_iou: float = 0.5) -> Dict[int, int]:
    """Pair predicted instances with ground-truth label ids by mask IoU (one-to-one).

    Returns {instance_id: ground-truth label id} for pairs with IoU >= min_iou; the pairing
    maximises the summed IoU (Hungarian assignment).
    """
    from scipy.optimize import linear_sum_assignment

    truth_ids = [int(i) for i in np.unique(label_image) if i != 0]
    if not instances or not truth_ids:
        return {}
    truth = np.stack([label_image == i for i in truth_ids]).reshape(len(truth_ids), -1)
    predicted = np.stack([inst.mask for inst in instances]).reshape(len(instances), -1)
    intersection = predicted.astype(np.float32) @ truth.T.astype(np.float32)
    union = predicted.sum(1)[:, None] + truth.sum(1)[None, :] - intersection
    iou = intersection / np.maximum(union, 1.0)
    rows, cols = linear_sum_assignment(-iou)
    return {instances[r].instance_id: truth_ids[c] for r, c in zip(rows, cols)
            if iou[r, c] >= min_iou}
