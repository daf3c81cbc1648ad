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

"""Instance segmentation: the `Instance` type every stage passes around, and its backends.

Backends turn an RGB image into `Instance`s with ids 1..N in descending score:
- `TorchvisionMaskRCNNSegmenter`: torchvision's Mask R-CNN from a local weights file;
- `Detectron2Segmenter`: a detectron2 model, when detectron2 is installed;
- `LabelImageSegmenter`: an instance label image made elsewhere (another node, a bag with
  ground-truth masks) plus per-id categories and scores.
Nothing here downloads weights: a model without its weights file is an error.
"""

from dataclasses import dataclass
import os
from pathlib import Path
import pickle
from typing import Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, Union
import zipfile

import numpy as np
import torch

from catpose_ros.categories import category_names

Box = Tuple[int, int, int, int]

WEIGHTS_FORMAT = 'catpose_maskrcnn'
WEIGHTS_VERSION = 2
SLIM_ARCHITECTURE = 'maskrcnn_resnet18_fpn_slim'
MASKRCNN_ARCHITECTURES = ('maskrcnn_resnet50_fpn', 'maskrcnn_resnet50_fpn_v2', SLIM_ARCHITECTURE)
# The fourth (depth) channel is depth_channel(depth_m) in [0, 1]; these centre it.
DEPTH_CHANNEL_MEAN = 0.25
DEPTH_CHANNEL_STD = 0.15
RGB_MEAN = (0.485, 0.456, 0.406)
RGB_STD = (0.229, 0.224, 0.225)
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


class Segmenter(Protocol):
    """Anything that segments an RGB image (and optionally uses depth) into instances."""

    def segment(self, rgb: np.ndarray, depth: Optional[np.ndarray] = None) -> List[Instance]:
        """Segment an HxWx3 uint8 RGB image; ids are 1..N in descending score."""


class SegmenterWeightsError(RuntimeError):
    """Raised when a segmentation weights file is unreadable or does not fit the model."""


class Detectron2NotInstalledError(ImportError):
    """Raised when the detectron2 backend is requested but detectron2 is not importable."""


# ---------------------------------------------------------------------------------------
# Helpers shared by the backends and the segmentation node
# ---------------------------------------------------------------------------------------

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


def _check_min_mask_pixels(min_mask_pixels: int) -> None:
    if min_mask_pixels < 1:
        raise ValueError('min_mask_pixels must be >= 1, got %r' % (min_mask_pixels,))


# ---------------------------------------------------------------------------------------
# torchvision Mask R-CNN
# ---------------------------------------------------------------------------------------

def build_maskrcnn(num_categories: int, architecture: str = 'maskrcnn_resnet50_fpn',
                   in_channels: int = 3, **detector_kwargs) -> torch.nn.Module:
    """Build an untrained torchvision Mask R-CNN for num_categories (+ background).

    Nothing is pretrained (no weights exist offline), so building never downloads anything.
    in_channels 4 adds a depth channel (first convolution and normalisation widened).
    detector_kwargs go to torchvision's MaskRCNN (e.g. min_size, max_size,
    box_detections_per_img).
    """
    from torchvision.models import detection
    if architecture not in MASKRCNN_ARCHITECTURES:
        raise ValueError('unknown Mask R-CNN architecture %r; known: %s'
                         % (architecture, ', '.join(MASKRCNN_ARCHITECTURES)))
    if num_categories < 1:
        raise ValueError('num_categories must be >= 1, got %r' % (num_categories,))
    if in_channels not in (3, 4):
        raise ValueError('in_channels must be 3 (RGB) or 4 (RGB-D), got %r' % (in_channels,))
    if in_channels == 4:
        detector_kwargs.setdefault('image_mean', list(RGB_MEAN) + [DEPTH_CHANNEL_MEAN])
        detector_kwargs.setdefault('image_std', list(RGB_STD) + [DEPTH_CHANNEL_STD])
    if architecture == SLIM_ARCHITECTURE:
        model = _slim_maskrcnn(num_categories, **detector_kwargs)
    else:
        builder = getattr(detection, architecture)
        model = builder(weights=None, weights_backbone=None, num_classes=num_categories + 1,
                        **detector_kwargs)
    if in_channels == 4:
        _widen_first_conv(model, in_channels)
    return model


def _widen_first_conv(model: torch.nn.Module, in_channels: int) -> None:
    """Replace the trunk's first convolution by one that takes in_channels inputs."""
    body = model.backbone.body
    old = body.conv1
    body.conv1 = torch.nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride,
                                 old.padding, bias=old.bias is not None)


def _slim_maskrcnn(num_categories: int, **detector_kwargs) -> torch.nn.Module:
    """ResNet-18 up to stride 16 + 128-channel FPN + slim heads: small enough to ship in git.

    Trained from scratch, so every normalisation is a trainable BatchNorm (torchvision's
    frozen BatchNorm only makes sense for pretrained trunks).
    """
    from torchvision.models import resnet18
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.faster_rcnn import TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.models.detection.rpn import RPNHead
    from torchvision.ops import MultiScaleRoIAlign

    channels = 128
    norm = torch.nn.BatchNorm2d
    trunk = resnet18(weights=None, norm_layer=norm)
    backbone = BackboneWithFPN(trunk, {'layer1': '0', 'layer2': '1', 'layer3': '2'},
                               [64, 128, 256], channels)
    anchors = AnchorGenerator(((16,), (32,), (64,), (128,)), ((0.5, 1.0, 2.0),) * 4)
    levels = ['0', '1', '2']
    return MaskRCNN(
        backbone, rpn_anchor_generator=anchors,
        rpn_head=RPNHead(channels, 3),
        box_roi_pool=MultiScaleRoIAlign(levels, 7, 2),
        box_head=TwoMLPHead(channels * 7 * 7, 256),
        box_predictor=_box_predictor(256, num_categories + 1),
        mask_roi_pool=MultiScaleRoIAlign(levels, 14, 2),
        mask_head=MaskRCNNHeads(channels, [channels] * 2, 1, norm_layer=norm),
        mask_predictor=MaskRCNNPredictor(channels, channels, num_categories + 1),
        **detector_kwargs)


def _box_predictor(representation: int, num_classes: int) -> torch.nn.Module:
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

    return FastRCNNPredictor(representation, num_classes)


@dataclass
class MaskRCNNFile:
    """What a weights file holds: parameters plus everything needed to rebuild the model.

    min_size/max_size are the input size the model was trained at (torchvision resizes every
    image so its short side is min_size, long side at most max_size).
    """

    state_dict: Dict[str, torch.Tensor]
    categories: Optional[List[str]]
    architecture: str
    in_channels: int = 3
    min_size: int = 800
    max_size: int = 1333


def save_maskrcnn_weights(model: torch.nn.Module, path: Union[str, os.PathLike],
                          categories: Sequence[str],
                          architecture: str = 'maskrcnn_resnet50_fpn', in_channels: int = 3,
                          min_size: int = 800, max_size: int = 1333,
                          half: bool = False) -> Path:
    """Save a Mask R-CNN state_dict with what rebuilds it, loadable with weights_only.

    Label index i of the model is categories[i - 1]; 0 is background. half stores floating
    tensors as float16 (half the file; loading converts back to float32).
    """
    if architecture not in MASKRCNN_ARCHITECTURES:
        raise ValueError('unknown Mask R-CNN architecture %r' % (architecture,))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save({'format': WEIGHTS_FORMAT, 'version': WEIGHTS_VERSION,
                'architecture': architecture, 'categories': list(categories),
                'in_channels': int(in_channels), 'min_size': int(min_size),
                'max_size': int(max_size), 'state_dict': state}, path)
    return path


WeightsContent = Tuple[Dict[str, torch.Tensor], Optional[List[str]], str]


def load_maskrcnn_file(path: Union[str, os.PathLike]) -> MaskRCNNFile:
    """Read a weights file: this package's format, or a bare torchvision state_dict.

    For a bare state_dict the architecture is recognised from its keys and the categories
    are unknown. Float16 tensors come back as float32.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            'Mask R-CNN weights file %s does not exist; train one (catpose '
            'train-segmentation) or point segmentation.weights at an existing file (launch '
            'argument segmentation_weights:=/path/to/file)' % path)
    try:
        content = torch.load(path, map_location='cpu', weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError,
            zipfile.BadZipFile) as error:
        raise SegmenterWeightsError('cannot read Mask R-CNN weights %s: %s' % (path, error)) \
            from error
    if isinstance(content, Mapping) and content.get('format') == WEIGHTS_FORMAT:
        state = {k: v.float() if v.is_floating_point() else v
                 for k, v in content['state_dict'].items()}
        return MaskRCNNFile(state, list(content['categories']), str(content['architecture']),
                            int(content.get('in_channels', 3)),
                            int(content.get('min_size', 800)),
                            int(content.get('max_size', 1333)))
    if isinstance(content, Mapping) and content and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in content.items()):
        v2 = 'backbone.fpn.inner_blocks.0.1.running_mean' in content
        return MaskRCNNFile(dict(content), None, MASKRCNN_ARCHITECTURES[1 if v2 else 0])
    raise SegmenterWeightsError('%s holds neither a %s file nor a state_dict'
                                % (path, WEIGHTS_FORMAT))


def load_maskrcnn_weights(path: Union[str, os.PathLike]) -> WeightsContent:
    """Read (state_dict, categories or None, architecture) from a weights file."""
    content = load_maskrcnn_file(path)
    return content.state_dict, content.categories, content.architecture


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
        _check_min_mask_pixels(min_mask_pixels)
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
        _check_min_mask_pixels(min_mask_pixels)
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


# ---------------------------------------------------------------------------------------
# External label images
# ---------------------------------------------------------------------------------------

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
        _check_min_mask_pixels(min_mask_pixels)
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


# ---------------------------------------------------------------------------------------
# Factory
# ---------------------------------------------------------------------------------------

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
