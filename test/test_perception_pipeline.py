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

"""FramePipeline: stable track ids, warm starts, bad instances skipped without losing tracks."""

import numpy as np
import pytest
from support import TINY
import torch

from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.model.pose_sampler import SamplerConfig
from catpose_ros.model.posenet import CatPoseNet
from catpose_ros.perception.estimator import PoseEstimator
from catpose_ros.perception.instances import Instance, mask_box
from catpose_ros.perception.pipeline import FramePipeline
from catpose_ros.perception.tracking import TrackingConfig

K = CameraIntrinsics(200.0, 200.0, 80.0, 60.0, 160, 120)


def two_boxes(shift_px: int = 0):
    """Depth of two flat patches at 0.6 m and 0.8 m, and their instances."""
    depth = np.zeros((120, 160), np.float32)
    masks = [np.zeros((120, 160), bool), np.zeros((120, 160), bool)]
    masks[0][30:60, 20 + shift_px:50 + shift_px] = True
    masks[1][50:90, 90 + shift_px:130 + shift_px] = True
    depth[masks[0]] = 0.6
    depth[masks[1]] = 0.8
    return depth, [Instance(i + 1, name, m, 0.9, mask_box(m))
                   for i, (name, m) in enumerate(zip(('mug', 'bowl'), masks))]


@pytest.fixture()
def pipeline() -> FramePipeline:
    torch.manual_seed(0)
    estimator = PoseEstimator(CatPoseNet(TINY).eval(), SamplerConfig(steps=2), seed=0,
                              min_points=20)
    return FramePipeline(estimator)


def test_tracks_keep_their_ids_and_warm_start(pipeline):
    first = pipeline.process(0, *_frame(0))
    second = pipeline.process(33_000_000, *_frame(2))
    assert sorted(p.start for p in first.poses) == ['new', 'new']
    ids = {p.estimate.category: p.track_id for p in first.poses}
    assert {p.estimate.category: p.track_id for p in second.poses} == ids
    assert all(p.start in ('warm', 'reinit') for p in second.poses)
    assert second.latency_ms['frame_total'] > 0 and 'encode' in second.latency_ms


def test_bad_instance_is_skipped_and_other_track_survives(pipeline):
    first = pipeline.process(0, *_frame(0))
    depth, instances = two_boxes(1)
    depth[instances[0].mask] = np.nan
    result = pipeline.process(33_000_000, depth, K, instances)
    assert [p.estimate.category for p in result.poses] == ['bowl']
    assert [i for i, _ in result.skipped] == [1]
    bowl_id = [p.track_id for p in first.poses if p.estimate.category == 'bowl']
    assert [p.track_id for p in result.poses] == bowl_id
    assert len(pipeline.tracker.tracks) == 2


def test_reset_starts_every_object_cold(pipeline):
    pipeline.process(0, *_frame(0))
    pipeline.reset()
    result = pipeline.process(33_000_000, *_frame(1))
    assert all(p.start == 'new' for p in result.poses)


def _frame(shift_px: int):
    depth, instances = two_boxes(shift_px)
    return depth, K, instances


def test_each_mask_is_back_projected_once_and_its_points_reach_the_network(
        pipeline, monkeypatch):
    from catpose_ros.perception import estimator as estimator_module

    calls = []
    real = estimator_module.backproject

    def counting(depth_m, mask, *args):
        calls.append(int(mask.sum()))
        return real(depth_m, mask, *args)

    monkeypatch.setattr(estimator_module, 'backproject', counting)
    encoded = []
    encode = pipeline.estimator.model.encode
    monkeypatch.setattr(pipeline.estimator.model, 'encode',
                        lambda points: encoded.append(points.clone()) or encode(points))
    depth, instances = two_boxes()
    result = pipeline.process(0, depth, K, instances)
    assert sorted(calls) == sorted(int(i.mask.sum()) for i in instances)
    assert sorted(result.clouds) == [1, 2]
    network_points = encoded[0].numpy()
    for row, pose in enumerate(result.poses):
        cloud = result.clouds[pose.estimate.instance_id]
        assert cloud.shape == (TINY.num_points, 3)
        np.testing.assert_array_equal(cloud, network_points[row])
    assert result.latency_ms['backproject'] > 0


def test_depth_range_must_agree_with_the_estimator(pipeline):
    with pytest.raises(ValueError, match='one back-projection'):
        FramePipeline(pipeline.estimator, min_depth=0.3)
    assert FramePipeline(pipeline.estimator).max_depth == pipeline.estimator.max_depth


@pytest.mark.parametrize('relock_after_frames', [0, 1])
def test_warm_starts_get_cold_checks_in_the_same_batch_and_relocked_tracks_publish_them(
        pipeline, monkeypatch, relock_after_frames):
    hair_trigger = TrackingConfig(relock_after_frames=relock_after_frames,
                                  relock_rotation_deg=1e-3, relock_translation_m=1e-6)
    tracked = FramePipeline(pipeline.estimator, hair_trigger)
    monkeypatch.setattr(tracked.estimator, 'confidence_check', False)
    rows = []
    sample = tracked.estimator.sampler.sample
    monkeypatch.setattr(tracked.estimator.sampler, 'sample', lambda score, features, *args:
                        rows.append(len(features)) or sample(score, features, *args))
    tracked.process(0, *_frame(0))
    result = tracked.process(33_000_000, *_frame(1))
    starts = sorted(p.start for p in result.poses)
    if relock_after_frames:
        assert rows == [2, 4] and starts == ['relock', 'relock']
        for pose in result.poses:
            assert not pose.estimate.warm_started
            np.testing.assert_allclose(tracked.tracker.track(pose.track_id).rotation,
                                       pose.estimate.rotation)
    else:
        assert rows == [2, 2] and starts == ['warm', 'warm']


def test_pose_confidence_checks_share_the_batch_with_the_cold_checks(pipeline, monkeypatch):
    tracked = FramePipeline(pipeline.estimator, TrackingConfig(relock_after_frames=3))
    rows = []
    sample = tracked.estimator.sampler.sample
    monkeypatch.setattr(tracked.estimator.sampler, 'sample', lambda score, features, *args:
                        rows.append(len(features)) or sample(score, features, *args))
    first = tracked.process(0, *_frame(0))
    second = tracked.process(33_000_000, *_frame(1))
    # Cold frame: two objects and a confidence check each; tracked frame: two warm starts
    # and their cold checks, which also rate them.
    assert rows == [4, 4]
    for pose in first.poses + second.poses:
        assert 0.0 < pose.estimate.pose_confidence <= 1.0
