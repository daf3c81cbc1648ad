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

"""SegmentationNodeCore on real rosbags messages (Humble and Jazzy), without ROS."""

import numpy as np
import pytest

from catpose_ros.perception.instances import Instance, mask_box
from catpose_ros.ros import conversions as conv
from catpose_ros.ros.messages import RosbagsFactory
from catpose_ros.ros.params import CatposeParams, ModelNotFoundError
from catpose_ros.ros.segmentation_pipeline import load_segmenter, SegmentationNodeCore

STAMP_NS = 1_700_000_000_123_456_789
FRAME_ID = 'camera_color_optical_frame'


class FixedSegmenter:
    """A Segmenter that finds two known rectangles (what a trained model would return)."""

    categories = ['bottle', 'bowl', 'camera', 'can', 'laptop', 'mug']

    def __init__(self):
        self.calls = []

    def segment(self, rgb, depth=None):
        self.calls.append((rgb.shape, None if depth is None else depth.shape))
        height, width = rgb.shape[:2]
        instances = []
        for instance_id, (category, score, rows, cols) in enumerate([
                ('mug', 0.9, slice(10, 40), slice(20, 60)),
                ('bowl', 0.7, slice(50, 90), slice(80, 140))], start=1):
            mask = np.zeros((height, width), bool)
            mask[rows, cols] = True
            instances.append(Instance(instance_id, category, mask, score, mask_box(mask)))
        return instances


@pytest.fixture(params=['humble', 'jazzy'])
def factory(request):
    return RosbagsFactory(request.param)


def _rgb_depth(factory, stamp_ns=STAMP_NS, size=(120, 160), depth_offset_ns=0):
    header = conv.make_header(factory, stamp_ns, FRAME_ID)
    rgb = np.random.default_rng(0).integers(0, 255, size + (3,), dtype=np.uint8)
    depth = np.full(size, 800, np.uint16)
    depth_header = conv.make_header(factory, stamp_ns + depth_offset_ns, FRAME_ID)
    return (conv.numpy_to_image(factory, rgb, 'rgb8', header),
            conv.numpy_to_image(factory, depth, '16UC1', depth_header))


def test_outputs_carry_the_depth_header_and_consistent_ids(factory):
    core = SegmentationNodeCore(CatposeParams(), FixedSegmenter(), factory)
    rgb, depth = _rgb_depth(factory)
    outputs = core.process(rgb, depth, now_ns=STAMP_NS + 10_000_000)
    assert outputs.skip_reason is None
    for message in (outputs.instances, outputs.detections, outputs.masked_depth):
        assert conv.stamp_to_ns(message.header.stamp) == STAMP_NS
        assert message.header.frame_id == FRAME_ID
        factory.serialize(message)  # valid CDR for this distro
    labels = conv.image_to_numpy(outputs.instances)
    assert outputs.instances.encoding == 'mono16' and labels.dtype == np.uint16
    records = conv.detection2d_array_to_records(outputs.detections)
    assert {r.instance_id: r.category for r in records} == {1: 'mug', 2: 'bowl'}
    for record in records:
        x1, y1, x2, y2 = record.box
        region = labels == record.instance_id
        assert region.sum() == (x2 - x1) * (y2 - y1)
        assert region[y1:y2, x1:x2].all()
    masked = conv.image_to_numpy(outputs.masked_depth)
    assert (masked[labels == 0] == 0).all() and (masked[labels > 0] == 800).all()


def test_masks_move_to_the_depth_grid_when_sizes_differ(factory):
    segmenter = FixedSegmenter()
    core = SegmentationNodeCore(CatposeParams(), segmenter, factory)
    header = conv.make_header(factory, STAMP_NS, FRAME_ID)
    rgb = conv.numpy_to_image(factory, np.zeros((240, 320, 3), np.uint8), 'rgb8', header)
    depth = conv.numpy_to_image(factory, np.ones((120, 160), np.float32), '32FC1', header)
    outputs = core.process(rgb, depth)
    labels = conv.image_to_numpy(outputs.instances)
    assert labels.shape == (120, 160)
    assert segmenter.calls == [((240, 320, 3), (120, 160))]
    assert (labels[5:20, 10:30] == 1).all()  # the mug's rectangle, halved
    assert np.isnan(conv.image_to_numpy(outputs.masked_depth)[labels == 0]).all()


def test_label_info_names_the_segmenter_categories(factory):
    core = SegmentationNodeCore(CatposeParams(), FixedSegmenter(), factory)
    info = core.label_info(STAMP_NS, FRAME_ID)
    assert conv.label_info_to_dict(info)[6] == 'mug'
    assert info.threshold == pytest.approx(0.5)


@pytest.mark.parametrize('case', ['bad_encoding', 'stamps_apart', 'stale', 'disabled'])
def test_bad_input_is_skipped_with_a_reason(factory, case):
    core = SegmentationNodeCore(CatposeParams(), FixedSegmenter(), factory)
    rgb, depth = _rgb_depth(factory, depth_offset_ns=200_000_000 if case == 'stamps_apart'
                            else 0)
    now_ns = STAMP_NS + (5_000_000_000 if case == 'stale' else 0)
    if case == 'bad_encoding':
        rgb.encoding = 'yuv422'
    if case == 'disabled':
        core.enabled = False
    outputs = core.process(rgb, depth, now_ns=now_ns)
    expected = {'bad_encoding': 'yuv422', 'stamps_apart': 'sync.slop', 'stale': 'stale',
                'disabled': 'disabled'}[case]
    assert expected in outputs.skip_reason
    assert outputs.instances is None and outputs.detections is None
    assert outputs.logs and outputs.logs[0].level == 'warn'
    core.enabled = True
    assert core.process(*_rgb_depth(factory)).skip_reason is None  # the next frame is fine


def test_missing_segmenter_weights_is_a_clear_error(tmp_path):
    params = CatposeParams.from_dict({'segmentation.weights': str(tmp_path / 'absent.pt')})
    with pytest.raises(ModelNotFoundError, match='segmentation.weights'):
        load_segmenter(params)
    with pytest.raises(ValueError, match='label_image'):
        load_segmenter(CatposeParams.from_dict({'segmentation.backend': 'label_image'}))


def test_default_parameters_load_the_shipped_segmenter_with_its_options():
    from catpose_ros.perception.segmentation import TorchvisionMaskRCNNSegmenter
    from catpose_ros.resources import checkpoint_candidates

    shipped = checkpoint_candidates('', None, 'maskrcnn_default.pt')[-1]
    assert shipped.is_file(), 'the repository ships models/maskrcnn_default.pt'
    segmenter = load_segmenter(CatposeParams.from_dict({'model.device': 'cpu'}))
    assert isinstance(segmenter, TorchvisionMaskRCNNSegmenter)
    assert segmenter.categories == FixedSegmenter.categories
    assert segmenter.model.roi_heads.detections_per_img == 20
    assert segmenter.keep_categories == ()
    tuned = load_segmenter(CatposeParams.from_dict({
        'model.device': 'cpu', 'segmentation.categories': 'mug, bowl',
        'segmentation.input_size': 200, 'segmentation.max_detections': 5}))
    assert tuned.keep_categories == ('mug', 'bowl')
    assert tuned.model.transform.min_size == (200,) and tuned.model.transform.max_size == 400
    assert tuned.model.roi_heads.detections_per_img == 5
    with pytest.raises(ValueError, match='spoon'):
        load_segmenter(CatposeParams.from_dict({'segmentation.categories': 'spoon'}))


@pytest.mark.slow
def test_maskrcnn_backend_runs_end_to_end(tmp_path):
    from catpose_ros.perception.maskrcnn import build_maskrcnn, save_maskrcnn_weights
    import torch
    torch.manual_seed(0)
    categories = FixedSegmenter.categories
    weights = save_maskrcnn_weights(build_maskrcnn(len(categories)), tmp_path / 'm.pt',
                                    categories)
    params = CatposeParams.from_dict({'segmentation.weights': str(weights),
                                      'segmentation.score_threshold': 0.0,
                                      'model.device': 'cpu'})
    factory = RosbagsFactory('jazzy')
    core = SegmentationNodeCore.from_params(params, factory)
    outputs = core.process(*_rgb_depth(factory))
    assert outputs.skip_reason is None
    labels = conv.image_to_numpy(outputs.instances)
    ids = {r.instance_id for r in conv.detection2d_array_to_records(outputs.detections)}
    assert set(np.unique(labels)) - {0} <= ids
    assert outputs.latency_ms['segment'] > 0
