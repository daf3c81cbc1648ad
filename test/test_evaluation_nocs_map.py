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

"""NOCS mAP pinned on hand-built cases whose answers follow from the official rules."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.evaluation import metrics
from catpose_ros.evaluation.nocs_map import (box_iou, MAP_KEYS, match_by_iou, nocs_map,
                                             POSE_THRESHOLDS, score_poses,
                                             similarity_transform, voc_average_precision)

POSE_KEYS = tuple(POSE_THRESHOLDS)
IOU_KEYS = ('iou25', 'iou50', 'iou75')
TILT = Rotation.from_euler('xyz', [10, 20, 30], degrees=True).as_matrix()
QUARTER_ABOUT_Y = Rotation.from_euler('y', 90, degrees=True).as_matrix()


def pose(translation=(0.0, 0.0, 0.8), rotation=TILT, size=(0.1, 0.2, 0.14)):
    return similarity_transform(rotation, np.asarray(translation), np.asarray(size))


def frame(gts, preds, handles=None):
    """One result: gts [(class_id, (RT, scales))], preds [(class_id, (RT, scales), score)]."""
    return {
        'gt_class_ids': np.array([c for c, _ in gts], np.int32),
        'gt_RTs': np.array([p[0] for _, p in gts]).reshape(-1, 4, 4),
        'gt_scales': np.array([p[1] for _, p in gts]).reshape(-1, 3),
        'gt_handle_visibility': np.array(handles if handles is not None else [1] * len(gts)),
        'pred_class_ids': np.array([c for c, _, _ in preds], np.int32),
        'pred_RTs': np.array([p[0] for _, p, _ in preds]).reshape(-1, 4, 4),
        'pred_scales': np.array([p[1] for _, p, _ in preds]).reshape(-1, 3),
        'pred_scores': np.array([s for _, _, s in preds], np.float32),
    }


def test_perfect_predictions_score_100_everywhere():
    gts = [(c, pose((0.3 * c - 1.0, 0.0, 1.0))) for c in range(1, 7)]
    result = nocs_map([frame(gts, [(c, p, 0.9) for c, p in gts])])
    for key in MAP_KEYS:
        assert result.mean[key] == pytest.approx(100.0)
        assert all(v[key] == pytest.approx(100.0) for v in result.per_category.values())


def test_missed_object_halves_the_iou_ap_but_not_the_pose_ap():
    # The official pose APs only count ground truths matched at 3D IoU 0.1.
    first, second = pose((0.0, 0.0, 0.8)), pose((0.4, 0.0, 0.8))
    result = nocs_map([frame([(3, first), (3, second)], [(3, first, 0.9)])])
    camera = result.per_category['camera']
    assert all(camera[k] == pytest.approx(50.0) for k in IOU_KEYS)
    assert all(camera[k] == pytest.approx(100.0) for k in POSE_KEYS)
    assert result.ground_truths['camera'] == 2
    assert math.isnan(result.per_category['bottle']['iou25'])
    assert result.mean['iou25'] == pytest.approx(50.0)  # mean over categories with truth
    assert result.mean_of_six['iou25'] == pytest.approx(50.0 / 6)  # the official mean


def test_false_positive_ranked_above_the_true_one():
    truth = pose((0.0, 0.0, 0.8))
    far_away = pose((0.5, 0.3, 1.5))
    result = nocs_map([frame([(5, truth)], [(5, far_away, 0.9), (5, truth, 0.5)])])
    laptop = result.per_category['laptop']
    # precision 0 then 1/2 at recall 1: interpolated AP 0.5.
    assert all(laptop[k] == pytest.approx(50.0) for k in IOU_KEYS)
    # the false positive overlaps nothing, so the IoU-0.1 gate drops it from the pose APs.
    assert all(laptop[k] == pytest.approx(100.0) for k in POSE_KEYS)
    ranked_below = nocs_map([frame([(5, truth)], [(5, far_away, 0.4), (5, truth, 0.5)])])
    assert ranked_below.per_category['laptop']['iou50'] == pytest.approx(100.0)


def test_overlapping_duplicate_with_higher_score_takes_the_match():
    truth = pose((0.0, 0.0, 0.8))
    turned = pose((0.0, 0.0, 0.8), TILT @ Rotation.from_euler('x', 20, degrees=True).as_matrix())
    result = nocs_map([frame([(3, truth)], [(3, turned, 0.9), (3, truth, 0.5)])])
    camera = result.per_category['camera']
    # The 20-degree duplicate is matched first; the exact one is left unmatched (and gated).
    assert camera['10deg5cm'] == pytest.approx(0.0)
    assert camera['iou25'] == pytest.approx(100.0)


@pytest.mark.parametrize('class_id', [1, 2, 4])
def test_symmetric_categories_ignore_rotation_about_y(class_id):
    truth = pose()
    spun = pose(rotation=TILT @ QUARTER_ABOUT_Y)
    result = nocs_map([frame([(class_id, truth)], [(class_id, spun, 1.0)])])
    assert all(v == pytest.approx(100.0) for v in result.mean.values())


def test_asymmetric_category_does_not():
    result = nocs_map([frame([(3, pose())], [(3, pose(rotation=TILT @ QUARTER_ABOUT_Y), 1.0)])])
    assert all(result.mean[k] == pytest.approx(0.0) for k in POSE_KEYS)


@pytest.mark.parametrize('handle_visible, expected', [(0, 100.0), (1, 0.0)])
def test_mug_is_symmetric_only_with_its_handle_hidden(handle_visible, expected):
    spun = pose(rotation=TILT @ QUARTER_ABOUT_Y)
    result = nocs_map([frame([(6, pose())], [(6, spun, 1.0)], handles=[handle_visible])])
    assert all(result.mean[k] == pytest.approx(expected) for k in POSE_KEYS)
    assert metrics.is_symmetric('mug', bool(handle_visible)) == (expected == 100.0)


def test_one_symmetry_rule():
    assert [metrics.is_symmetric(n) for n in ('bottle', 'bowl', 'camera', 'can', 'laptop')] == \
        [True, True, False, True, False]
    assert not metrics.is_symmetric('teapot')
    np.testing.assert_array_equal(metrics.symmetric_flags(['mug', 'mug'], [True, False]),
                                  [False, True])


def test_pose_thresholds_are_inclusive_and_translation_counts():
    shifted = pose((0.02, 0.0, 0.8))  # exactly 2 cm
    result = nocs_map([frame([(3, pose())], [(3, shifted, 1.0)])])
    assert result.mean['5deg2cm'] == pytest.approx(100.0)
    further = nocs_map([frame([(3, pose())], [(3, pose((0.03, 0.0, 0.8)), 1.0)])])
    assert further.mean['5deg2cm'] == pytest.approx(0.0)
    assert further.mean['5deg5cm'] == pytest.approx(100.0)


def test_voc_average_precision_interpolates():
    assert voc_average_precision(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.7]), 2) == \
        pytest.approx(0.5 * 1.0 + 0.5 * (2 / 3))
    assert voc_average_precision(np.array([1]), np.array([1.0]), 4) == pytest.approx(0.25)
    assert voc_average_precision(np.zeros(0), np.zeros(0), 0) == 0.0
    assert math.isnan(voc_average_precision(np.array([0]), np.array([0.5]), 0))


def test_category_whose_objects_all_fail_the_iou_gate_scores_zero_pose_ap():
    far_away = pose((0.5, 0.3, 1.5))
    result = nocs_map([frame([(5, pose())], [(5, far_away, 0.9)])])
    assert all(result.mean[k] == 0.0 for k in MAP_KEYS)


def test_iou_matching_needs_strictly_more_than_the_threshold():
    ious = np.array([[0.5, 0.6], [0.7, 0.5]])
    assert match_by_iou(ious, 0.5)[0].tolist() == [1, 0]
    assert match_by_iou(np.array([[0.5]]), 0.5)[0].tolist() == [-1]


def test_box_iou_official_and_fixed():
    tilted, tilted_scales = pose()
    assert box_iou(tilted, tilted, tilted_scales, tilted_scales, False, 'fixed') == \
        pytest.approx(1.0)
    assert box_iou(tilted, tilted, tilted_scales, tilted_scales, False, 'official') == \
        pytest.approx(1.0)
    unit = np.ones(3) / math.sqrt(3.0)
    a, _ = similarity_transform(np.eye(3), np.array([0.0, 0.0, 1.0]), np.ones(3))
    b, _ = similarity_transform(np.eye(3), np.array([0.5, 0.0, 1.0]), np.ones(3))
    assert box_iou(a, b, unit, unit, False, 'fixed') == pytest.approx(1.0 / 3.0)
    # The official overlap spans each corner's coordinates, not the box: it differs here.
    official = box_iou(a, b, unit, unit, False, 'official')
    assert official == pytest.approx(0.0)
    with pytest.raises(ValueError, match='variant'):
        box_iou(a, b, unit, unit, False, 'exact')


def test_score_poses_returns_map_and_median_errors():
    count = 4
    rotations = np.stack([TILT] * count)
    translations = np.array([[0.0, 0.0, 0.8]] * count)
    sizes = np.array([[0.1, 0.2, 0.14]] * count)
    predicted = translations + np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                                         [0.04, 0.0, 0.0], [0.3, 0.0, 0.0]])
    scores = score_poses(rotations, predicted, None, rotations, translations, sizes,
                         ['camera', 3, 'laptop', 'laptop'], [True] * count)
    assert scores['objects'] == count
    assert scores['median_translation_cm'] == pytest.approx(2.0)
    assert scores['median_rotation_deg'] == pytest.approx(0.0, abs=1e-4)
    assert scores['5deg2cm'] == pytest.approx(50.0)  # camera 100, laptop 0
    assert scores['5deg5cm'] > scores['5deg2cm']  # the 4 cm laptop counts at 5 cm
    assert scores['accuracy_5deg2cm'] == pytest.approx(50.0)
    assert scores['accuracy_5deg5cm'] == pytest.approx(75.0)
    with pytest.raises(ValueError, match='one entry per object'):
        score_poses(rotations, predicted, None, rotations, translations, sizes, ['camera'])
