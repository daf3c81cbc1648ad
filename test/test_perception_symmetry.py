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

"""FramePipeline keeps the turn of y-symmetric objects from frame to frame (no spinning TF)."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.geometry.symmetry import rotation_about_y
from catpose_ros.perception import pipeline as pipeline_module
from catpose_ros.perception.estimator import EstimationResult, PoseEstimate
from catpose_ros.perception.instances import Instance, mask_box
from catpose_ros.perception.pipeline import FramePipeline
from catpose_ros.perception.tracking import TrackingConfig

K = CameraIntrinsics(200.0, 200.0, 80.0, 60.0, 160, 120)
TILT = Rotation.from_rotvec([0.4, 0.2, -0.1]).as_matrix()


class _SpinningEstimator:
    """Returns the right y axis but a random turn about it, like a model of a symmetric object."""

    min_depth, max_depth = 0.1, 4.0

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)

    def estimate_from_clouds(self, instances, clouds, init_poses=None, cold_checks=False):
        estimates = []
        for instance in instances:
            turn = rotation_about_y(self.rng.uniform(-math.pi, math.pi))
            estimates.append(PoseEstimate(
                instance.instance_id, instance.category, TILT @ turn,
                np.array([0.05 * instance.instance_id, 0.0, 0.7]), np.full(3, 0.08), None,
                0.9, 500, instance.instance_id in (init_poses or {})))
        return EstimationResult(estimates)


def _frame(categories):
    depth = np.zeros((120, 160), np.float32)
    instances = []
    for index, category in enumerate(categories):
        mask = np.zeros((120, 160), bool)
        mask[30:70, 10 + 50 * index:40 + 50 * index] = True
        depth[mask] = 0.7
        instances.append(Instance(index + 1, category, mask, 0.9, mask_box(mask)))
    return depth, K, instances


def _turns_deg(results, category):
    rotations = [p.estimate.rotation for r in results for p in r.poses
                 if p.estimate.category == category]
    return [math.degrees(Rotation.from_matrix(a.T @ b).magnitude())
            for a, b in zip(rotations, rotations[1:])]


def _run(stable, categories=('bowl', 'camera', 'mug'), frames=6):
    pipeline = FramePipeline(_SpinningEstimator(), TrackingConfig(
        stable_symmetric_rotation=stable))
    return [pipeline.process(i * 33_000_000, *_frame(categories)) for i in range(frames)]


@pytest.mark.parametrize('handle_shows', [False, True])
def test_symmetric_objects_keep_their_turn_and_others_are_left_alone(handle_shows,
                                                                     monkeypatch):
    monkeypatch.setattr(pipeline_module, 'handle_visible', lambda points, rotation:
                        handle_shows)
    before, after = _run(False), _run(True)
    assert max(_turns_deg(before, 'bowl')) > 30
    assert max(_turns_deg(after, 'bowl')) < 1e-6
    # A camera is not symmetric: its estimate is published as it is.
    assert _turns_deg(after, 'camera') == pytest.approx(_turns_deg(before, 'camera'))
    # A mug is held like a bowl while its handle does not show, else left alone.
    if handle_shows:
        assert _turns_deg(after, 'mug') == pytest.approx(_turns_deg(before, 'mug'))
    else:
        assert max(_turns_deg(after, 'mug')) < 1e-6


def test_new_symmetric_track_starts_from_the_canonical_turn():
    first = _run(True, ('bowl',), frames=1)[0].poses[0].estimate
    towards_camera = -first.translation / np.linalg.norm(first.translation)
    best = max((TILT @ rotation_about_y(a))[:, 0] @ towards_camera
               for a in np.linspace(-math.pi, math.pi, 721))
    assert first.rotation[:, 0] @ towards_camera >= best - 1e-6
    assert np.allclose(first.rotation[:, 1], TILT[:, 1])
