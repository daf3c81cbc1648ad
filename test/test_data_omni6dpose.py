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

import json

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.data import omni6dpose
from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.data.nocs import DatasetError
from catpose_ros.geometry.camera import CameraIntrinsics

if not omni6dpose._opencv_has_exr():
    pytest.importorskip('OpenEXR', reason='no EXR codec: OpenCV lacks it, OpenEXR missing')

INTRINSICS = CameraIntrinsics(100.0, 100.0, 40.0, 30.0, 80, 60)
# cutoop's ImageMetaData / ObjectPoseInfo / ObjectMetaInfo / ViewInfo fields.
META_FIELDS = {'objects', 'camera', 'scene_dataset', 'env_param', 'face_up', 'concentrated',
               'comments', 'runtime_seed', 'baseline_dis', 'emitter_dist_l'}
OBJECT_FIELDS = {'meta', 'quaternion_wxyz', 'translation', 'is_valid', 'id', 'material',
                 'world_quaternion_wxyz', 'world_translation'}
OBJECT_META_FIELDS = {'oid', 'class_name', 'class_label', 'instance_path', 'scale',
                      'is_background', 'bbox_side_len'}
CAMERA_FIELDS = {'quaternion', 'translation', 'intrinsics', 'scene_obj_path',
                 'background_image_path', 'background_depth_path', 'distances', 'kind'}

OBJ_META = {
    'mango_1': omni6dpose.ObjectInfo('mango_1', 'mango', 12, np.array([0.05, 0.1, 0.07])),
    'bottle_3': omni6dpose.ObjectInfo('bottle_3', 'bottle', 3, np.array([0.2, 0.6, 0.2]),
                                      omni6dpose.SymmetryLabel(y='any')),
}


def fixture_frame(seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed)
    mask = np.zeros((60, 80), np.uint8)
    mask[5:25, 5:30] = 5
    mask[30:58, 40:75] = 254
    depth = rng.uniform(0.3, 3.0, mask.shape).astype(np.float32)
    depth[0] = 0.0
    objects = [
        ObjectAnnotation(5, 'mango', Rotation.random(random_state=seed).as_matrix(),
                         np.array([0.02, 0.03, 0.6]), np.array([0.05, 0.1, 0.07]) * 1.1,
                         model_id='mango_1'),
        ObjectAnnotation(254, 'bottle', Rotation.random(random_state=seed + 1).as_matrix(),
                         np.array([-0.1, 0.05, 0.9]), np.array([0.06, 0.18, 0.06]),
                         model_id='bottle_3'),
    ]
    coord = rng.uniform(0, 1, (60, 80, 3)) * (mask > 0)[..., None]
    return Frame(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8), depth, mask, INTRINSICS,
                 objects, coord=coord)


@pytest.mark.parametrize('objects_as', ['dict', 'list'])
def test_round_trip(tmp_path, objects_as):
    frame = fixture_frame()
    meta_path = omni6dpose.write_obj_meta(tmp_path / 'Meta' / 'obj_meta.json', OBJ_META)
    prefix = omni6dpose.write_omni6dpose_frame(tmp_path / 'SOPE' / '00' / 'train' / 'ikea' /
                                               '0001', 3, frame, OBJ_META, objects_as)
    obj_meta = omni6dpose.load_obj_meta(meta_path)
    back = omni6dpose.read_omni6dpose_frame(prefix, obj_meta)
    np.testing.assert_array_equal(back.color, frame.color)
    np.testing.assert_array_equal(back.mask, frame.mask)
    np.testing.assert_allclose(back.depth, frame.depth, rtol=1e-6)
    np.testing.assert_allclose(back.coord, frame.coord, atol=0.5 / 255 + 1e-6)
    assert back.intrinsics == INTRINSICS
    assert [o.category for o in back.objects] == ['mango', 'bottle']
    for obj, ref in zip(back.objects, frame.objects):
        assert obj.instance_id == ref.instance_id and obj.model_id == ref.model_id
        np.testing.assert_allclose(obj.rotation, ref.rotation, atol=1e-9)
        np.testing.assert_allclose(obj.translation, ref.translation)
        np.testing.assert_allclose(obj.size, ref.size, rtol=1e-9)
    symmetries = omni6dpose.frame_symmetries(back, obj_meta)
    assert symmetries[254].symmetric_about_y and not symmetries[5].symmetric_about_y


def test_meta_json_has_every_cutoop_field(tmp_path):
    prefix = omni6dpose.write_omni6dpose_frame(tmp_path, 7, fixture_frame(), OBJ_META)
    meta = json.loads((tmp_path / '0007_meta.json').read_text())
    assert set(meta) == META_FIELDS and set(meta['camera']) == CAMERA_FIELDS
    assert sorted(meta['objects']) == ['254_bottle_3', '5_mango_1']
    for entry in meta['objects'].values():
        assert set(entry) == OBJECT_FIELDS and set(entry['meta']) == OBJECT_META_FIELDS
    assert prefix == tmp_path / '0007'


def test_mask_exr_matches_cutoop_decoding(tmp_path):
    mask = np.arange(255, dtype=np.uint8).reshape(15, 17)
    omni6dpose.write_exr(tmp_path / 'mask.exr', omni6dpose.encode_mask(mask))
    stored = omni6dpose.read_exr(tmp_path / 'mask.exr')
    assert stored.shape == (15, 17, 3)
    # cutoop: channel 2, times 255, truncating cast.
    np.testing.assert_array_equal(np.array(stored[:, :, 2] * 255, dtype=np.uint8), mask)
    np.testing.assert_array_equal(omni6dpose.decode_mask(stored), mask)
    background = np.full((2, 2, 3), 1.0, np.float32)
    assert not omni6dpose.decode_mask(background).any()


def test_smaller_images_rescale_intrinsics(tmp_path):
    frame = fixture_frame()
    meta = omni6dpose.frame_meta(frame, OBJ_META)
    meta['camera']['intrinsics'].update(fx=200.0, fy=200.0, cx=80.0, cy=60.0, width=160,
                                        height=120)
    prefix = omni6dpose.write_omni6dpose_frame(tmp_path, 0, frame, OBJ_META)
    (tmp_path / '0000_meta.json').write_text(json.dumps(meta))
    back = omni6dpose.read_omni6dpose_frame(prefix, None)
    assert back.intrinsics == INTRINSICS
    np.testing.assert_allclose(back.objects[0].size, frame.objects[0].size)


def test_invalid_and_background_objects_are_left_out(tmp_path):
    frame = fixture_frame()
    meta = omni6dpose.frame_meta(frame, OBJ_META, 'list')
    meta['objects'][0]['is_valid'] = False
    meta['objects'][1]['meta']['is_background'] = True
    prefix = omni6dpose.write_omni6dpose_frame(tmp_path, 0, frame, OBJ_META)
    (tmp_path / '0000_meta.json').write_text(json.dumps(meta))
    assert omni6dpose.read_omni6dpose_frame(prefix).objects == []
    kept = omni6dpose.read_omni6dpose_frame(prefix, include_invalid=True).objects
    assert [o.instance_id for o in kept] == [5]


def test_far_and_nan_depth_is_invalid(tmp_path):
    depth = np.array([[0.5, np.nan], [2e3, -1.0]], np.float32)
    omni6dpose.write_exr(tmp_path / 'd.exr', depth)
    decoded = omni6dpose.decode_depth(omni6dpose.read_exr(tmp_path / 'd.exr'))
    np.testing.assert_array_equal(decoded, [[0.5, 0.0], [0.0, 0.0]])


def test_dataset_and_errors_name_the_file(tmp_path):
    omni6dpose.write_obj_meta(tmp_path / 'obj_meta.json', OBJ_META)
    for scene, index in (('000001', 0), ('000001', 1), ('000002', 0)):
        omni6dpose.write_omni6dpose_frame(tmp_path / 'ROPE' / scene, index, fixture_frame(index),
                                          OBJ_META, digits=6)
    dataset = omni6dpose.Omni6DPoseDataset(tmp_path / 'ROPE', tmp_path / 'obj_meta.json')
    assert len(dataset) == 3 and dataset.prefixes[2].name == '000000'
    assert len(dataset[1].objects) == 2
    (tmp_path / 'ROPE' / '000001' / '000001_mask.exr').write_bytes(b'not an exr')
    with pytest.raises(DatasetError, match='000001_mask.exr'):
        dataset[1]
    (tmp_path / 'ROPE' / '000002' / '000000_meta.json').write_text('{"objects": ')
    with pytest.raises(DatasetError, match='000000_meta.json'):
        dataset[2]
    with pytest.raises(DatasetError, match='color.png'):
        omni6dpose.Omni6DPoseDataset(tmp_path / 'Meta')


def test_color_is_written_bgr(tmp_path):
    frame = fixture_frame()
    prefix = omni6dpose.write_omni6dpose_frame(tmp_path, 0, frame, OBJ_META)
    on_disk = cv2.imread('%s_color.png' % prefix)
    np.testing.assert_array_equal(on_disk[..., ::-1], frame.color)
