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


"""Rasteriser: analytic depth, NOCS-map consistency, occlusion, culling and shading."""

import numpy as np
import pytest

from catpose_ros.data import render as rd
from catpose_ros.data import shapes
from catpose_ros.geometry.camera import NOCS_CAMERA_INTRINSICS, NOCS_REAL_INTRINSICS

APPEARANCE = rd.Appearance(np.array([[0.8, 0.2, 0.2], [0.2, 0.8, 0.2]]), 'stripes')


def _pose(rotation=np.eye(3), translation=(0.0, 0.0, 0.8)) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, translation
    return pose


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _item(inst: shapes.ShapeInstance, pose: np.ndarray) -> rd.RenderItem:
    return rd.RenderItem(inst.metric_vertices, inst.faces, pose, inst.vertices + 0.5,
                         APPEARANCE, inst.parts)


def _centre_pixel(intr):
    return int(round(intr.cy)), int(round(intr.cx))


def test_cube_depth_at_the_centre_pixel_is_the_analytic_distance():
    intr = NOCS_REAL_INTRINSICS
    cube = shapes.box(np.array([0.05, 0.05, 0.05]))
    out = rd.render([rd.RenderItem(cube.vertices, cube.faces, _pose(), cube.vertices + 0.5,
                                   APPEARANCE)], intr)
    v, u = _centre_pixel(intr)
    assert out.depth[v, u] == pytest.approx(0.75, abs=1e-3)
    assert out.item[v, u] == 0
    # Its silhouette is the projected square (0.1 m at 0.75 m: about 79 pixels a side).
    side = np.sqrt((out.item == 0).sum())
    assert side == pytest.approx(intr.fx * 0.1 / 0.75, rel=0.03)


def test_can_depth_at_the_centre_pixel_is_the_analytic_distance():
    intr = NOCS_CAMERA_INTRINSICS
    can = shapes.library_instance('can', 'train', 7)
    out = rd.render([_item(can, _pose(translation=(0.0, 0.0, 0.6)))], intr)
    v, u = _centre_pixel(intr)
    assert out.depth[v, u] == pytest.approx(0.6 - can.size[2] / 2, abs=1e-3)


@pytest.mark.parametrize('category', ['mug', 'laptop', 'camera', 'bowl'])
def test_back_projected_depth_reproduces_the_nocs_map(category):
    intr = NOCS_REAL_INTRINSICS.scaled(320, 240)
    rng = np.random.default_rng(3)
    inst = shapes.library_instance(category, 'test', 11)
    pose = _pose(_random_rotation(rng), (0.03, -0.02, 0.7))
    out = rd.render([_item(inst, pose)], intr, shade=False)
    v, u = np.nonzero(out.item == 0)
    assert len(v) > 500
    z = out.depth[v, u].astype(np.float64)
    points = np.stack([(u - intr.cx) * z / intr.fx, (v - intr.cy) * z / intr.fy, z], 1)
    nocs = (points - pose[:3, 3]) @ pose[:3, :3] / inst.scale + 0.5
    error = np.linalg.norm(nocs - out.coords[v, u], axis=1)
    assert np.median(error) < 0.01
    assert np.all((out.coords[v, u] >= -1e-6) & (out.coords[v, u] <= 1 + 1e-6))


def test_nearer_object_occludes_and_masks_agree_with_depth():
    intr = NOCS_REAL_INTRINSICS.scaled(320, 240)
    cube = shapes.box(np.array([0.05, 0.05, 0.05]))
    near = rd.RenderItem(cube.vertices, cube.faces, _pose(translation=(0.02, 0, 0.6)),
                         cube.vertices + 0.5, APPEARANCE)
    far = rd.RenderItem(cube.vertices * 2, cube.faces, _pose(translation=(0, 0, 1.0)),
                        cube.vertices + 0.5, APPEARANCE)
    table = rd.Plane(np.array([0, 0, 1.5]), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]),
                     APPEARANCE, (0.5, 0.5))
    out = rd.render([far, near], intr, [table])
    v, u = _centre_pixel(intr)
    assert out.item[v, u] == 1 and out.depth[v, u] == pytest.approx(0.55, abs=1e-3)
    assert np.all(out.depth[out.item >= 0] > 0)
    assert np.all(out.depth[(out.item < 0) & (out.plane < 0)] == 0)
    assert np.all(out.depth[out.plane == 0] == pytest.approx(1.5, abs=1e-4))
    assert out.item[0, 0] == -1 and out.plane[0, 0] == -1
    assert out.color.shape == (240, 320, 3) and out.color.dtype == np.uint8


def test_back_face_culling_changes_nothing_for_closed_meshes():
    intr = NOCS_REAL_INTRINSICS.scaled(320, 240)
    rng = np.random.default_rng(0)
    items = [_item(shapes.library_instance(c, 'train', 0),
                   _pose(_random_rotation(rng), (x, 0.0, 0.7)))
             for c, x in (('mug', -0.12), ('bowl', 0.0), ('camera', 0.12))]
    culled = rd.render(items, intr, shade=False)
    full = rd.render(items, intr, cull_back_faces=False, shade=False)
    assert (culled.item != full.item).mean() < 1e-3
    both = (culled.item >= 0) & (full.item >= 0)
    assert np.abs(culled.depth[both] - full.depth[both]).max() < 1e-3


def test_empty_scene_renders_background_only():
    out = rd.render([], NOCS_REAL_INTRINSICS.scaled(64, 48), rng=np.random.default_rng(0))
    assert not out.depth.any() and (out.item == -1).all()
    assert out.color.shape == (48, 64, 3)


def test_albedo_patterns_stay_in_range():
    coords = np.random.default_rng(0).random((100, 3))
    for pattern in rd.PATTERNS:
        color = rd.albedo(rd.Appearance(APPEARANCE.colors, pattern), coords, np.zeros(100, int))
        assert color.shape == (100, 3) and np.all((color >= 0) & (color <= 1))
