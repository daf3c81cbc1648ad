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


"""SE(3) helpers: inverse, composition and point mapping agree with each other."""

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.geometry.transforms import (compose, invert_transform, make_transform,
                                             split_transform, transform_points)

SEEDS = st.integers(0, 2**31 - 1)


def random_transform(rng: np.random.Generator) -> np.ndarray:
    """Draw a random rigid transform."""
    rotation = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
    return make_transform(rotation, rng.normal(size=3))


@settings(deadline=None)
@given(SEEDS)
def test_inverse_composes_to_identity(seed):
    transform = random_transform(np.random.default_rng(seed))
    np.testing.assert_allclose(compose(transform, invert_transform(transform)), np.eye(4),
                               atol=1e-12)
    np.testing.assert_allclose(invert_transform(transform), np.linalg.inv(transform),
                               atol=1e-12)


@settings(deadline=None)
@given(SEEDS)
def test_compose_applies_the_last_transform_first(seed):
    rng = np.random.default_rng(seed)
    a, b = random_transform(rng), random_transform(rng)
    points = rng.normal(size=(5, 3))
    np.testing.assert_allclose(transform_points(compose(a, b), points),
                               transform_points(a, transform_points(b, points)), atol=1e-12)


def test_make_and_split_are_inverse_and_batched():
    rotations = Rotation.random(4, random_state=0).as_matrix()
    translations = np.arange(12.0).reshape(4, 3)
    transforms = make_transform(rotations, translations)
    assert transforms.shape == (4, 4, 4)
    np.testing.assert_array_equal(transforms[:, 3], np.tile([0.0, 0.0, 0.0, 1.0], (4, 1)))
    rotation, translation = split_transform(transforms)
    np.testing.assert_array_equal(rotation, rotations)
    np.testing.assert_array_equal(translation, translations)
    inverses = invert_transform(transforms)
    np.testing.assert_allclose(inverses @ transforms, np.broadcast_to(np.eye(4), (4, 4, 4)),
                               atol=1e-12)


def test_transform_points_keeps_float32_and_maps_object_to_camera():
    transform = make_transform(Rotation.from_rotvec([0, 0, np.pi / 2]).as_matrix(),
                               [0.0, 0.0, 1.0])
    points = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    mapped = transform_points(transform, points)
    assert mapped.dtype == np.float32
    np.testing.assert_allclose(mapped, [[0.0, 1.0, 1.0]], atol=1e-6)


def test_bad_shapes_and_empty_compose_are_rejected():
    with pytest.raises(ValueError, match='4, 4'):
        invert_transform(np.eye(3))
    with pytest.raises(ValueError):
        compose()
