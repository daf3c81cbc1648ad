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


"""PoseEstimator end to end with randomly initialised networks (plumbing, not accuracy).

The score net's output layers start at zero, so an untouched model returns its start
sample: noise around the points' centroid (cold) or around the init pose (warm). That makes
the warm-start bookkeeping (centroid-relative translation) checkable without training.
"""

from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from support import TINY
import torch

from catpose_ros.categories import UnknownCategoryError
from catpose_ros.evaluation.metrics import pose_errors
from catpose_ros.geometry.backprojection import depth_to_metres
from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.geometry.rotation import rotation_6d_to_matrix
from catpose_ros.geometry.transforms import make_transform
from catpose_ros.model.checkpoint import save_checkpoint
from catpose_ros.model.pose_sampler import SamplerConfig
from catpose_ros.model.posenet import CatPoseNet
from catpose_ros.perception.estimator import (backproject_instances, EstimationResult,
                                              NON_FINITE_OUTPUT, PoseEstimate, PoseEstimator,
                                              TIMING_KEYS)
from catpose_ros.perception.instances import Instance

SMALL = replace(TINY, num_points=256)
K = CameraIntrinsics(fx=300.0, fy=300.0, cx=80.0, cy=60.0, width=160, height=120)
FAST = SamplerConfig(steps=4)


def small_model(randomise_scores: bool = False) -> CatPoseNet:
    torch.manual_seed(0)
    model = CatPoseNet(SMALL)
    if randomise_scores:
        with torch.no_grad():
            for head in (model.score_net.rot_x_head, model.score_net.rot_y_head,
                         model.score_net.translation_head):
                head[-1].weight.normal_(0.0, 0.05)
    return model


def blob(rng: np.random.Generator, centre, count: int = 600) -> np.ndarray:
    """Scatter camera-frame points over a 10 cm cube."""
    return (rng.uniform(-0.05, 0.05, size=(count, 3)) + centre).astype(np.float32)


def frame():
    """Build depth (uint16 mm) of a table at 0.9 m with two boxes, and the instances."""
    depth = np.full((120, 160), 900, np.uint16)
    depth[20:50, 20:60] = 700
    depth[60:100, 90:140] = 800
    depth[100:120, 0:40] = 0   # a hole in the depth
    masks = [np.zeros((120, 160), bool) for _ in range(5)]
    masks[0][20:50, 20:60] = True                     # good: 1200 pixels
    masks[1][100:120, 0:40] = True                    # no depth under the mask
    masks[2][60:100, 90:140] = True                   # category the model does not know
    masks[4][60:100, 90:140] = True                   # good: 2000 pixels
    instances = [Instance(1, 'mug', masks[0], 0.9), Instance(2, 'bowl', masks[1], 0.8),
                 Instance(3, 'teapot', masks[2], 0.7),
                 Instance(4, 'can', np.ones((60, 80), bool), 0.6),   # wrong mask shape
                 Instance(5, 'bottle', masks[4], 0.5)]
    return depth, instances


def assert_valid(estimate: PoseEstimate):
    rotation = estimate.rotation
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-5)
    assert np.linalg.det(rotation) == pytest.approx(1.0, abs=1e-5)
    assert estimate.translation.shape == (3,) and estimate.size.shape == (3,)
    assert np.isfinite(estimate.translation).all() and (estimate.size > 0).all()
    np.testing.assert_allclose(estimate.pose()[:3, 3], estimate.translation)
    q = estimate.quaternion_xyzw()
    np.testing.assert_allclose(Rotation.from_quat(q).as_matrix(), rotation, atol=1e-6)


def test_estimate_points_batches_objects_of_any_cloud_size():
    estimator = PoseEstimator(small_model(randomise_scores=True), FAST, seed=0)
    rng = np.random.default_rng(0)
    clouds = [blob(rng, [0.1, 0.0, 0.8]), blob(rng, [-0.2, 0.1, 1.1], 40)]
    estimates = estimator.estimate_points(clouds, ['camera', 'bowl'], scores=[0.9, 0.4])
    assert [e.instance_id for e in estimates] == [0, 1]
    assert [e.num_points for e in estimates] == [600, 40]
    assert [e.detection_score for e in estimates] == [0.9, 0.4]
    for estimate in estimates:
        assert 0.0 < estimate.pose_confidence <= 1.0
        assert estimate.score == pytest.approx(estimate.detection_score
                                               * estimate.pose_confidence)
        assert_valid(estimate)
        assert estimate.covariance is None and not estimate.warm_started
    assert estimates[1].size[0] == estimates[1].size[2]   # bowl: symmetric about y


def test_default_model_estimates_one_object():
    torch.manual_seed(0)
    estimator = PoseEstimator(CatPoseNet(), SamplerConfig(steps=2), seed=0)
    cloud = blob(np.random.default_rng(1), [0.0, 0.0, 0.7], 2000)
    (estimate,) = estimator.estimate_points([cloud], ['laptop'])
    assert_valid(estimate)
    assert estimator.num_points == 1024 and estimate.num_points == 2000


def test_bad_instances_are_skipped_with_reasons_and_the_rest_estimated():
    estimator = PoseEstimator(small_model(), FAST, seed=0)
    depth, instances = frame()
    result = estimator.estimate_from_depth(depth, K, instances)
    assert isinstance(result, EstimationResult)
    assert [e.instance_id for e in result.estimates] == [1, 5]
    assert [(e.category, e.detection_score, e.num_points) for e in result.estimates] == [
        ('mug', 0.9, 1200), ('bottle', 0.5, 2000)]
    reasons = dict(result.skipped)
    assert sorted(reasons) == [2, 3, 4]
    assert 'only 0 valid depth points' in reasons[2]
    assert "unknown category 'teapot'" in reasons[3]
    assert 'mask shape' in reasons[4]
    assert set(result.timings_ms) == set(TIMING_KEYS)
    assert all(v >= 0 for v in result.timings_ms.values())
    assert result.timings_ms['total'] >= result.timings_ms['encode']
    for estimate in result.estimates:
        assert_valid(estimate)


def test_warm_start_starts_from_the_given_pose():
    config = SamplerConfig(steps=4, track_t0=1e-4)   # start noise sigma ~ 1 cm
    estimator = PoseEstimator(small_model(), config, seed=0)
    depth, instances = frame()
    init = make_transform(Rotation.from_rotvec([0.3, -1.0, 0.5]).as_matrix(),
                          [0.02, -0.01, 0.72])
    result = estimator.estimate_from_depth(depth, K, instances, init_poses={1: init})
    warm, cold = result.estimates
    assert warm.warm_started and not cold.warm_started
    assert np.linalg.norm(warm.translation - init[:3, 3]) < 0.06
    angle = Rotation.from_matrix(warm.rotation.T @ init[:3, :3]).magnitude()
    assert np.degrees(angle) < 10.0


def test_cold_checks_sample_each_warm_object_again_from_noise():
    config = SamplerConfig(steps=4, track_t0=1e-4)
    estimator = PoseEstimator(small_model(randomise_scores=True), config, seed=0)
    depth, instances = frame()
    init = make_transform(Rotation.from_rotvec([0.3, -1.0, 0.5]).as_matrix(),
                          [0.02, -0.01, 0.72])
    clouds, _ = backproject_instances(depth_to_metres(depth, 0.001), K, instances)
    kept = [i for i in instances if i.instance_id in (1, 5)]
    result = estimator.estimate_from_clouds(kept, clouds, {1: init}, cold_checks=True)
    assert [e.instance_id for e in result.estimates] == [1, 5]
    assert sorted(result.cold_checks) == [1]          # only the warm-started object
    check, warm = result.cold_checks[1], result.estimates[0]
    assert_valid(check)
    assert not check.warm_started and warm.warm_started
    assert check.category == 'mug' and check.num_points == warm.num_points
    # Started from noise at t0, the check is far from the warm start's neighbourhood.
    angle = Rotation.from_matrix(check.rotation.T @ init[:3, :3]).magnitude()
    assert np.degrees(angle) > 10.0
    plain = estimator.estimate_from_clouds(kept, clouds, {1: init})
    assert plain.cold_checks == {}


def test_several_candidates_give_a_covariance():
    config = SamplerConfig(steps=3, num_candidates=4, aggregation='mean')
    estimator = PoseEstimator(small_model(randomise_scores=True), config, seed=0)
    cloud = blob(np.random.default_rng(2), [0.0, 0.0, 0.9])
    (estimate,) = estimator.estimate_points([cloud], ['can'])
    assert estimate.covariance.shape == (6, 6)
    np.testing.assert_allclose(estimate.covariance, estimate.covariance.T, atol=1e-9)
    eigenvalues = np.linalg.eigvalsh(estimate.covariance)  # float32 sums: relative round-off
    assert (eigenvalues > -1e-6 * eigenvalues.max()).all() and eigenvalues.max() > 0


def test_same_seed_same_result_and_checkpoint_loading(tmp_path):
    model = small_model(randomise_scores=True)
    path = save_checkpoint(tmp_path / 'model.pt', model, SMALL, {})
    depth, instances = frame()
    direct = PoseEstimator(model, FAST, seed=7).estimate_from_depth(depth, K, instances)
    loaded = PoseEstimator.from_checkpoint(path, 'cpu', FAST, seed=7)
    again = loaded.estimate_from_depth(depth, K, instances)
    for a, b in zip(direct.estimates, again.estimates):
        np.testing.assert_allclose(a.rotation, b.rotation, atol=1e-6)
        np.testing.assert_allclose(a.translation, b.translation, atol=1e-6)
        np.testing.assert_allclose(a.size, b.size, atol=1e-6)


@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
def test_half_width_encoder_gives_nearly_the_float32_pose(precision):
    from catpose_ros.model.checkpoint import load_checkpoint
    from catpose_ros.resources import resolve_checkpoint
    model = load_checkpoint(resolve_checkpoint(''))[0]
    cloud = blob(np.random.default_rng(5), [0.02, -0.01, 0.8], 1500)
    poses = {}
    for name in ('fp32', precision):
        estimator = PoseEstimator(model, SamplerConfig(steps=10), seed=3, precision=name)
        (poses[name],) = estimator.estimate_points([cloud], ['can'])
    assert not np.array_equal(poses['fp32'].rotation, poses[precision].rotation)  # it ran
    # A can is symmetric about y: its turn about y is arbitrary, so compare as the metric does.
    errors = pose_errors(poses[precision].rotation[None], poses[precision].translation[None],
                         poses['fp32'].rotation[None], poses['fp32'].translation[None],
                         np.array([True]))
    assert errors.rotation_deg[0] < 5.0
    np.testing.assert_allclose(poses['fp32'].translation, poses[precision].translation,
                               atol=0.005)
    with pytest.raises(ValueError, match='precision'):
        PoseEstimator(small_model(), FAST, precision='int8')


def test_caller_errors_raise():
    estimator = PoseEstimator(small_model(), FAST, seed=0)
    cloud = blob(np.random.default_rng(3), [0.0, 0.0, 0.9])
    with pytest.raises(UnknownCategoryError):
        estimator.estimate_points([cloud], ['teapot'])
    with pytest.raises(ValueError, match='one entry per object'):
        estimator.estimate_points([cloud], ['mug', 'can'])
    with pytest.raises(ValueError, match=r'\(N, 3\)'):
        estimator.estimate_points([cloud[:, :2]], ['mug'])
    with pytest.raises(ValueError, match='4x4'):
        estimator.estimate_points([cloud], ['mug'], init_poses=[np.eye(3)])
    assert estimator.estimate_points([], []) == []
    depth, instances = frame()
    with pytest.raises(ValueError, match='intrinsics'):
        estimator.estimate_from_depth(depth[:60], K, instances)


def test_invalid_init_pose_skips_only_that_instance():
    estimator = PoseEstimator(small_model(), FAST, seed=0)
    depth, instances = frame()
    bad = np.full((4, 4), np.nan)
    result = estimator.estimate_from_depth(depth, K, instances, init_poses={5: bad})
    assert [e.instance_id for e in result.estimates] == [1]
    assert '4x4' in dict(result.skipped)[5]


def test_frame_without_usable_instances_returns_empty_result():
    estimator = PoseEstimator(small_model(), FAST, seed=0)
    depth, instances = frame()
    result = estimator.estimate_from_depth(depth, K, instances[1:4])
    assert result.estimates == [] and len(result.skipped) == 3


def test_regression_head_gives_the_regressed_pose_and_ignores_warm_starts():
    model = small_model()
    estimator = PoseEstimator(model, FAST, seed=0, head='regression')
    cloud = blob(np.random.default_rng(3), [0.05, -0.02, 0.9], SMALL.num_points)
    cold, = estimator.estimate_points([cloud], ['mug'])
    warm, = estimator.estimate_points([cloud], ['mug'], init_poses=[np.eye(4)])
    with torch.inference_mode():
        pose9 = model.regress(model.encode(torch.as_tensor(cloud)[None]))[0]
    expected = rotation_6d_to_matrix(pose9[:6]).double().numpy()
    np.testing.assert_allclose(cold.rotation, expected, atol=1e-5)
    np.testing.assert_allclose(cold.translation, pose9[6:].numpy() + cloud.mean(0), atol=1e-5)
    np.testing.assert_allclose(warm.translation, cold.translation, atol=1e-6)
    assert cold.covariance is None
    with pytest.raises(ValueError, match='head'):
        PoseEstimator(model, FAST, head='energy')


def test_malformed_given_clouds_skip_only_their_objects():
    estimator = PoseEstimator(small_model(), FAST, seed=0)
    _, instances = frame()
    good, rng = instances[0], np.random.default_rng(3)
    others = [Instance(i, 'can', good.mask, 0.5) for i in (6, 7, 8)]
    nan_cloud = blob(rng, [0.0, 0.0, 0.8])
    nan_cloud[5, 2] = np.nan
    clouds = {1: blob(rng, [0.0, 0.0, 0.7]), 6: nan_cloud, 7: blob(rng, [0, 0, 1])[:, :2],
              8: np.array([['a', 'b', 'c']] * 60)}
    result = estimator.estimate_from_clouds([good] + others, clouds)
    assert [e.instance_id for e in result.estimates] == [1]
    reasons = dict(result.skipped)
    assert 'non-finite' in reasons[6] and '(M, 3)' in reasons[7] and 'numeric' in reasons[8]
    assert list(result.clouds) == [1]


def test_non_finite_output_from_clouds_is_a_skip_without_a_debug_cloud(monkeypatch):
    estimator = PoseEstimator(small_model(), FAST, seed=0)
    _, instances = frame()
    rng = np.random.default_rng(4)
    clouds = {1: blob(rng, [0.0, 0.0, 0.7]), 5: blob(rng, [0.1, 0.0, 0.8])}
    original = estimator._poses

    def first_pose_nan(*args):
        poses, covariance, candidates = original(*args)
        poses = poses.clone()
        poses[0] = float('nan')
        return poses, covariance, candidates

    monkeypatch.setattr(estimator, '_poses', first_pose_nan)
    result = estimator.estimate_from_clouds([instances[0], instances[4]], clouds)
    assert [e.instance_id for e in result.estimates] == [5]
    assert dict(result.skipped)[1].startswith(NON_FINITE_OUTPUT)
    assert list(result.clouds) == [5]
