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

"""Segmentation samples, COCO AP and the resumable Mask R-CNN trainer."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from catpose_ros.categories import category_names
from catpose_ros.cli.data import scene_frames
from catpose_ros.data.segmentation import (augmented, depth_channel, image_tensor,
                                           sample_target, samples_from_frames,
                                           SegmentationSamples)
from catpose_ros.evaluation.segmentation import evaluate_segmenter
from catpose_ros.perception.instances import Instance, mask_box
from catpose_ros.training.config import SegmentationTrainConfig
from catpose_ros.training.segmentation import batch_indices, SegmentationTrainer

SIZE = (160, 120)


@pytest.fixture(scope='module')
def frames():
    """Two rendered frames of one training scene (distractors included)."""
    torch.set_num_threads(1)
    return list(scene_frames(0, 0, 'train', 'real', 2, 'random', True))


@pytest.fixture(scope='module')
def samples(frames):
    return samples_from_frames(frames, SIZE)


def test_samples_keep_known_objects_with_their_categories(frames, samples):
    assert samples.rgb.shape == (2, SIZE[1], SIZE[0], 3)
    names = category_names()
    for index, frame in enumerate(frames):
        labels, table = samples.labels[index], samples.categories[index]
        found = sorted(names[table[v] - 1] for v in np.unique(labels) if v)
        expected = sorted(o.category for o in frame.objects if o.category in names)
        assert set(found) <= set(expected) and found
        assert table[0] == 0


def test_saved_samples_load_identically(samples, tmp_path):
    loaded = SegmentationSamples.load(samples.save(tmp_path / 's.npz'))
    for name in ('rgb', 'depth_mm', 'labels', 'categories'):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(samples, name))


def test_target_boxes_enclose_their_masks(samples):
    target = sample_target(samples.labels[0], samples.categories[0])
    assert len(target['boxes']) == len(target['labels']) == len(target['masks']) > 0
    for box, mask in zip(target['boxes'].numpy(), target['masks'].numpy()):
        assert tuple(box.astype(int)) == mask_box(mask.astype(bool))


def test_flip_moves_image_depth_and_labels_together(samples):
    rng = np.random.default_rng(0)
    while True:
        state = rng.bit_generator.state
        if rng.random() < 0.5:
            break
    rng.bit_generator.state = state
    rgb, depth, labels = augmented(samples.rgb[0], samples.depth_mm[0], samples.labels[0], rng)
    np.testing.assert_array_equal(labels, samples.labels[0][:, ::-1])
    np.testing.assert_array_equal(depth, samples.depth_mm[0][:, ::-1])


def test_depth_channel_is_bounded_and_rgbd_tensor_has_four_channels():
    depth = np.array([[0.0, 1.0], [np.nan, 9.0]], dtype=np.float32)
    np.testing.assert_allclose(depth_channel(depth), [[0.0, 0.25], [0.0, 0.0]])
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    assert image_tensor(rgb, depth, 4).shape == (4, 2, 2)
    with pytest.raises(ValueError, match='depth'):
        image_tensor(rgb, None, 4)


class _TruthSegmenter:
    """Answers with the ground-truth masks, optionally dropping one category."""

    categories = category_names()

    def __init__(self, samples, drop=None):
        self.samples, self.drop, self.calls = samples, drop, 0

    def segment(self, rgb, depth=None):
        labels = self.samples.labels[self.calls]
        table = self.samples.categories[self.calls]
        self.calls += 1
        instances = []
        for value in np.unique(labels):
            name = self.categories[table[value] - 1] if value else None
            if name and name != self.drop:
                mask = labels == value
                instances.append(Instance(len(instances) + 1, name, mask, 0.9,
                                          mask_box(mask)))
        return instances


def test_perfect_masks_score_one_and_a_missed_category_scores_zero(samples):
    report = evaluate_segmenter(_TruthSegmenter(samples), samples)
    assert report.mask.ap == pytest.approx(1.0) and report.box.ap50 == pytest.approx(1.0)
    present = [n for n, v in report.mask.per_category.items() if not np.isnan(v['ap'])]
    dropped = present[0]
    report = evaluate_segmenter(_TruthSegmenter(samples, drop=dropped), samples)
    assert report.mask.per_category[dropped]['ap50'] == 0.0
    assert report.mask.ap < 1.0
    assert dropped in report.table()


def test_batches_cover_every_sample_once_per_epoch():
    config = SegmentationTrainConfig(batch_size=3, seed=4)
    seen = [i for step in range(4) for i in batch_indices(config, step, 12)]
    assert sorted(seen) == list(range(12))


@pytest.mark.slow
def test_resumed_training_matches_an_uninterrupted_run(samples, tmp_path):
    path = samples.save(tmp_path / 'train.npz')
    config = SegmentationTrainConfig(train_samples=str(path), steps=4, batch_size=1,
                                     min_size=SIZE[1], max_size=SIZE[0], save_every=2,
                                     warmup_steps=2, out_dir=str(tmp_path / 'full'))
    full = SegmentationTrainer(config)
    full.run()
    interrupted = replace(config, steps=2, out_dir=str(tmp_path / 'parts'))
    SegmentationTrainer(interrupted).run()
    resumed = SegmentationTrainer(replace(interrupted, steps=4))
    assert resumed.step == 2
    resumed.run()
    for name, value in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value)


# The shipped weights score mask AP50 0.82 on the 6 fixed frames below (32 instances); a
# retrained model must not fall under this floor (models/README.md has the full test figures).
SHIPPED_MIN_MASK_AP50 = 0.75


@pytest.mark.slow
def test_shipped_segmenter_keeps_its_mask_ap_on_unseen_instances():
    from catpose_ros.perception.segmentation import TorchvisionMaskRCNNSegmenter
    from catpose_ros.resources import resolve_checkpoint

    torch.set_num_threads(1)
    weights = resolve_checkpoint('', None, 'maskrcnn_default.pt')
    segmenter = TorchvisionMaskRCNNSegmenter(weights, score_threshold=0.05, min_mask_pixels=1)
    frames = [frame for scene in (3, 11, 19) for frame in
              scene_frames(scene, 5, 'test', 'real', 2, 'random', True)]
    report = evaluate_segmenter(segmenter, samples_from_frames(frames, (320, 240)))
    assert report.instances >= 12
    assert report.mask.ap50 >= SHIPPED_MIN_MASK_AP50, report.table()
