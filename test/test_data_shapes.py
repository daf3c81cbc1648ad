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


"""Procedural category meshes: canonical frame, metric ranges, closedness, split disjointness."""

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from catpose_ros.categories import category_names, UnknownCategoryError
from catpose_ros.data import shapes


@pytest.mark.parametrize('category', category_names())
def test_instances_are_normalised_closed_and_metric(category):
    for index in range(5):
        inst = shapes.library_instance(category, 'train', index)
        lo, hi = inst.vertices.min(0), inst.vertices.max(0)
        np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-9)
        assert np.linalg.norm(hi - lo) == pytest.approx(1.0)
        np.testing.assert_allclose(inst.size / inst.scale, hi - lo, rtol=1e-9)
        assert inst.faces.min() >= 0 and inst.faces.max() < len(inst.vertices)
        assert len(inst.parts) == len(inst.faces)
        volume = shapes.signed_volume(shapes.Mesh(inst.vertices, inst.faces))
        assert volume > 0.005, 'faces must point outwards'
        which, low, high = shapes.METRIC_RANGES[category]
        reference = inst.size[1] if which == 'height' else inst.size[0]
        assert low - 1e-9 <= reference <= high + 1e-9


@settings(max_examples=15, deadline=None)
@given(category=st.sampled_from(category_names()), index=st.integers(0, 199),
       split=st.sampled_from(['train', 'test']))
def test_any_library_instance_fits_the_unit_cube(category, index, split):
    inst = shapes.library_instance(category, split, index)
    assert np.all(np.abs(inst.vertices) <= 0.5 + 1e-9)
    assert np.all(np.isfinite(inst.vertices))
    assert inst.model_id == '%s-%s-%04d' % (category, split, index)


def test_train_and_test_instances_are_disjoint_and_reproducible():
    for category in category_names():
        train = [tuple(sorted(shapes.library_instance(category, 'train', i).params.items()))
                 for i in range(100)]
        test = [tuple(sorted(shapes.library_instance(category, 'test', i).params.items()))
                for i in range(100)]
        val = [tuple(sorted(shapes.library_instance(category, 'val', i).params.items()))
               for i in range(100)]
        assert not set(train) & set(test) and not set(val) & (set(train) | set(test))
        assert len(set(train)) == 100
        rebuilt = shapes._BUILDERS[category](
            np.random.default_rng(shapes.shape_seed(category, 'train', 3)))[1]
        assert rebuilt.items() <= dict(train[3]).items()


def test_sample_instance_draws_from_the_requested_split():
    rng = np.random.default_rng(0)
    assert all('-test-' in shapes.sample_instance('mug', rng, 'test').model_id for _ in range(5))
    assert all('-train-' in shapes.sample_instance('mug', rng).model_id for _ in range(5))
    assert all('-val-' in shapes.sample_instance('mug', rng, 'val').model_id for _ in range(5))
    with pytest.raises(ValueError):
        shapes.sample_instance('mug', rng, 'holdout')
    with pytest.raises(UnknownCategoryError):
        shapes.sample_instance('teapot', rng)
    with pytest.raises(ValueError):
        shapes.library_instance('mug', 'test', shapes.LIBRARY_SIZE['test'])


def test_mug_handle_points_along_plus_x_and_camera_lens_along_plus_z():
    for index in range(5):
        mug = shapes.library_instance('mug', 'train', index)
        handle = mug.vertices[np.unique(mug.faces[mug.parts == mug.part_id('handle')])]
        body = mug.vertices[np.unique(mug.faces[mug.parts == mug.part_id('body')])]
        assert handle[:, 0].max() > body[:, 0].max() + 0.05
        camera = shapes.library_instance('camera', 'train', index)
        lens = camera.vertices[np.unique(camera.faces[camera.parts == camera.part_id('lens')])]
        assert lens[:, 2].max() == pytest.approx(camera.vertices[:, 2].max())


def test_laptop_lid_angle_varies_within_range():
    angles = [shapes.library_instance('laptop', 'train', i).params['lid_angle']
              for i in range(50)]
    assert 60 <= min(angles) and max(angles) <= 130 and np.ptp(angles) > 40


def test_lathe_rejects_profiles_off_the_axis():
    with pytest.raises(ValueError):
        shapes.lathe(np.array([[0.1, 0.0], [0.2, 1.0], [0.0, 1.0]]))
    mesh = shapes.lathe(np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]]), segments=64)
    assert shapes.signed_volume(mesh) == pytest.approx(np.pi, rel=0.01)
