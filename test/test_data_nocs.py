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

from pathlib import Path
import pickle

import cv2
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.data import nocs
from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.geometry.camera import CameraIntrinsics

INTRINSICS = CameraIntrinsics(80.0, 80.0, 40.0, 30.0, 80, 60)


def synthetic_frame(seed: int = 0) -> Frame:
    """Two objects on random images; a third annotated object is hidden (no mask pixel)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((60, 80), np.uint8)
    mask[10:30, 5:25] = 3
    mask[35:55, 40:70] = 7
    depth = rng.uniform(0.3, 2.0, (60, 80)).astype(np.float32)
    depth[0, :10] = 0.0
    coord = rng.uniform(0, 1, (60, 80, 3)) * (mask > 0)[..., None]
    objects = [
        ObjectAnnotation(3, 'mug', Rotation.random(random_state=seed).as_matrix(),
                         np.array([0.1, -0.05, 0.8]), np.array([0.12, 0.09, 0.1]),
                         handle_visible=False, model_id='mug_a'),
        ObjectAnnotation(7, 'laptop', Rotation.random(random_state=seed + 1).as_matrix(),
                         np.array([-0.2, 0.1, 1.1]), np.array([0.3, 0.2, 0.25])),
        ObjectAnnotation(9, 'can', np.eye(3), np.zeros(3), np.ones(3) * 0.1),
    ]
    return Frame(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8), depth, mask, INTRINSICS,
                 objects, coord=coord, frame_id='synthetic')


@pytest.mark.parametrize('subset', nocs.SUBSETS)
def test_round_trip(tmp_path, subset):
    frame = synthetic_frame()
    prefix = nocs.write_frame(tmp_path / 'scene_1', 12, frame, subset)
    assert prefix == tmp_path / 'scene_1' / '0012'
    back = nocs.read_frame(prefix, subset, intrinsics=INTRINSICS)
    np.testing.assert_array_equal(back.color, frame.color)
    np.testing.assert_allclose(back.depth, frame.depth, atol=5e-4 + 1e-6)
    np.testing.assert_array_equal(back.mask, frame.mask)
    np.testing.assert_allclose(back.coord, frame.coord, atol=0.5 / 255 + 1e-6)
    assert [o.instance_id for o in back.objects] == [3, 7]
    for obj in back.objects:
        ref = frame.object_by_instance(obj.instance_id)
        assert obj.category == ref.category
        assert obj.handle_visible == ref.handle_visible
        np.testing.assert_allclose(obj.rotation, ref.rotation, atol=1e-6)
        np.testing.assert_allclose(obj.translation, ref.translation, atol=1e-6)
        np.testing.assert_allclose(obj.size, ref.size, rtol=1e-5)
    assert back.intrinsics == INTRINSICS


def test_files_follow_nocs_layout(tmp_path):
    frame = synthetic_frame()
    prefix = nocs.write_frame(tmp_path, 0, frame, 'camera')
    depth = cv2.imread(str(prefix) + '_depth.png', cv2.IMREAD_UNCHANGED)
    assert depth.shape == (60, 80, 3) and depth.dtype == np.uint8
    # The NOCS/SPD decoder: channel 1 * 256 + channel 2, 32001 = invalid.
    depth16 = depth[:, :, 1].astype(np.int64) * 256 + depth[:, :, 2]
    assert depth16[0, 0] == 32001
    assert abs(depth16[5, 40] - frame.depth[5, 40] * 1000) <= 0.5
    mask = cv2.imread(str(prefix) + '_mask.png')[:, :, 2]
    assert mask[0, 0] == 255 and mask[10, 5] == 3
    coord = cv2.imread(str(prefix) + '_coord.png')[:, :, (2, 1, 0)] / 255.0
    assert abs(1 - coord[12, 7, 2] - frame.coord[12, 7, 2]) <= 0.5 / 255 + 1e-9
    assert (tmp_path / '0000_meta.txt').read_text().splitlines() == [
        '3 6 03797390 mug_a', '7 5 03642806 laptop_7']
    with open(str(prefix) + '_label.pkl', 'rb') as handle:
        label = pickle.load(handle)
    assert label['class_ids'] == [6, 5]
    np.testing.assert_array_equal(label['bboxes'][0], [10, 5, 30, 25])
    np.testing.assert_allclose(label['scales'][0], np.linalg.norm([0.12, 0.09, 0.1]), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(label['size'], axis=1), 1.0, rtol=1e-5)
    srt = label['poses'][1]
    np.testing.assert_allclose(np.cbrt(np.linalg.det(srt[:3, :3])), label['scales'][1],
                               rtol=1e-5)
    assert list(label['handle_visibility']) == [0, 1]


def test_real_depth_is_uint16_millimetres(tmp_path):
    prefix = nocs.write_frame(tmp_path, 1, synthetic_frame(), 'real')
    assert (tmp_path / '0001_meta.txt').read_text().splitlines()[0] == '3 6 mug_a'
    depth = cv2.imread(str(prefix) + '_depth.png', cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.ndim == 2 and depth[0, 0] == 0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 65535))
def test_camera_depth_encoding_matches_decoder(depth_mm):
    encoded = nocs.encode_depth(np.full((1, 1), depth_mm / 1000.0), 'camera')
    decoded = nocs.decode_depth(encoded)[0, 0] * 1000
    expected = depth_mm if 0 < depth_mm < nocs.CAMERA_INVALID_DEPTH_MM else 0
    assert round(float(decoded)) == expected


def test_missing_label_names_the_file(tmp_path):
    prefix = nocs.write_frame(tmp_path, 2, synthetic_frame(), 'real')
    (tmp_path / '0002_label.pkl').unlink()
    with pytest.raises(nocs.DatasetError, match='0002_label.pkl'):
        nocs.read_frame(prefix, 'real')


def test_corrupt_png_names_the_file(tmp_path):
    prefix = nocs.write_frame(tmp_path, 3, synthetic_frame(), 'real')
    (tmp_path / '0003_mask.png').write_bytes(b'\x89PNG not really')
    with pytest.raises(nocs.DatasetError, match='0003_mask.png'):
        nocs.read_frame(prefix, 'real')


def test_corrupt_label_names_the_file(tmp_path):
    prefix = nocs.write_frame(tmp_path, 4, synthetic_frame(), 'real')
    (tmp_path / '0004_label.pkl').write_bytes(b'garbage')
    with pytest.raises(nocs.DatasetError, match='0004_label.pkl'):
        nocs.read_frame(prefix, 'real')


def test_training_label_without_size_needs_model_sizes(tmp_path):
    frame = synthetic_frame()
    prefix = nocs.write_frame(tmp_path, 5, frame, 'camera')
    label_path = tmp_path / '0005_label.pkl'
    with open(label_path, 'rb') as handle:
        label = pickle.load(handle)
    sizes = dict(zip(label['model_list'], label.pop('size')))
    for key in ('poses', 'handle_visibility'):
        label.pop(key)
    with open(label_path, 'wb') as handle:
        pickle.dump(label, handle)
    with pytest.raises(nocs.DatasetError, match='0005_label.pkl'):
        nocs.read_frame(prefix, 'camera')
    models = {name: np.array([size / 2, -size / 2]) for name, size in sizes.items()}
    nocs.write_pickle(tmp_path / 'camera_train.pkl', models)
    back = nocs.read_frame(prefix, 'camera',
                           model_sizes=nocs.load_model_sizes(tmp_path / 'camera_train.pkl'))
    np.testing.assert_allclose(back.objects[0].size, frame.objects[0].size, rtol=1e-5)


def test_dataset_lists_and_scans(tmp_path):
    for scene in ('scene_1', 'scene_2'):
        for index in range(2):
            nocs.write_frame(tmp_path / 'Real' / 'test' / scene, index, synthetic_frame(index),
                             'real')
    scanned = nocs.NocsDataset(tmp_path, 'real_test')
    assert scanned.entries[0] == 'test/scene_1/0000' and len(scanned) == 4
    nocs.write_list_file(tmp_path, 'real_test', scanned.entries[1:3])
    listed = nocs.NocsDataset(tmp_path, 'real_test')
    assert listed.entries == ['test/scene_1/0001', 'test/scene_2/0000']
    assert [o.instance_id for o in listed[1].objects] == [3, 7]
    with pytest.raises(nocs.DatasetError, match='camera_val'):
        nocs.NocsDataset(tmp_path, 'camera_val')


def test_listed_frame_missing_raises(tmp_path):
    nocs.write_list_file(tmp_path, 'camera_train', ['train/00000/0000'])
    with pytest.raises(nocs.DatasetError, match='0000_color.png'):
        nocs.NocsDataset(tmp_path, 'camera_train')[0]


def test_gts_round_trip(tmp_path):
    frame = synthetic_frame()
    path = nocs.write_gts(tmp_path, 'real_test', 'scene_1', 7, frame, 'Real/test/scene_1/0007')
    assert path == tmp_path / 'gts' / 'real_test' / 'results_real_test_scene_1_0007.pkl'
    gts = nocs.read_gts(path)
    objects = nocs.gts_objects(gts)
    assert [o.category for o in objects] == ['mug', 'laptop']
    for obj, ref in zip(objects, frame.objects):
        np.testing.assert_allclose(obj.rotation, ref.rotation, atol=1e-5)
        np.testing.assert_allclose(obj.size, ref.size, rtol=1e-5)
    del gts['gt_RTs']
    nocs.write_pickle(path, gts)
    with pytest.raises(nocs.DatasetError, match='gt_RTs'):
        nocs.read_gts(path)


def face_frame(subset: str, width: int = 160, height: int = 120) -> Frame:
    """One box seen through its camera-facing face, with the NOCS map of that face."""
    intrinsics = nocs.default_intrinsics(subset).scaled(width, height)
    v, u = np.mgrid[0:height, 0:width]
    rays = np.stack(((u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy,
                     np.ones(u.shape)), axis=-1)
    rotation = Rotation.from_euler('zx', [35, 15], degrees=True).as_matrix()
    translation, size = np.array([0.03, -0.02, 0.7]), np.array([0.2, 0.15, 0.12])
    normal = rotation[:, 2]
    depth = (translation - 0.5 * size[2] * normal) @ normal / (rays @ normal)
    local = (rays * depth[..., None] - translation) @ rotation
    hit = np.all(np.abs(local[..., :2]) < 0.5 * size[:2], axis=-1)
    scale = np.linalg.norm(size)
    coord = np.where(hit[..., None], local / scale + 0.5, 0.0)
    obj = ObjectAnnotation(1, 'laptop', rotation, translation, size)
    return Frame(np.zeros((height, width, 3), np.uint8), np.where(hit, depth, 0.0),
                 hit.astype(np.uint8), intrinsics, [obj], coord=coord)


@pytest.mark.parametrize('subset', nocs.SUBSETS)
def test_backprojected_depth_matches_the_coord_map(tmp_path, subset):
    prefix = nocs.write_frame(tmp_path, 0, face_frame(subset), subset)
    frame = nocs.read_frame(prefix, subset)
    obj = frame.objects[0]
    v, u = np.nonzero(frame.mask == obj.instance_id)
    k = frame.intrinsics
    z = frame.depth[v, u]
    points = np.stack(((u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z), axis=-1)
    predicted = (points - obj.translation) @ obj.rotation / obj.scale + 0.5
    # 1 mm depth steps and 1/255 colour steps bound the disagreement.
    error = np.abs(predicted - frame.coord[v, u])
    assert len(v) > 1000 and error.max() < 0.5 / 255 + 0.002 / obj.scale


def test_released_archive_layout_is_found_and_named(tmp_path):
    for index in range(2):
        nocs.write_frame(tmp_path / 'real_test' / 'scene_1', index, synthetic_frame(index),
                         'real')
    dataset = nocs.NocsDataset(tmp_path, 'real_test')
    assert dataset.location.layout == 'released-archive'
    assert 'released-archive layout' in dataset.location.describe()
    assert dataset.entries == ['scene_1/0000', 'scene_1/0001']
    assert dataset.eval_name(1) == 'results_real_test_scene_1_0001.pkl'
    assert [o.instance_id for o in dataset[0].objects] == [3, 7]
    (tmp_path / 'real_test_list.txt').write_text('scene_1/0001\n')
    listed = nocs.NocsDataset(tmp_path, 'real_test')
    assert listed.entries == ['scene_1/0001'] and listed.location.listing is not None


def test_spd_layout_is_preferred_and_described(tmp_path):
    nocs.write_frame(tmp_path / 'CAMERA' / 'val' / '00000', 0, synthetic_frame(), 'camera')
    dataset = nocs.NocsDataset(tmp_path, 'camera_val')
    assert dataset.location.layout == 'SPD/GenPose'
    assert dataset.eval_name(0) == 'results_val_00000_0000.pkl'


def test_no_layout_matched_says_what_was_looked_for(tmp_path):
    with pytest.raises(nocs.DatasetError) as error:
        nocs.NocsDataset(tmp_path, 'real_test')
    message = str(error.value)
    assert 'SPD/GenPose' in message and 'released-archive' in message
    assert str(tmp_path / 'real_test') in message and 'test_list.txt' in message


def test_obj_models_fill_missing_sizes(tmp_path):
    frame = synthetic_frame()
    prefix = nocs.write_frame(tmp_path / 'real_test' / 'scene_1', 0, frame, 'real')
    label = nocs.read_pickle(Path(str(prefix) + '_label.pkl'))
    del label['size']
    nocs.write_pickle(Path(str(prefix) + '_label.pkl'), label)
    points = {name: np.array([[0.5, 0.4, 0.3], [-0.5, -0.4, -0.3]])
              for name in label['model_list']}
    nocs.write_pickle(tmp_path / 'obj_models' / 'real_test.pkl', points)
    objects = nocs.NocsDataset(tmp_path, 'real_test')[0].objects
    np.testing.assert_allclose(objects[0].size, label['scales'][0] * np.array([1.0, 0.8, 0.6]),
                               rtol=1e-6)
