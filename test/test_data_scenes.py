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


"""Tabletop scenes: placement, annotations per frame, handle visibility, smooth sequences."""

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from catpose_ros.data import render as rd
from catpose_ros.data import scenes
from catpose_ros.data.sensor import SensorConfig
from catpose_ros.data.shapes import library_instance
from catpose_ros.geometry.camera import NOCS_REAL_INTRINSICS

INTR = NOCS_REAL_INTRINSICS.scaled(320, 240)


def _angle_deg(r1: np.ndarray, r2: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(r1.T @ r2) - 1) / 2, -1, 1))))


def test_scenes_respect_counts_and_do_not_overlap():
    config = scenes.SceneConfig()
    rng = np.random.default_rng(0)
    for k in range(10):
        scene = scenes.generate_scene(config, rng, 'scene_%d' % k)
        assert config.min_objects - 1 <= len(scene.objects) <= config.max_objects
        assert max(Counter(o.shape.category for o in scene.objects).values()) <= 2
        footprints = [(o.pose[:2, 3], o.footprint_radius) for o in scene.objects]
        footprints += [(d.pose[:2, 3], d.footprint_radius) for d in scene.distractors]
        for i, (p, r) in enumerate(footprints):
            for q, s in footprints[i + 1:]:
                assert np.linalg.norm(p - q) >= r + s
        for obj in scene.objects:
            lowest = (obj.shape.metric_vertices @ obj.pose[:3, :3].T + obj.pose[:3, 3])[:, 2]
            assert lowest.min() == pytest.approx(0.0, abs=1e-6)
            assert obj.shape.model_id.split('-')[1] == 'train'


def test_rendered_frame_annotations_match_masks_and_nocs():
    rng = np.random.default_rng(4)
    scene = scenes.generate_scene(scenes.SceneConfig(min_distractors=2), rng, 's')
    frame = scenes.render_frame(scene, scenes.sample_camera_pose(scene, rng), INTR,
                                SensorConfig(), rng, 's/0000')
    assert frame.depth.shape == frame.mask.shape == (240, 320) and frame.frame_id == 's/0000'
    ids = set(np.unique(frame.mask)) - {0}
    assert ids == {o.instance_id for o in frame.objects}
    assert len(frame.objects) <= len(scene.objects)
    v, u = np.nonzero(frame.mask == 0)
    assert not frame.coord[v, u].any()
    for obj in frame.objects:
        pixels = frame.mask == obj.instance_id
        assert (pixels & (frame.depth > 0)).sum() >= 64
        np.testing.assert_allclose(obj.rotation @ obj.rotation.T, np.eye(3), atol=1e-9)
        # Noisy depth back-projected with the ground truth lands near the object's NOCS map.
        v, u = np.nonzero(pixels & (frame.depth > 0))
        z = frame.depth[v, u].astype(np.float64)
        points = np.stack([(u - INTR.cx) * z / INTR.fx, (v - INTR.cy) * z / INTR.fy, z], 1)
        nocs = (points - obj.translation) @ obj.rotation / obj.scale + 0.5
        assert np.median(np.linalg.norm(nocs - frame.coord[v, u], axis=1)) < 0.05
        assert scene.objects[obj.instance_id - 1].shape.model_id == obj.model_id


def test_noise_free_frames_keep_exact_nocs_and_tiny_objects_are_dropped():
    rng = np.random.default_rng(8)
    scene = scenes.generate_scene(scenes.SceneConfig(), rng)
    pose = scenes.sample_camera_pose(scene, rng)
    frame = scenes.render_frame(scene, pose, INTR, SensorConfig.noiseless(), rng)
    for obj in frame.objects:
        v, u = np.nonzero(frame.mask == obj.instance_id)
        z = frame.depth[v, u].astype(np.float64)
        points = np.stack([(u - INTR.cx) * z / INTR.fx, (v - INTR.cy) * z / INTR.fy, z], 1)
        nocs = (points - obj.translation) @ obj.rotation / obj.scale + 0.5
        assert np.median(np.linalg.norm(nocs - frame.coord[v, u], axis=1)) < 0.01
    strict = replace(scene, config=replace(scene.config, min_visible_pixels=10 ** 9))
    empty = scenes.render_frame(strict, pose, INTR, None, rng)
    assert not empty.objects and not empty.mask.any()


def _single_mug_scene(yaw: float) -> scenes.Scene:
    mug = library_instance('mug', 'test', 0)
    pose = np.eye(4)
    pose[:3, :3] = scenes.rotation_z(yaw) @ scenes.UPRIGHT
    pose[2, 3] = mug.size[1] / 2
    look = rd.Appearance(np.array([[0.7, 0.6, 0.5], [0.2, 0.3, 0.4]]))
    return scenes.Scene([scenes.SceneObject(1, mug, pose, look, 0.07)], [],
                        np.array([1.0, 1.0]), look, look, rd.Light(), scenes.SceneConfig())


def test_handle_visibility_flips_when_the_mug_turns_away():
    # Camera on the -y side of the world, low elevation, looking at the mug.
    camera = scenes.look_at(np.array([0.0, -0.6, 0.12]), np.array([0.0, 0.0, 0.04]))
    rng = np.random.default_rng(0)
    # Object +x is the handle; yaw -90 deg turns it to world -y (towards the camera).
    towards = scenes.render_frame(_single_mug_scene(-np.pi / 2), camera, INTR, None, rng)
    away = scenes.render_frame(_single_mug_scene(np.pi / 2), camera, INTR, None, rng)
    side = scenes.render_frame(_single_mug_scene(0.0), camera, INTR, None, rng)
    assert towards.objects[0].handle_visible and side.objects[0].handle_visible
    assert not away.objects[0].handle_visible


def test_camera_trajectory_is_smooth_and_stays_in_range():
    rng = np.random.default_rng(2)
    scene = scenes.generate_scene(scenes.SceneConfig(), rng)
    poses = scenes.camera_trajectory(scene, 60, rng)
    assert len(poses) == 60
    for a, b in zip(poses, poses[1:]):
        assert np.linalg.norm(a[:3, 3] - b[:3, 3]) < 0.03
        assert _angle_deg(a[:3, :3], b[:3, :3]) < 4.0
    centre = scenes._scene_centre(scene)
    for pose in poses:
        offset = pose[:3, 3] - centre
        distance = np.linalg.norm(offset)
        assert 0.45 <= distance <= 1.25
        assert 15 <= np.degrees(np.arcsin(offset[2] / distance)) <= 75
    with pytest.raises(ValueError):
        scenes.camera_trajectory(scene, 0, rng)


def test_moving_objects_move_smoothly_without_collisions():
    rng = np.random.default_rng(3)
    scene = scenes.generate_scene(scenes.SceneConfig(), rng)
    sequence = scenes.moving_objects_sequence(scene, 40, rng)
    assert len(sequence) == 40
    moved = 0.0
    for a, b in zip(sequence, sequence[1:]):
        for oa, ob in zip(a.objects, b.objects):
            step = np.linalg.norm(oa.pose[:3, 3] - ob.pose[:3, 3])
            assert step < 0.01 and _angle_deg(oa.pose[:3, :3], ob.pose[:3, :3]) < 6
            assert ob.pose[2, 3] == pytest.approx(oa.pose[2, 3])
            moved += step
    assert moved > 0
    for frame_scene in sequence:
        discs = [(o.pose[:2, 3], o.footprint_radius) for o in frame_scene.objects]
        discs += [(d.pose[:2, 3], d.footprint_radius) for d in frame_scene.distractors]
        for i, (p, r) in enumerate(discs):
            for q, s in discs[i + 1:]:
                assert np.linalg.norm(p - q) >= r + s - 1e-9


def test_render_sequence_yields_one_frame_per_pose():
    rng = np.random.default_rng(6)
    small = NOCS_REAL_INTRINSICS.scaled(160, 120)
    scene = scenes.generate_scene(scenes.SceneConfig(split='test'), rng, 'seq')
    poses = scenes.camera_trajectory(scene, 3, rng)
    frames = list(scenes.render_sequence(scene, poses, small, SensorConfig(), rng))
    assert [f.frame_id for f in frames] == ['seq/0000', 'seq/0001', 'seq/0002']
    assert all(o.model_id.split('-')[1] == 'test' for f in frames for o in f.objects)
    moving = scenes.moving_objects_sequence(scene, 2, rng)
    assert len(list(scenes.render_sequence(moving, poses[:2], small, None, rng))) == 2
    with pytest.raises(ValueError):
        list(scenes.render_sequence(moving, poses, small, None, rng))


def test_generate_command_writes_a_readable_nocs_split(tmp_path):
    import argparse

    from catpose_ros.cli import data as data_cli
    from catpose_ros.data import nocs

    parser = argparse.ArgumentParser()
    data_cli.register(parser.add_subparsers(dest='command', required=True))
    args = parser.parse_args(['data', 'generate', '--out', str(tmp_path), '--scenes', '1',
                              '--frames-per-scene', '2', '--split', 'test',
                              '--intrinsics', 'real', '--seed', '3'])
    assert args.func(args) == 0
    dataset = nocs.NocsDataset(tmp_path, 'real_test')
    assert len(dataset) == 2
    expected = list(data_cli.scene_frames(0, 3, 'test', 'real', 2, 'orbit', True))
    for frame, reference in zip(dataset, expected):
        assert [o.instance_id for o in frame.objects] == \
            [o.instance_id for o in reference.objects]
        for obj, ref in zip(frame.objects, reference.objects):
            np.testing.assert_allclose(obj.translation, ref.translation, atol=1e-4)
        np.testing.assert_allclose(frame.depth, reference.depth, atol=1e-3)
    assert nocs.gts_path(tmp_path, 'real_test', 'scene_1', 1).is_file()
    cache = tmp_path / 'cache.npz'
    args = parser.parse_args(['data', 'cache', '--root', str(tmp_path), '--split', 'real_test',
                              '--out', str(cache)])
    assert args.func(args) == 0
    with np.load(cache) as arrays:
        assert len(arrays['rotation']) == sum(len(f.objects) for f in expected)
