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

"""Segmentation backends, label-image conversion and the node-output helpers."""

import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
import numpy as np
import pytest
import torch

from catpose_ros.categories import category_names
from catpose_ros.perception.instances import (Instance, InstanceLabel, instances_to_label_image,
                                              LabelImageSegmenter, mask_box, masked_depth)
from catpose_ros.perception.maskrcnn import (build_maskrcnn, load_maskrcnn_weights,
                                             save_maskrcnn_weights, SegmenterWeightsError)
from catpose_ros.perception.segmentation import (Detectron2NotInstalledError, make_segmenter,
                                                 TorchvisionMaskRCNNSegmenter)

HEIGHT, WIDTH = 128, 160
FAST = {'min_size': HEIGHT, 'max_size': WIDTH, 'max_detections': 10, 'num_proposals': 30}
# Class logit 5 against 0 for the six others: the winning category scores e^5 / (e^5 + 6).
CONFIDENT_SCORE = float(np.exp(5.0) / (np.exp(5.0) + 6.0))


def _shaped_model(class_logit: float, winning_class: int, mask_logit: float):
    """Build a real Mask R-CNN whose heads give fixed class and mask probabilities."""
    torch.manual_seed(0)
    model = build_maskrcnn(len(category_names()), min_size=HEIGHT, max_size=WIDTH)
    predictor = model.roi_heads.box_predictor
    mask_logits = model.roi_heads.mask_predictor.mask_fcn_logits
    with torch.no_grad():
        for layer in (predictor.cls_score, predictor.bbox_pred, mask_logits):
            layer.weight.zero_()
            layer.bias.zero_()
        predictor.cls_score.bias[winning_class] = class_logit
        mask_logits.bias.fill_(mask_logit)
    return model


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread():
    """Run the tiny Mask R-CNN on one thread: faster than two on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    """Save a model that is sure of 'camera' (label 3), with mask probability 0.73."""
    path = tmp_path_factory.mktemp('maskrcnn') / 'camera.pt'
    return save_maskrcnn_weights(_shaped_model(5.0, 3, 1.0), path, category_names())


@pytest.fixture(scope='module')
def confident(weights):
    return TorchvisionMaskRCNNSegmenter(weights, **FAST)


def _rgb(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def _box_iou(a, b) -> float:
    inter_w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def test_maskrcnn_instances_have_ranked_ids_boxes_and_categories(confident):
    instances = confident.segment(_rgb())
    assert 1 <= len(instances) <= FAST['max_detections']
    assert [i.instance_id for i in instances] == list(range(1, len(instances) + 1))
    scores = [i.score for i in instances]
    assert scores == sorted(scores, reverse=True)
    assert np.allclose(scores, CONFIDENT_SCORE, atol=1e-4)
    for instance in instances:
        assert instance.category == 'camera'
        assert instance.mask.shape == (HEIGHT, WIDTH) and instance.mask.dtype == bool
        x1, y1, x2, y2 = instance.box
        assert 0 <= x1 < x2 <= WIDTH and 0 <= y1 < y2 <= HEIGHT
        # Each mask is its box filled with a constant probability (pasted with a margin).
        assert instance.mask.sum() >= confident.min_mask_pixels
        assert _box_iou(mask_box(instance.mask), instance.box) > 0.7


def test_maskrcnn_score_threshold_reaches_the_model(weights):
    strict = TorchvisionMaskRCNNSegmenter(weights, score_threshold=CONFIDENT_SCORE + 0.01,
                                          **FAST)
    assert strict.model.roi_heads.score_thresh == strict.score_threshold
    assert strict.segment(_rgb()) == []


def test_maskrcnn_mask_threshold_and_min_pixels(confident, monkeypatch):
    # Mask probability is sigmoid(1) = 0.73 inside each box.
    monkeypatch.setattr(confident, 'mask_threshold', 0.8)
    assert confident.segment(_rgb()) == []
    monkeypatch.setattr(confident, 'mask_threshold', 0.7)
    monkeypatch.setattr(confident, 'min_mask_pixels', HEIGHT * WIDTH + 1)
    assert confident.segment(_rgb()) == []


def test_maskrcnn_rejects_bad_rgb(confident):
    with pytest.raises(ValueError, match='uint8'):
        confident.segment(np.zeros((HEIGHT, WIDTH, 3), dtype=np.float32))
    with pytest.raises(ValueError, match='HxWx3'):
        confident.segment(np.zeros((HEIGHT, WIDTH), dtype=np.uint8))
    with pytest.raises(ValueError, match='score_threshold'):
        TorchvisionMaskRCNNSegmenter('unused.pt', score_threshold=1.5)


def test_weights_file_round_trip(weights):
    state_dict, categories, architecture = load_maskrcnn_weights(weights)
    assert categories == list(category_names())
    assert architecture == 'maskrcnn_resnet50_fpn'
    assert state_dict['roi_heads.box_predictor.cls_score.bias'][3] == 5.0


def test_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        TorchvisionMaskRCNNSegmenter(tmp_path / 'absent.pt')


def test_corrupt_weights_file(tmp_path):
    path = tmp_path / 'corrupt.pt'
    path.write_bytes(b'not a torch file at all')
    with pytest.raises(SegmenterWeightsError, match='cannot read'):
        TorchvisionMaskRCNNSegmenter(path)


class _Executable:
    """A pickled object that weights_only loading must refuse."""


def test_weights_file_with_code_is_refused(tmp_path):
    path = tmp_path / 'code.pt'
    torch.save({'payload': _Executable()}, path)
    with pytest.raises(SegmenterWeightsError, match='cannot read'):
        load_maskrcnn_weights(path)


def test_weights_file_of_other_content(tmp_path):
    path = tmp_path / 'other.pt'
    torch.save({'epoch': 3}, path)
    with pytest.raises(SegmenterWeightsError, match='neither'):
        load_maskrcnn_weights(path)


def test_state_dict_that_does_not_fit(tmp_path):
    path = tmp_path / 'partial.pt'
    torch.save({'roi_heads.box_predictor.cls_score.weight': torch.zeros(4, 1024)}, path)
    with pytest.raises(SegmenterWeightsError, match='do not fit'):
        TorchvisionMaskRCNNSegmenter(path, **FAST)


def test_requested_categories_must_match_the_file(weights):
    with pytest.raises(SegmenterWeightsError, match='trained for categories'):
        TorchvisionMaskRCNNSegmenter(weights, categories=['mug'], **FAST)


def test_detectron2_missing_gives_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'detectron2', None)
    with pytest.raises(Detectron2NotInstalledError, match='pip install') as info:
        make_segmenter('detectron2', config_path=tmp_path / 'c.yaml',
                       weights_path=tmp_path / 'w.pkl')
    assert isinstance(info.value, ImportError)


def test_factory():
    assert isinstance(make_segmenter('label_image', min_mask_pixels=3), LabelImageSegmenter)
    with pytest.raises(ValueError, match='known: maskrcnn, detectron2, label_image'):
        make_segmenter('sam')


def _label_image() -> np.ndarray:
    label = np.zeros((20, 30), dtype=np.uint16)
    label[2:8, 3:9] = 7
    label[10:18, 10:25] = 300
    label[0, 0] = 9
    return label


def test_label_image_conversion():
    segmenter = LabelImageSegmenter(min_mask_pixels=4)
    labels = {7: InstanceLabel('mug', 0.6), 300: InstanceLabel('2', 0.9),
              9: InstanceLabel('can', 0.8)}
    result = segmenter.convert(_label_image(), labels, shape=(20, 30))
    assert [(i.instance_id, i.category, i.score) for i in result.instances] == [
        (300, 'bowl', 0.9), (7, 'mug', 0.6)]
    assert result.instances[1].box == (3, 2, 9, 8)
    assert result.instances[1].mask.sum() == 36
    assert [s.instance_id for s in result.skipped] == [9]
    assert 'min_mask_pixels' in result.skipped[0].reason


def test_label_image_skips_unknown_ids_categories_and_empty_masks():
    segmenter = LabelImageSegmenter(min_mask_pixels=1)
    labels = {7: InstanceLabel('spoon'), 9: InstanceLabel('can'), 42: InstanceLabel('can')}
    result = segmenter.convert(_label_image(), labels)
    assert [i.instance_id for i in result.instances] == [9]
    reasons = {s.instance_id: s.reason for s in result.skipped}
    assert 'unknown category' in reasons[7]
    assert 'no category' in reasons[300]
    assert 'no pixels' in reasons[42]


def test_label_image_default_category_and_background():
    nocs_mask = np.full((4, 4), 255, dtype=np.uint8)
    nocs_mask[1:3, 1:3] = 1
    segmenter = LabelImageSegmenter(min_mask_pixels=1, background=255, default_category='can')
    result = segmenter.convert(nocs_mask, {})
    assert [(i.instance_id, i.category) for i in result.instances] == [(1, 'can')]


def test_label_image_validation():
    segmenter = LabelImageSegmenter()
    with pytest.raises(ValueError, match='does not match'):
        segmenter.convert(_label_image(), {}, shape=(30, 20))
    with pytest.raises(ValueError, match='integer'):
        segmenter.convert(_label_image().astype(np.float32), {})
    with pytest.raises(ValueError, match='negative'):
        segmenter.convert(-np.ones((3, 3), dtype=np.int32), {})
    with pytest.raises(ValueError, match='default_category'):
        LabelImageSegmenter(default_category='spoon')


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint16, (12, 14), elements=st.integers(0, 5)))
def test_label_image_round_trip(label):
    ids = [int(i) for i in np.unique(label) if i]
    labels = {i: InstanceLabel(category_names()[i - 1], 1.0 - i / 10) for i in ids}
    result = LabelImageSegmenter(min_mask_pixels=1).convert(label, labels)
    assert result.skipped == []
    assert sorted(i.instance_id for i in result.instances) == ids
    np.testing.assert_array_equal(instances_to_label_image(result.instances, label.shape),
                                  label)


def test_label_image_overlap_keeps_first_and_validates():
    mask_a = np.zeros((5, 5), dtype=bool)
    mask_a[:3, :3] = True
    mask_b = np.zeros((5, 5), dtype=bool)
    mask_b[2:, 2:] = True
    label = instances_to_label_image(
        [Instance(4, 'mug', mask_a, 0.9), Instance(2, 'can', mask_b, 0.5)], (5, 5))
    assert label.dtype == np.uint16
    assert label[2, 2] == 4 and label[4, 4] == 2 and label[0, 4] == 0
    with pytest.raises(ValueError, match='duplicate'):
        instances_to_label_image([Instance(1, 'mug', mask_a), Instance(1, 'can', mask_b)],
                                 (5, 5))
    with pytest.raises(ValueError, match='shape'):
        instances_to_label_image([Instance(1, 'mug', mask_a)], (4, 5))
    with pytest.raises(ValueError, match='outside'):
        instances_to_label_image([Instance(0, 'mug', mask_a)], (5, 5))


def test_masked_depth_uses_rep118_invalid_values():
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 1:3] = True
    instances = [Instance(1, 'mug', mask)]
    depth_mm = np.full((3, 4), 700, dtype=np.uint16)
    out = masked_depth(depth_mm, instances)
    assert out.dtype == np.uint16 and out.sum() == 1400 and out[1, 1] == 700
    out = masked_depth(depth_mm.astype(np.float32) / 1000, instances)
    assert out.dtype == np.float32 and np.isnan(out).sum() == 10
    assert np.allclose(out[mask], 0.7)
    with pytest.raises(ValueError, match='shape'):
        masked_depth(np.zeros((4, 4)), instances)


def test_mask_box():
    mask = np.zeros((6, 7), dtype=bool)
    assert mask_box(mask) == (0, 0, 0, 0)
    mask[2:4, 1:6] = True
    assert mask_box(mask) == (1, 2, 6, 4)
