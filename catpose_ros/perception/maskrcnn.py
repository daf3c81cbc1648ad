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

"""torchvision Mask R-CNN for this package: the architectures and the weights file format.

`build_maskrcnn` builds an untrained detector (RGB, or RGB-D with depth as a fourth
channel); `save_maskrcnn_weights` / `load_maskrcnn_file` write and read the self-describing
weights file (architecture, categories, input channels and size inside) that
`models/maskrcnn_default.pt` uses. Nothing here downloads weights. torch is imported where a
model is built or a file read, so that the architecture names come without it (`catpose
train-segmentation --help`).
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import pickle
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union
from typing import TYPE_CHECKING
import zipfile

if TYPE_CHECKING:
    import torch

WEIGHTS_FORMAT = 'catpose_maskrcnn'
WEIGHTS_VERSION = 2
SLIM_ARCHITECTURE = 'maskrcnn_resnet18_fpn_slim'
MASKRCNN_ARCHITECTURES = ('maskrcnn_resnet50_fpn', 'maskrcnn_resnet50_fpn_v2', SLIM_ARCHITECTURE)
DEPTH_CHANNEL_MEAN = 0.25
DEPTH_CHANNEL_STD = 0.15
RGB_MEAN = (0.485, 0.456, 0.406)
RGB_STD = (0.229, 0.224, 0.225)


class SegmenterWeightsError(RuntimeError):
    """Raised when a segmentation weights file is unreadable or does not fit the model."""


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
    import torch

    body = model.backbone.body
    old = body.conv1
    body.conv1 = torch.nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride,
                                 old.padding, bias=old.bias is not None)


def _slim_maskrcnn(num_categories: int, **detector_kwargs) -> torch.nn.Module:
    """ResNet-18 up to stride 16 + 128-channel FPN + slim heads: small enough to ship in git.

    Trained from scratch, so every normalisation is a trainable BatchNorm (torchvision's
    frozen BatchNorm only makes sense for pretrained trunks).
    """
    import torch

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
    import torch

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


def load_maskrcnn_file(path: Union[str, os.PathLike]) -> MaskRCNNFile:
    """Read a weights file: this package's format, or a bare torchvision state_dict.

    For a bare state_dict the architecture is recognised from its keys and the categories
    are unknown. Float16 tensors come back as float32.
    """
    import torch

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


def load_maskrcnn_weights(path: Union[str, os.PathLike]
                          ) -> Tuple[Dict[str, torch.Tensor], Optional[List[str]], str]:
    """Read (state_dict, categories or None, architecture) from a weights file."""
    content = load_maskrcnn_file(path)
    return content.state_dict, content.categories, content.architecture
