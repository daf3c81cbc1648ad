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

"""Property tests of the rotation helpers against scipy."""

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
import torch

from catpose_ros.geometry.rotation import (average_rotations, geodesic_angle,
                                           matrix_to_quaternion_wxyz_torch,
                                           matrix_to_quaternion_xyzw, matrix_to_rotation_6d,
                                           quaternion_wxyz_to_matrix_torch,
                                           quaternion_xyzw_to_matrix, rotation_6d_to_matrix,
                                           rotation_log, symmetry_aware_angle, y_axis_angle)

FLOATS = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)
QUATERNIONS = st.tuples(FLOATS, FLOATS, FLOATS, FLOATS).filter(
    lambda q: np.linalg.norm(q) > 0.1)
ANGLES = st.floats(-np.pi, np.pi, allow_nan=False)
# Shared CPUs make single examples slow now and then; time is not under test here.
PROPERTY = settings(deadline=None, max_examples=100)


def as_matrix(quaternion) -> np.ndarray:
    """Rotation matrix of an unnormalised (x, y, z, w) quaternion."""
    return Rotation.from_quat(np.asarray(quaternion, dtype=np.float64)).as_matrix()


def torch64(array: np.ndarray) -> torch.Tensor:
    """Return a float64 tensor."""
    return torch.as_tensor(np.asarray(array), dtype=torch.float64)


def about_y(angle: float) -> np.ndarray:
    """Rotation by the given angle about the y axis."""
    return Rotation.from_rotvec([0.0, angle, 0.0]).as_matrix()


def assert_proper_rotation(matrix: torch.Tensor):
    """R^T R = I and det R = +1."""
    eye = torch.eye(3, dtype=matrix.dtype).expand_as(matrix)
    torch.testing.assert_close(matrix.transpose(-1, -2) @ matrix, eye, atol=1e-9, rtol=0)
    torch.testing.assert_close(torch.linalg.det(matrix), torch.ones(matrix.shape[:-2],
                                                                    dtype=matrix.dtype))


@PROPERTY
@given(QUATERNIONS)
def test_6d_round_trip(quaternion):
    rotation = torch64(as_matrix(quaternion))
    rot6d = matrix_to_rotation_6d(rotation)
    assert rot6d.shape == (6,)
    torch.testing.assert_close(rot6d[:3], rotation[:, 0])
    torch.testing.assert_close(rotation_6d_to_matrix(rot6d), rotation, atol=1e-12, rtol=0)


@PROPERTY
@given(st.lists(FLOATS, min_size=6, max_size=6).filter(
    lambda v: np.linalg.norm(v[:3]) > 0.1
    and np.linalg.norm(np.cross(v[:3], v[3:])) > 0.1 * np.linalg.norm(v[:3])))
def test_gram_schmidt_gives_proper_rotation_keeping_first_axis_direction(values):
    matrix = rotation_6d_to_matrix(torch64(values))
    assert_proper_rotation(matrix)
    first = torch64(values[:3])
    torch.testing.assert_close(matrix[:, 0], first / first.norm())
    assert float(matrix[:, 1] @ torch64(values[3:])) > 0


def test_gram_schmidt_is_batched():
    rot6d = torch.randn(4, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert_proper_rotation(rotation_6d_to_matrix(rot6d))


@PROPERTY
@given(QUATERNIONS, QUATERNIONS)
def test_geodesic_angle_is_symmetric_bounded_and_matches_scipy(q1, q2):
    r1, r2 = as_matrix(q1), as_matrix(q2)
    angle = float(geodesic_angle(torch64(r1), torch64(r2)))
    assert 0.0 <= angle <= np.pi
    assert angle == pytest.approx(float(geodesic_angle(torch64(r2), torch64(r1))), abs=1e-9)
    expected = Rotation.from_matrix(r1.T @ r2).magnitude()
    assert angle == pytest.approx(expected, abs=1e-7)


@PROPERTY
@given(QUATERNIONS)
def test_geodesic_angle_of_identical_rotations_is_zero(quaternion):
    rotation = torch64(as_matrix(quaternion))
    assert float(geodesic_angle(rotation, rotation)) == pytest.approx(0.0, abs=1e-7)


@PROPERTY
@given(QUATERNIONS, QUATERNIONS, ANGLES, ANGLES)
def test_y_axis_angle_ignores_rotations_about_the_object_y_axis(q1, q2, a1, a2):
    r1, r2 = as_matrix(q1), as_matrix(q2)
    base = float(y_axis_angle(torch64(r1), torch64(r2)))
    spun = float(y_axis_angle(torch64(r1 @ about_y(a1)), torch64(r2 @ about_y(a2))))
    assert spun == pytest.approx(base, abs=1e-7)
    assert 0.0 <= base <= np.pi
    cos = np.clip(r1[:, 1] @ r2[:, 1], -1.0, 1.0)
    assert base == pytest.approx(np.arccos(cos), abs=1e-6)


def test_symmetry_aware_angle_picks_the_rule_per_row():
    r1 = torch64(np.stack([np.eye(3), np.eye(3)]))
    r2 = torch64(np.stack([about_y(1.0), about_y(1.0)]))
    angles = symmetry_aware_angle(r1, r2, torch.tensor([True, False]))
    torch.testing.assert_close(angles, torch64([0.0, 1.0]))


@PROPERTY
@given(QUATERNIONS)
def test_quaternion_xyzw_round_trip(quaternion):
    rotation = as_matrix(quaternion)
    q = matrix_to_quaternion_xyzw(rotation)
    np.testing.assert_allclose(np.linalg.norm(q), 1.0, atol=1e-12)
    expected = np.asarray(quaternion) / np.linalg.norm(quaternion)
    assert abs(abs(float(q @ expected)) - 1.0) < 1e-9
    np.testing.assert_allclose(quaternion_xyzw_to_matrix(q), rotation, atol=1e-12)


def test_quaternion_xyzw_is_ros_order_and_batched():
    quarter_turn_z = np.array([0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)])
    matrix = quaternion_xyzw_to_matrix(np.stack([quarter_turn_z] * 2).reshape(2, 1, 4))
    assert matrix.shape == (2, 1, 3, 3)
    np.testing.assert_allclose(matrix[1, 0] @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)


@PROPERTY
@given(QUATERNIONS)
def test_torch_quaternion_matches_scipy_up_to_sign(quaternion):
    rotation = as_matrix(quaternion)
    wxyz = matrix_to_quaternion_wxyz_torch(torch64(rotation)).numpy()
    x, y, z, w = Rotation.from_matrix(rotation).as_quat()
    assert abs(abs(float(wxyz @ [w, x, y, z])) - 1.0) < 1e-9
    np.testing.assert_allclose(quaternion_wxyz_to_matrix_torch(torch64(wxyz)).numpy(),
                               rotation, atol=1e-12)


@settings(deadline=None, max_examples=50)
@given(QUATERNIONS, st.integers(1, 6))
def test_average_of_identical_rotations_is_that_rotation(quaternion, count):
    rotation = torch64(as_matrix(quaternion))
    stack = rotation.expand(count, 3, 3)
    torch.testing.assert_close(average_rotations(stack), rotation, atol=1e-9, rtol=0)


def test_average_ignores_quaternion_sign_and_is_batched():
    rng = np.random.default_rng(0)
    centre = Rotation.random(random_state=1)
    small = Rotation.from_rotvec(rng.normal(scale=0.05, size=(20, 3)))
    matrices = torch64((centre * small).as_matrix()).reshape(2, 10, 3, 3)
    mean = average_rotations(matrices)
    assert mean.shape == (2, 3, 3)
    errors = geodesic_angle(mean, torch64(centre.as_matrix()).expand(2, 3, 3))
    assert float(errors.max()) < 0.06


def test_rotation_log_inverts_the_exponential_map():
    axis = torch.nn.functional.normalize(torch.tensor([[0.3, -0.5, 0.8]]), dim=-1)
    for angle in (0.0, 1e-4, 1.0, 3.1):
        vector = axis[0] * angle
        skew = torch.tensor([[0.0, -vector[2], vector[1]], [vector[2], 0.0, -vector[0]],
                             [-vector[1], vector[0], 0.0]])
        assert torch.allclose(rotation_log(torch.linalg.matrix_exp(skew)), vector, atol=1e-5)
