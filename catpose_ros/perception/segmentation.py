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

"""Instance segmentation backends: RGB (or RGB-D) images in, `Instance`s out.

- `TorchvisionMaskRCNNSegmenter`: torchvision's Mask R-CNN from a local weights file
  (perception/maskrcnn.py builds it and reads the file);
- `Detectron2Segmenter`: a detectron2 model, when detectron2 is installed;
- `make_segmenter` also builds the `LabelImageSegmenter` (perception/instances.py) that
  reads label images made elsewhere.
Instances come out with ids 1..N in descending score. Nothing here downloads weights: a
model without its weights file is an error.
"""

import os
from pathlib import Path
from typing import List, Optional, Protocol, Sequence, Union

import numpy as np
import torch

from catpose_ros.categories import category_names
from catpose_ros.perception.instances import (Box, check_min_mask_pixels, Instance,
                                              LabelImageSegmenter, MAX_LABEL_ID)
from catpose_ros.perception.maskrcnn import (build_maskrcnn, load_maskrcnn_file,
                                             SegmenterWeightsError)


class Segmenter(Protocol):
    """Anything that segments an RGB image (and optionally uses depth) into instances."""

    def segment(self, rgb: np.ndarray, depth: Optional[np.ndarray] = None) -> List[Instance]:
        """Segment an HxWx3 uint8 RGB image; ids are 1..N in descending score."""


class Detectron2NotInstalledError(ImportError):
    """Raised when the detectron2 backend is requested but detectron2 is not importable."""


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError('expected an HxWx3 uint8 RGB image, got shape %s dtype %s'
                         % (rgb.shape, rgb.dtype))
    return rgb


def _rounded_box(box: np.ndarray, height: int, width: int) -> Box:
    """Round a float (x1, y1, x2, y2) box outward to pixels and clip it to the image."""
    x1, y1 = np.floor(box[:2]).astype(int)
    x2, y2 = np.ceil(box[2:]).astype(int)
    return (int(np.clip(x1, 0, width)), int(np.clip(y1, 0, height)),
            int(np.clip(x2, 0, width)), int(np.clip(y2, 0, height)))


def _ranked_instances(masks: np.ndarray, scores: np.ndarray, categories: Sequence[str],
                      boxes: np.ndarray, score_threshold: float,
                      min_mask_pixels: int) -> List[Instance]:
    """Filter detections by score and mask area, then number them 1..N by descending score."""
    height, width = masks.shape[1:3]
    order = np.argsort(-scores, kind='stable')
    instances: List[Instance] = []
    for index in order:
        mask = masks[index]
        if scores[index] < score_threshold or int(mask.sum()) < min_mask_pixels:
            continue
        instances.append(Instance(
            instance_id=len(instances) + 1, category=categories[index], mask=mask,
            score=float(scores[index]), box=_rounded_box(boxes[index], height, width)))
    if len(instances) > MAX_LABEL_ID:
        raise ValueError('%d instances do not fit a mono16 label image' % len(instances))
    return instances


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError('%s must lie in [0, 1], got %r' % (name, value))


class TorchvisionMaskRCNNSegmenter:
    """torchvision Mask R-CNN loaded from a local weights file; RGB or RGB-D input.

    min_size/max_size default to the input size stored in the file. keep_categories, when
    not empty, drops detections of every other category. Integer depth images are scaled
    to metres by depth_scale (float depth is already in metres).
    """

    def __init__(self, weights_path: Union[str, os.PathLike],
                 categories: Optional[Sequence[str]] = None, device: str = 'cpu',
                 score_threshold: float = 0.5, mask_threshold: float = 0.5,
                 min_mask_pixels: int = 50, min_size: Optional[int] = None,
                 max_size: Optional[int] = None, max_detections: int = 100,
                 num_proposals: int = 1000, keep_categories: Sequence[str] = (),
                 depth_scale: float = 0.001):
        _check_fraction('score_threshold', score_threshold)
        _check_fraction('mask_threshold', mask_threshold)
        check_min_mask_pixels(min_mask_pixels)
        content = load_maskrcnn_file(weights_path)
        self.categories = self._resolve_categories(categories, content.categories,
                                                   weights_path)
        unknown = [c for c in keep_categories if c not in self.categories]
        if unknown:
            raise ValueError('keep_categories %s are not among the model categories %s'
                             % (unknown, self.categories))
        self.keep_categories = tuple(keep_categories)
        self.device = torch.device(device)
        self.score_threshold = float(score_threshold)
        self.mask_threshold = float(mask_threshold)
        self.min_mask_pixels = int(min_mask_pixels)
        self.in_channels = content.in_channels
        self.depth_scale = float(depth_scale)
        self.model = build_maskrcnn(
            len(self.categories), content.architecture, in_channels=content.in_channels,
            min_size=min_size or content.min_size, max_size=max_size or content.max_size,
            box_detections_per_img=max_detections, rpn_pre_nms_top_n_test=num_proposals,
            rpn_post_nms_top_n_test=num_proposals, box_score_thresh=self.score_threshold)
        try:
            self.model.load_state_dict(content.state_dict, strict=True)
        except RuntimeError as error:
            raise SegmenterWeightsError(
                'weights %s do not fit %s with %d categories (%s): %s'
                % (weights_path, content.architecture, len(self.categories),
                   ', '.join(self.categories), error)) from error
        self.model.to(self.device).eval()

    @property
    def uses_depth(self) -> bool:
        """Whether the model takes depth as a fourth input channel."""
        return self.in_channels == 4

    @staticmethod
    def _resolve_categories(requested: Optional[Sequence[str]],
                            stored: Optional[Sequence[str]], path) -> List[str]:
        if requested is not None and stored is not None and list(requested) != list(stored):
            raise SegmenterWeightsError('weights %s were trained for categories %s, not %s'
                                        % (path, list(stored), list(requested)))
        chosen = requested if requested is not None else stored
        return list(chosen) if chosen is not None else list(category_names())

    def segment(self, rgb: np.ndarray, depth: Optional[np.ndarray] = None) -> List[Instance]:
        """Detect and segment objects in an HxWx3 uint8 RGB image (+ depth for RGB-D models).

        Masks come back on the RGB grid.
        """
        from catpose_ros.data.segmentation import depth_in_metres, image_tensor

        rgb = _check_rgb(rgb)
        depth_m = None
        if self.uses_depth:
            if depth is None:
                raise ValueError('this Mask R-CNN takes RGB-D input; no depth image given')
            depth_m = depth_in_metres(depth, self.depth_scale)
        image = image_tensor(rgb, depth_m, self.in_channels).to(self.device)
        with torch.inference_mode():
            output = self.model([image])[0]
        labels = output['labels'].cpu().numpy()
        categories = [self.categories[int(label) - 1] for label in labels]
        keep = np.array([not self.keep_categories or c in self.keep_categories
                         for c in categories], dtype=bool)
        return _ranked_instances(
            masks=(output['masks'][:, 0] >= self.mask_threshold).cpu().numpy()[keep],
            scores=output['scores'].cpu().numpy()[keep],
            categories=[c for c, k in zip(categories, keep) if k],
            boxes=output['boxes'].cpu().numpy()[keep],
            score_threshold=self.score_threshold, min_mask_pixels=self.min_mask_pixels)


# ---------------------------------------------------------------------------------------
# detectron2 (optional)
# ---------------------------------------------------------------------------------------

DETECTRON2_INSTALL_HINT = (
    'the detectron2 segmentation backend needs detectron2, which has no PyPI release; '
    "install it with `pip install 'git+https://github.com/facebookresearch/detectron2.git'` "
    '(see https://detectron2.readthedocs.io/en/latest/tutorials/install.html), '
    "or use the 'maskrcnn' backend (torchvision)")


def _import_detectron2():
    try:
        from detectron2.config import get_cfg
        from detectron2.engine import DefaultPredictor
    except ImportError as error:
        raise Detectron2NotInstalledError(DETECTRON2_INSTALL_HINT) from error
    return get_cfg, DefaultPredictor


class Detectron2Segmenter:
    """A detectron2 instance-segmentation model from a config file and a weights file.

    detectron2's class indices are 0-based: class i is categories[i].
    """

    def __init__(self, config_path: Union[str, os.PathLike],
                 weights_path: Union[str, os.PathLike],
                 categories: Optional[Sequence[str]] = None, device: str = 'cpu',
                 score_threshold: float = 0.5, min_mask_pixels: int = 50):
        _check_fraction('score_threshold', score_threshold)
        check_min_mask_pixels(min_mask_pixels)
        get_cfg, default_predictor = _import_detectron2()
        for path in (config_path, weights_path):
            if not Path(path).is_file():
                raise FileNotFoundError('detectron2 file %s does not exist' % path)
        self.categories = list(categories) if categories is not None else \
            list(category_names())
        self.score_threshold = float(score_threshold)
        self.min_mask_pixels = int(min_mask_pixels)
        cfg = get_cfg()
        cfg.merge_from_file(str(config_path))
        cfg.MODEL.WEIGHTS = str(weights_path)
        cfg.MODEL.DEVICE = str(device)
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = self.score_threshold
        if cfg.MODEL.ROI_HEADS.NUM_CLASSES != len(self.categories):
            raise SegmenterWeightsError(
                'detectron2 config %s has %d classes, categories are %s'
                % (config_path, cfg.MODEL.ROI_HEADS.NUM_CLASSES, self.categories))
        self.predictor = default_predictor(cfg)

    def segment(self, rgb: np.ndarray, depth: Optional[np.ndarray] = None) -> List[Instance]:
        """Detect and segment objects in an HxWx3 uint8 RGB image."""
        rgb = _check_rgb(rgb)
        # DefaultPredictor takes BGR and converts itself when the model wants RGB.
        with torch.inference_mode():
            result = self.predictor(np.ascontiguousarray(rgb[:, :, ::-1]))['instances']
        result = result.to('cpu')
        classes = result.pred_classes.numpy()
        return _ranked_instances(
            masks=result.pred_masks.numpy().astype(bool), scores=result.scores.numpy(),
            categories=[self.categories[int(c)] for c in classes],
            boxes=result.pred_boxes.tensor.numpy(), score_threshold=self.score_threshold,
            min_mask_pixels=self.min_mask_pixels)


SEGMENTER_BACKENDS = ('maskrcnn', 'detectron2', 'label_image')


def make_segmenter(backend: str, **params) -> Union[TorchvisionMaskRCNNSegmenter,
                                                    Detectron2Segmenter, LabelImageSegmenter]:
    """Build a segmentation backend by name: 'maskrcnn', 'detectron2' or 'label_image'.

    The 'label_image' backend converts external label images (`convert`) instead of
    segmenting RGB.
    """
    backends = {'maskrcnn': TorchvisionMaskRCNNSegmenter, 'detectron2': Detectron2Segmenter,
                'label_image': LabelImageSegmenter}
    if backend not in backends:
        raise ValueError('unknown segmentation backend %r; known: %s'
                         % (backend, ', '.join(SEGMENTER_BACKENDS)))
    return backends[backend](**params)
