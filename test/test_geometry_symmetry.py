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

"""One rotation per y-symmetric object: nearest the previous, canonical without history."""

import math

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.geometry.symmetry import (canonical_about_y, closest_about_y, handle_visible,
                                           rotation_about_y)

ANGLES = np.linspace(-math.pi, math.pi, 3601)


def _angle_deg(a, b):
    return math.degrees(math.acos(np.clip((np.trace(a.T @ b) - 1) / 2, -1, 1)))


def _random_rotation(seed):
    return Rotation.random(random_state=seed).as_matrix()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10 ** 6), turn=st.floats(-math.pi, math.pi),
       wobble=st.floats(0.0, 0.3))
def test_closest_turn_beats_every_other_turn(seed, turn, wobble):
    rotation = _random_rotation(seed)
    reference = rotation @ rotation_about_y(turn) @ Rotation.from_rotvec(
        [wobble, 0.0, wobble / 2]).as_matrix()
    chosen = closest_about_y(rotation, reference)
    assert np.allclose(chosen[:, 1], rotation[:, 1])
    assert np.allclose(chosen.T @ chosen, np.eye(3)) and np.isclose(np.linalg.det(chosen), 1)
    best = min(_angle_deg(rotation @ rotation_about_y(a), reference) for a in ANGLES[::6])
    assert _angle_deg(chosen, reference) <= best + 1e-6


def test_opposite_y_axes_have_no_closest_turn():
    flipped = Rotation.from_rotvec([math.pi, 0.0, 0.0]).as_matrix()
    assert closest_about_y(np.eye(3), flipped) is None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10 ** 6), turn=st.floats(-math.pi, math.pi))
def test_canonical_turn_does_not_depend_on_the_estimators_turn(seed, turn):
    rotation = _random_rotation(seed)
    translation = np.array([0.1, -0.05, 0.7])
    first = canonical_about_y(rotation, translation)
    assert np.allclose(canonical_about_y(rotation @ rotation_about_y(turn), translation), first)
    towards_camera = -translation / np.linalg.norm(translation)
    best = max((rotation @ rotation_about_y(a))[:, 0] @ towards_camera for a in ANGLES)
    assert first[:, 0] @ towards_camera >= best - 1e-6


def test_canonical_turn_when_looking_down_the_symmetry_axis():
    down = Rotation.from_rotvec([math.pi / 2, 0.0, 0.0]).as_matrix()  # object y -> camera z
    assert np.allclose(down[:, 1], [0, 0, 1])
    chosen = canonical_about_y(down @ rotation_about_y(1.0), np.array([0.0, 0.0, 0.8]))
    assert np.allclose(chosen[:, 0], [1, 0, 0])


def _mug_points(handle: bool, seed: int = 0, radius: float = 0.04):
    """Points of the camera-facing half of a mug body (y up), plus its handle on +x."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(-math.pi / 2, math.pi / 2, 3000)  # facing the camera at -z
    height = rng.uniform(-0.05, 0.05, 3000)
    body = np.column_stack([radius * np.sin(angle), height, -radius * np.cos(angle)])
    parts = [body]
    if handle:
        s = rng.uniform(0, math.pi, 300)
        parts.append(np.column_stack([radius + 0.025 * np.sin(s), 0.03 * np.cos(s),
                                      rng.normal(0, 0.002, 300)]))
    points = np.concatenate(parts) + rng.normal(0, 0.001, (sum(len(p) for p in parts), 3))
    return points + np.array([0.0, 0.0, 0.6])


@pytest.mark.parametrize('turn', [0.0, 1.0, 2.5])
def test_handle_shows_whatever_turn_the_estimate_has(turn):
    rotation = rotation_about_y(turn)  # only the y axis matters
    assert handle_visible(_mug_points(True), rotation)
    assert not handle_visible(_mug_points(False), rotation)
    assert not handle_visible(np.zeros((3, 3)), rotation)


@pytest.mark.slow
def test_handle_check_agrees_with_rendered_ground_truth():
    """Rendered test-library mugs (sensor noise on), true y axis: the figures in README."""
    from catpose_ros.data import scenes
    from catpose_ros.data.sensor import SensorConfig
    from catpose_ros.geometry.backprojection import backproject, depth_to_metres
    from catpose_ros.geometry.camera import NOCS_REAL_INTRINSICS

    counts = {True: [0, 0], False: [0, 0]}  # truth -> [agreeing, total]
    for seed in range(12):
        rng = np.random.default_rng(1000 + seed)
        scene = scenes.generate_scene(scenes.SceneConfig(
            split='test', categories=('mug', 'bowl', 'can'), max_objects=5), rng, 'mugs')
        poses = [scenes.sample_camera_pose(scene, rng) for _ in range(3)]
        for frame in scenes.render_sequence(scene, poses, NOCS_REAL_INTRINSICS,
                                            SensorConfig(), rng):
            depth = depth_to_metres(frame.depth, 0.001)
            for obj in frame.objects:
                points = backproject(depth, frame.mask == obj.instance_id, frame.intrinsics)
                if obj.category != 'mug' or len(points) < 50:
                    continue
                agree = handle_visible(points, obj.rotation) == obj.handle_visible
                counts[obj.handle_visible][0] += int(agree)
                counts[obj.handle_visible][1] += 1
    assert counts[True][1] >= 20 and counts[False][1] >= 5
    assert counts[True][0] / counts[True][1] >= 0.8
    assert counts[False][0] / counts[False][1] >= 0.85
