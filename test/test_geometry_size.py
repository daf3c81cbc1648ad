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


"""Robust box size read from the points in the estimated object frame."""

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.geometry.size import estimate_size
from catpose_ros.geometry.transforms import to_object_frame


def box_surface(extents, count, rng) -> np.ndarray:
    """Points spread uniformly over the surface of a centred box."""
    points = rng.uniform(-0.5, 0.5, size=(count, 3)) * extents
    faces = rng.integers(0, 3, count)
    sides = rng.choice([-0.5, 0.5], count)
    points[np.arange(count), faces] = sides * np.asarray(extents)[faces]
    return points


def cylinder_surface(radius, height, count, rng) -> np.ndarray:
    """Points on the side of a y-axis cylinder centred at the origin."""
    angle = rng.uniform(0, 2 * np.pi, count)
    y = rng.uniform(-height / 2, height / 2, count)
    return np.stack((radius * np.cos(angle), y, radius * np.sin(angle)), -1)


@settings(deadline=None, max_examples=30)
@given(st.integers(0, 2**31 - 1))
def test_box_size_is_recovered_under_any_pose(seed):
    rng = np.random.default_rng(seed)
    extents = rng.uniform(0.05, 0.3, 3)
    rotation = Rotation.random(random_state=seed).as_matrix()
    translation = rng.uniform([-0.3, -0.3, 0.5], [0.3, 0.3, 1.5])
    points_cam = box_surface(extents, 4000, rng) @ rotation.T + translation
    size = estimate_size(points_cam, rotation, translation, symmetric=False, upper=1.0)
    np.testing.assert_allclose(size, extents, rtol=1e-9)
    robust = estimate_size(points_cam, rotation, translation, symmetric=False)
    np.testing.assert_allclose(robust, extents, rtol=0.02)


def test_visible_half_is_mirrored_about_the_centre():
    rng = np.random.default_rng(0)
    points = box_surface([0.2, 0.1, 0.3], 5000, rng)
    near_half = points[points[:, 2] < 0]
    size = estimate_size(near_half, np.eye(3), np.zeros(3), symmetric=False)
    np.testing.assert_allclose(size, [0.2, 0.1, 0.3], rtol=0.03)


def test_outliers_do_not_inflate_the_size():
    rng = np.random.default_rng(1)
    points = box_surface([0.1, 0.1, 0.1], 2000, rng)
    outliers = rng.normal(scale=1.0, size=(20, 3))
    size = estimate_size(np.concatenate((points, outliers)), np.eye(3), np.zeros(3), False)
    np.testing.assert_allclose(size, [0.1, 0.1, 0.1], rtol=0.03)


def test_symmetric_objects_share_the_radial_extent():
    rng = np.random.default_rng(2)
    points = cylinder_surface(0.04, 0.2, 3000, rng)
    visible = points[points[:, 2] < 0]   # a camera on -z sees half the side
    size = estimate_size(visible, np.eye(3), np.zeros(3), symmetric=True)
    assert size[0] == size[2]
    np.testing.assert_allclose(size, [0.08, 0.2, 0.08], rtol=0.03)
    unsymmetric = estimate_size(visible, np.eye(3), np.zeros(3), symmetric=False)
    assert unsymmetric[2] < size[2]


def test_to_object_frame_inverts_the_pose():
    rotation = Rotation.from_rotvec([0.3, -0.2, 1.0]).as_matrix()
    translation = np.array([0.1, 0.2, 0.9])
    local = np.array([[0.01, 0.02, 0.03]])
    np.testing.assert_allclose(to_object_frame(local @ rotation.T + translation, rotation,
                                               translation), local, atol=1e-12)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match='non-empty'):
        estimate_size(np.zeros((0, 3)), np.eye(3), np.zeros(3), False)
    with pytest.raises(ValueError, match='upper'):
        estimate_size(np.zeros((5, 3)), np.eye(3), np.zeros(3), False, upper=0.0)
