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

import pickle

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.data import housecat6d
from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.data.nocs import DatasetError
from catpose_ros.geometry.camera import CameraIntrinsics

INTRINSICS = CameraIntrinsics(90.0, 91.0, 45.5, 33.0, 96, 72)


def fixture_frame(seed: int, category: str = 'mug') -> Frame:
    rng = np.random.default_rng(seed)
    mask = np.zeros((72, 96), np.uint8)
    mask[5:20, 10:40] = 2
    mask[40:70, 50:90] = 4
    objects = [
        ObjectAnnotation(2, category, Rotation.random(random_state=seed).as_matrix(),
                         np.array([0.05, 0.0, 0.7]), np.array([0.1, 0.12, 0.08]),
                         model_id='white'),
        ObjectAnnotation(4, 'teapot', np.eye(3), np.array([-0.1, 0.1, 0.9]),
                         np.array([0.2, 0.15, 0.12]), model_id='teapot-blue'),
    ]
    depth = rng.uniform(0.4, 1.5, mask.shape).astype(np.float32)
    depth[:3] = 0
    return Frame(rng.integers(0, 256, (72, 96, 3), dtype=np.uint8), depth, mask, INTRINSICS,
                 objects)


def test_writer_follows_housecat6d_layout(tmp_path):
    scene = housecat6d.write_housecat6d_scene(tmp_path / 'scene01',
                                              [fixture_frame(0), fixture_frame(1)])
    for folder in ('rgb', 'depth', 'instance'):
        assert sorted(p.name for p in (scene / folder).iterdir()) == ['000000.png',
                                                                      '000001.png']
    depth = cv2.imread(str(scene / 'depth' / '000000.png'), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.ndim == 2
    meta = (scene / 'meta.txt').read_text().splitlines()
    assert meta == ['2 4 cup-white', '4 6 teapot-blue']
    np.testing.assert_allclose(np.loadtxt(scene / 'intrinsics.txt'), INTRINSICS.matrix)
    with open(scene / 'labels' / '000001_label.pkl', 'rb') as handle:
        label = pickle.load(handle)
    assert set(label) == set(housecat6d.LABEL_KEYS)
    assert list(label['class_ids']) == [4, 6]
    np.testing.assert_array_equal(label['bboxes'][1], [40, 50, 70, 90])
    np.testing.assert_allclose(label['gt_scales'][0], [0.1, 0.12, 0.08], rtol=1e-6)


def test_round_trip(tmp_path):
    frames = [fixture_frame(0), fixture_frame(1)]
    scene = housecat6d.write_housecat6d_scene(tmp_path / 'scene07', frames)
    back = housecat6d.read_housecat6d_frame(scene, 1)
    ref = frames[1]
    np.testing.assert_array_equal(back.color, ref.color)
    np.testing.assert_array_equal(back.mask, ref.mask)
    np.testing.assert_allclose(back.depth, ref.depth, atol=5e-4 + 1e-6)
    assert back.intrinsics == INTRINSICS
    assert [o.category for o in back.objects] == ['cup', 'teapot']
    for obj, expected in zip(back.objects, ref.objects):
        np.testing.assert_allclose(obj.rotation, expected.rotation, atol=1e-6)
        np.testing.assert_allclose(obj.translation, expected.translation, atol=1e-6)
        np.testing.assert_allclose(obj.size, expected.size, rtol=1e-6)
    assert housecat6d.housecat6d_is_symmetric('glass')
    assert not housecat6d.housecat6d_is_symmetric('cup')


def test_dataset_splits(tmp_path):
    for name in ('scene01', 'scene02', 'val_scene1', 'test_scene1'):
        housecat6d.write_housecat6d_scene(tmp_path / name, [fixture_frame(0)])
    (tmp_path / 'obj_models_small_size_final').mkdir()
    train = housecat6d.HouseCat6DDataset(tmp_path, 'train')
    assert [s.name for s in train.scenes] == ['scene01', 'scene02'] and len(train) == 2
    assert [f.frame_id for f in train] == ['scene01/000000', 'scene02/000000']
    assert len(housecat6d.HouseCat6DDataset(tmp_path, 'test')) == 1
    with pytest.raises(DatasetError, match='val'):
        housecat6d.HouseCat6DDataset(tmp_path / 'obj_models_small_size_final', 'val')


def test_unmapped_category_is_rejected(tmp_path):
    with pytest.raises(ValueError, match='bowl'):
        housecat6d.write_housecat6d_scene(tmp_path / 'scene01', [fixture_frame(0, 'bowl')])


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    scene = housecat6d.write_housecat6d_scene(tmp_path / 'scene01', [fixture_frame(0)])
    (scene / 'labels' / '000000_label.pkl').write_bytes(b'not a pickle')
    with pytest.raises(DatasetError, match='000000_label.pkl'):
        housecat6d.read_housecat6d_frame(scene, 0)
    housecat6d.write_housecat6d_scene(tmp_path / 'scene02', [fixture_frame(0)])
    (tmp_path / 'scene02' / 'intrinsics.txt').unlink()
    with pytest.raises(DatasetError, match='intrinsics.txt'):
        housecat6d.read_housecat6d_frame(tmp_path / 'scene02', 0)
