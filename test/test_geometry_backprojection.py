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


"""Depth decoding, back-projection and resampling to the encoder's fixed point count."""

import numpy as np
import pytest

from catpose_ros.geometry.backprojection import (backproject, depth_to_metres, MaskShapeError,
                                                 points_centroid, points_from_depth,
                                                 resample_points, TooFewPointsError)
from catpose_ros.geometry.camera import CameraIntrinsics

K = CameraIntrinsics(fx=500.0, fy=400.0, cx=32.0, cy=24.0, width=64, height=48)


def test_depth_to_metres_scales_integers_keeps_floats_and_zeroes_invalid():
    raw = np.array([[1000, 0], [65535, 250]], dtype=np.uint16)
    metres = depth_to_metres(raw)
    assert metres.dtype == np.float32
    np.testing.assert_allclose(metres, [[1.0, 0.0], [65.535, 0.25]], rtol=1e-6)
    floats = np.array([[1.5, np.nan], [np.inf, -2.0]], dtype=np.float64)
    np.testing.assert_array_equal(depth_to_metres(floats), [[1.5, 0.0], [0.0, 0.0]])
    assert depth_to_metres(np.full((2, 2), 4, np.uint16), depth_scale=0.25)[0, 0] == 1.0
    with pytest.raises(ValueError, match='2D'):
        depth_to_metres(np.zeros((2, 2, 3), np.uint16))


def test_backproject_follows_the_pinhole_model_in_the_optical_frame():
    depth = np.zeros((48, 64), np.float32)
    depth[24, 32] = 2.0   # principal point
    depth[30, 40] = 1.0   # right of and below the principal point
    depth[0, 0] = 5.0     # beyond max_depth
    depth[1, 1] = 0.05    # closer than min_depth
    mask = np.ones_like(depth, dtype=bool)
    points = backproject(depth, mask, K)
    assert points.dtype == np.float32 and points.shape == (2, 3)
    by_depth = points[np.argsort(points[:, 2])]
    expected = [[(40 - 32) / 500.0, (30 - 24) / 400.0, 1.0], [0.0, 0.0, 2.0]]
    np.testing.assert_allclose(by_depth, expected, rtol=1e-6)


def test_backproject_keeps_only_masked_pixels():
    depth = np.ones((48, 64), np.float32)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:12, 20:23] = 7
    assert len(backproject(depth, mask, K)) == 6


def test_backproject_returns_every_valid_masked_pixel_in_row_major_order():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.0, 5.0, (48, 64)).astype(np.float32)
    for mask in (rng.random((48, 64)) < 0.1, np.zeros((48, 64), bool)):
        v, u = np.nonzero(mask & (depth >= 0.1) & (depth <= 4.0))
        z = depth[v, u]
        u, v = u.astype(np.float32), v.astype(np.float32)
        expected = np.stack(((u - np.float32(32)) * z / np.float32(500),
                             (v - np.float32(24)) * z / np.float32(400), z), -1)
        points = backproject(depth, mask, K)
        assert points.shape == (len(v), 3)
        np.testing.assert_array_equal(points, expected.astype(np.float32))


def test_shape_mismatches_are_named():
    depth = np.ones((48, 64), np.float32)
    with pytest.raises(MaskShapeError, match='mask shape'):
        backproject(depth, np.ones((48, 63), bool), K)
    with pytest.raises(ValueError, match='intrinsics'):
        backproject(np.ones((24, 32)), np.ones((24, 32), bool), K)
    assert issubclass(MaskShapeError, ValueError)


def test_resample_subsets_without_repetition_when_there_are_more_points():
    points = np.arange(3000 * 3, dtype=np.float32).reshape(3000, 3)
    sampled = resample_points(points, 1024, np.random.default_rng(0))
    assert sampled.shape == (1024, 3)
    assert len(np.unique(sampled[:, 0])) == 1024


def test_resample_tiles_then_fills_when_there_are_fewer_points():
    points = np.arange(100 * 3, dtype=np.float32).reshape(100, 3)
    sampled = resample_points(points, 1024, np.random.default_rng(0))
    _, counts = np.unique(sampled[:, 0], return_counts=True)
    assert len(counts) == 100 and set(counts) == {10, 11}
    assert (counts == 11).sum() == 24


def test_resample_is_reproducible_with_a_seeded_generator():
    points = np.random.default_rng(1).normal(size=(2000, 3))
    first = resample_points(points, 1024, np.random.default_rng(5))
    np.testing.assert_array_equal(first, resample_points(points, 1024, np.random.default_rng(5)))


def test_points_from_depth_decodes_millimetres_and_counts_valid_pixels():
    depth = np.zeros((48, 64), np.uint16)
    depth[5:25, 5:25] = 800
    mask = np.zeros((48, 64), bool)
    mask[0:20, 0:20] = True
    points, num_valid = points_from_depth(depth, mask, K, num_points=256,
                                          rng=np.random.default_rng(0))
    assert num_valid == 15 * 15
    assert points.shape == (256, 3) and points.dtype == np.float32
    np.testing.assert_allclose(points[:, 2], 0.8)


@pytest.mark.parametrize('case', ['empty mask', 'all nan', 'too far', 'few'])
def test_too_few_points_names_the_count(case):
    depth = np.full((48, 64), 1.0, np.float32)
    mask = np.zeros((48, 64), bool)
    mask[:10, :10] = True
    if case == 'empty mask':
        mask[:] = False
    elif case == 'all nan':
        depth[:] = np.nan
    elif case == 'too far':
        depth[:] = 9.0
    else:
        mask[:] = False
        mask[0, :7] = True
    expected = 7 if case == 'few' else 0
    with pytest.raises(TooFewPointsError, match='only %d valid' % expected) as error:
        points_from_depth(depth, mask, K, min_points=50)
    assert error.value.num_valid == expected


def test_centroid_is_the_mean_for_numpy_and_torch():
    torch = pytest.importorskip('torch')
    points = np.array([[0.0, 0.0, 1.0], [2.0, 0.0, 1.0]])
    np.testing.assert_allclose(points_centroid(points), [1.0, 0.0, 1.0])
    batch = torch.as_tensor(np.stack([points, points + 1]))
    torch.testing.assert_close(points_centroid(batch),
                               torch.tensor([[1.0, 0.0, 1.0], [2.0, 1.0, 2.0]],
                                            dtype=torch.float64))
