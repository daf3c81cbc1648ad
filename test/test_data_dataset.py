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

import time

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from support import face_frame
import torch

from catpose_ros.cli.main import main
from catpose_ros.data import augment
from catpose_ros.data.dataset import (build_point_cache, CategoryRepeats,
                                      parse_category_repeats, PosePointDataset)
from catpose_ros.data.nocs import DatasetError, write_frame
from catpose_ros.geometry.transforms import to_camera_frame, to_object_frame

CATEGORIES = ('bottle', 'bowl', 'camera', 'can', 'laptop', 'mug')


def inside_box(points, rotation, translation, size, tol=1e-6):
    local = to_object_frame(points, rotation, translation)
    return bool(np.all(np.abs(local) <= np.asarray(size) / 2 + tol))


@pytest.fixture(scope='module')
def cache_path(tmp_path_factory):
    path = tmp_path_factory.mktemp('cache') / 'points.npz'
    counts = build_point_cache([face_frame(i) for i in range(6)], path, max_points=512)
    assert counts == {'frames': 6, 'instances': 12, 'dropped': 0}
    return path


@st.composite
def object_samples(draw):
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    size = rng.uniform(0.05, 0.4, 3)
    rotation = Rotation.random(random_state=seed).as_matrix()
    translation = rng.uniform([-0.3, -0.3, 0.4], [0.3, 0.3, 1.5])
    local = rng.uniform(-0.5, 0.5, (200, 3)) * size
    return to_camera_frame(local, rotation, translation), rotation, translation, size


@settings(max_examples=40, deadline=None)
@given(object_samples(), st.integers(0, 1000), st.sampled_from(CATEGORIES), st.booleans())
def test_augmented_points_stay_in_augmented_box(sample, seed, category, symmetric):
    rng = np.random.default_rng(seed)
    assert inside_box(*augment.box_scale(*sample, symmetric, rng))
    assert inside_box(*augment.rt_jitter(*sample, rng))
    assert inside_box(*augment.box_cage(*sample, rng))
    always = augment.AugmentConfig(box_scale_prob=1, rt_prob=1, cage_prob=1, radial_prob=0)
    out = augment.augment_sample(*sample, category, symmetric, always, rng)
    assert inside_box(*out)
    np.testing.assert_allclose(out[1] @ out[1].T, np.eye(3), atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(object_samples(), st.integers(0, 1000))
def test_box_scale_of_symmetric_objects_keeps_x_z_ratio(sample, seed):
    size = augment.box_scale(*sample, True, np.random.default_rng(seed))[3]
    np.testing.assert_allclose(size[0] / size[2], sample[3][0] / sample[3][2])


def test_rt_jitter_stays_within_ranges():
    points, rotation, translation, size = (np.zeros((1, 3)), np.eye(3), np.array([0, 0, 1.0]),
                                           np.ones(3))
    for seed in range(50):
        _, new_r, new_t, _ = augment.rt_jitter(points, rotation, translation, size,
                                               np.random.default_rng(seed))
        angles = Rotation.from_matrix(new_r).as_euler('ZYX', degrees=True)
        assert np.all(np.abs(angles) <= 15 + 1e-9)
        # |R (t + d) - R t| = |d| <= 5 cm * sqrt(3)
        assert np.linalg.norm(new_t - new_r @ translation) <= 0.05 * np.sqrt(3) + 1e-9


def test_radial_jitter_moves_points_outwards_by_at_most_the_ratio():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 3))
    translation = np.array([0.1, 0.2, 0.3])
    moved = augment.radial_jitter(points, translation, rng, 0.2)
    offset = points - translation
    ratio = (moved - points) / offset
    assert ratio.min() >= 0 and ratio.max() <= 0.2 and ratio.max() > 0.15


def test_mask_noise_changes_only_the_boundary_band():
    mask = np.zeros((40, 40), bool)
    mask[10:30, 12:28] = True
    noisy = augment.mask_boundary_noise(mask, np.random.default_rng(3))
    changed = noisy != mask
    assert changed.any()
    interior = np.zeros_like(mask)
    interior[12:28, 14:26] = True
    assert not changed[interior].any()
    assert not changed[:8].any() and not changed[32:].any()


def test_items_have_the_training_shapes_and_dtypes(cache_path):
    dataset = PosePointDataset(cache_path, num_points=1024, augment=augment.AugmentConfig())
    assert len(dataset) == 12
    item = dataset[3]
    assert item['points'].shape == (1024, 3) and item['points'].dtype == np.float32
    assert item['rotation'].shape == (3, 3) and item['rotation'].dtype == np.float32
    assert item['translation'].shape == (3,) and item['size'].shape == (3,)
    assert isinstance(item['category'], int) and 1 <= item['category'] <= 6
    assert isinstance(item['symmetric'], bool)
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4)))
    assert batch['points'].shape == (4, 1024, 3) and batch['points'].dtype == torch.float32
    assert batch['category'].dtype == torch.int64 and batch['symmetric'].dtype == torch.bool


def test_cached_points_and_labels_match_the_frames(cache_path):
    dataset = PosePointDataset(cache_path, num_points=256)
    frames = [face_frame(i) for i in range(6)]
    objects = [obj for frame in frames for obj in frame.objects]
    for index, obj in enumerate(objects):
        item = dataset[index]
        np.testing.assert_allclose(item['rotation'], obj.rotation, atol=1e-6)
        np.testing.assert_allclose(item['translation'], obj.translation, atol=1e-6)
        assert item['symmetric'] == (obj.category in ('bottle', 'bowl', 'can')
                                     or (obj.category == 'mug' and not obj.handle_visible))
        # float16 offsets: within 0.2 mm of the true face, inside the box
        assert inside_box(item['points'], obj.rotation, obj.translation, obj.size, tol=2e-4)


def test_items_are_deterministic_per_seed_and_epoch(cache_path):
    config = augment.AugmentConfig()
    first = PosePointDataset(cache_path, augment=config, seed=5)
    second = PosePointDataset(cache_path, augment=config, seed=5)
    for index in (0, 7):
        np.testing.assert_array_equal(first[index]['points'], second[index]['points'])
        np.testing.assert_array_equal(first[index]['rotation'], second[index]['rotation'])
    other_seed = PosePointDataset(cache_path, augment=config, seed=6)
    assert not np.array_equal(first[0]['points'], other_seed[0]['points'])
    before = first[0]['points']
    first.set_epoch(1)
    assert not np.array_equal(before, first[0]['points'])


def test_category_repeats_hold_fresh_copies_of_the_named_categories(cache_path):
    dataset = PosePointDataset(cache_path, augment=augment.AugmentConfig(), seed=5)
    names = [str(n) for n in dataset.data['category_name']]
    repeated_name = names[0]
    repeated = CategoryRepeats(dataset, {repeated_name: 3})
    assert len(repeated) == len(names) + 2 * names.count(repeated_name)
    copies = [i for i in range(len(repeated)) if repeated._base[i] == 0]
    assert len(copies) == 3
    np.testing.assert_array_equal(repeated[copies[0]]['points'], dataset[0]['points'])
    assert not np.array_equal(repeated[copies[1]]['points'], repeated[copies[0]]['points'])
    assert not np.array_equal(repeated[copies[2]]['points'], repeated[copies[1]]['points'])
    np.testing.assert_array_equal(repeated[copies[1]]['rotation'], dataset[0]['rotation'])
    other = next(i for i, n in enumerate(names) if n != repeated_name)
    assert int(np.sum(repeated._base == other)) == 1
    repeated.set_epoch(2)
    assert dataset.epoch == 2


def test_category_repeat_specs_are_checked():
    assert parse_category_repeats(' camera=2, mug=3 ') == {'camera': 2, 'mug': 3}
    assert parse_category_repeats('') == {}
    for bad in ('camera', 'camera=0', 'camera=x', 'teapot=2'):
        with pytest.raises(ValueError):
            parse_category_repeats(bad)


def test_mask_noise_variants_are_used(cache_path):
    noisy_only = augment.AugmentConfig(mask_noise_prob=1.0, box_scale_prob=0, rt_prob=0,
                                       cage_prob=0, radial_prob=0)
    clean = PosePointDataset(cache_path, num_points=2048, seed=1)
    noisy = PosePointDataset(cache_path, num_points=2048, augment=noisy_only, seed=1)
    clean_set = {tuple(p) for p in clean[0]['points'].round(5)}
    noisy_set = {tuple(p) for p in noisy[0]['points'].round(5)}
    assert clean_set != noisy_set


def test_shards_concatenate(cache_path, tmp_path):
    second = tmp_path / 'second.npz'
    build_point_cache([face_frame(10)], second, max_points=300)
    joined = PosePointDataset([cache_path, second], num_points=64)
    assert len(joined) == 14
    only = PosePointDataset(second, num_points=64, seed=2)
    joined.seed = 2
    np.testing.assert_array_equal(joined._points('', 13), only._points('', 1))
    np.testing.assert_array_equal(joined._points('noisy_', 13), only._points('noisy_', 1))


def test_cache_from_a_nocs_root_and_cli(tmp_path):
    for index in range(2):
        write_frame(tmp_path / 'Real' / 'test' / 'scene_1', index, face_frame(index), 'real')
    assert main(['data', 'cache', '--root', str(tmp_path), '--split', 'real_test',
                 '--out', str(tmp_path / 'real_test.npz'), '--max-points', '400']) == 0
    dataset = PosePointDataset(tmp_path / 'real_test.npz', num_points=128)
    assert len(dataset) == 4
    reference = face_frame(1).objects[1]
    # NOCS intrinsics differ from the frame's, but the labels come through unchanged.
    np.testing.assert_allclose(dataset[3]['translation'], reference.translation, atol=1e-6)


def test_empty_source_and_bad_cache_raise(tmp_path):
    frame = face_frame(0)
    frame.depth[:] = 0
    with pytest.raises(DatasetError, match='nothing cached'):
        build_point_cache([frame], tmp_path / 'empty.npz')
    with pytest.raises(DatasetError, match='missing.npz'):
        PosePointDataset(tmp_path / 'missing.npz')
    (tmp_path / 'bad.npz').write_bytes(b'garbage')
    with pytest.raises(DatasetError, match='bad.npz'):
        PosePointDataset(tmp_path / 'bad.npz')


@pytest.mark.slow
def test_throughput(cache_path):
    dataset = PosePointDataset(cache_path, augment=augment.AugmentConfig(), seed=0)
    start = time.perf_counter()
    count = 0
    while time.perf_counter() - start < 2.0:
        dataset[count % len(dataset)]
        count += 1
    rate = count / (time.perf_counter() - start)
    print('PosePointDataset: %.0f items/s (one process)' % rate)
    assert rate > 200


def test_rendered_scenes_go_straight_into_a_point_cache_and_segmentation_samples(tmp_path):
    from catpose_ros.data.segmentation import SegmentationSamples

    common = ['--scenes', '2', '--first-scene', '3', '--frames-per-scene', '1', '--split',
              'val']
    assert main(['data', 'synth-cache', '--out', str(tmp_path / 'c.npz')] + common) == 0
    cache = PosePointDataset(str(tmp_path / 'c.npz'), num_points=64)
    assert len(cache) > 0
    assert main(['data', 'seg-samples', '--out', str(tmp_path / 's.npz')] + common) == 0
    samples = SegmentationSamples.load(tmp_path / 's.npz')
    assert len(samples) == 2 and samples.rgb.shape[1:] == (240, 320, 3)
    with pytest.raises(SystemExit, match='must be positive'):
        main(['data', 'synth-cache', '--out', str(tmp_path / 'x.npz'), '--scenes', '0'])
