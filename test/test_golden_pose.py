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

"""Golden poses end to end: a rendered scene with known poses through the pose node's core.

The frame goes in as the ROS messages a camera and a segmenter publish (16UC1 depth in
millimetres, CameraInfo, mono16 labels, Detection2DArray); what the node would publish (TF
and Detection3DArray) is read back as a user would (scipy's x, y, z, w quaternions, metres)
and compared with the ground truth in the camera optical frame. An estimator that returns
the truth isolates the message path exactly (frame, unit, sign, quaternion order, header);
the shipped model, slow, adds the estimator's centring and metric size.
"""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.categories import category_by_name
from catpose_ros.data import scenes
from catpose_ros.data.sensor import SensorConfig
from catpose_ros.geometry.camera import NOCS_REAL_INTRINSICS
from catpose_ros.geometry.rotation import symmetry_aware_angle
from catpose_ros.perception.estimator import EstimationResult, PoseEstimate
from catpose_ros.perception.instances import mask_box
from catpose_ros.ros import conversions as conv
from catpose_ros.ros.messages import RosbagsFactory
from catpose_ros.ros.params import CatposeParams
from catpose_ros.ros.pose_pipeline import load_estimator, PoseNodeCore

FRAME_ID = 'camera_color_optical_frame'
STAMP_NS = 1_700_000_123_456_789_000


@pytest.fixture(scope='module')
def golden_frame():
    rng = np.random.default_rng(7)
    scene = scenes.generate_scene(scenes.SceneConfig(  # one object of each category
        split='test', min_objects=6, max_objects=6, max_per_category=1), rng, 'golden')
    pose = scenes.sample_camera_pose(scene, rng)
    return next(scenes.render_sequence(scene, [pose], NOCS_REAL_INTRINSICS,
                                       SensorConfig.noiseless(), rng))


def _messages(factory, frame):
    header = conv.make_header(factory, STAMP_NS, FRAME_ID)
    records = []
    for obj in frame.objects:
        mask = frame.mask == obj.instance_id
        if mask.sum() >= 200:
            records.append(conv.Detection2DRecord(obj.instance_id, obj.category, 0.95,
                                                  mask_box(mask)))
    labels = np.where(np.isin(frame.mask, [r.instance_id for r in records]), frame.mask, 0)
    millimetres = np.round(frame.depth * 1000.0).astype(np.uint16)  # as a camera sends it
    return (conv.numpy_to_image(factory, millimetres, '16UC1', header),
            conv.intrinsics_to_camera_info(factory, frame.intrinsics, header),
            conv.numpy_to_image(factory, labels.astype(np.uint16), 'mono16', header),
            conv.detections_to_detection2d_array(factory, records, header)), records


class _TruthEstimator:
    """Returns each instance's ground-truth pose and size: isolates the message path."""

    def __init__(self, frame):
        self.frame = frame

    def estimate_from_clouds(self, instances, clouds, init_poses=None, cold_checks=False):
        estimates = []
        for instance in instances:
            truth = self.frame.object_by_instance(instance.instance_id)
            estimates.append(PoseEstimate(instance.instance_id, truth.category, truth.rotation,
                                          truth.translation, truth.size, None, 0.95, 1024,
                                          False))
        return EstimationResult(estimates)


def _published(outputs):
    """Read TF and Detection3DArray back: {child frame: (category, R, t, size)}."""
    sizes = {}
    for detection in outputs.detections.detections:
        result = detection.results[0]
        child = conv.child_frame_name('catpose/', result.hypothesis.class_id, int(detection.id))
        position = result.pose.pose.position
        sizes[child] = (np.array([position.x, position.y, position.z]),
                        np.array([detection.bbox.size.x, detection.bbox.size.y,
                                  detection.bbox.size.z]))
    published = {}
    for transform in outputs.tf.transforms:
        assert transform.header.frame_id == FRAME_ID
        assert conv.stamp_to_ns(transform.header.stamp) == STAMP_NS
        q, v = transform.transform.rotation, transform.transform.translation
        translation = np.array([v.x, v.y, v.z])
        rotation = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
        category = transform.child_frame_id.split('/')[1].rsplit('_', 1)[0]
        position, size = sizes[transform.child_frame_id]
        assert np.allclose(position, translation)
        published[transform.child_frame_id] = (category, rotation, translation, size)
    return published


def _nearest_truth(frame, category, translation):
    candidates = [o for o in frame.objects if o.category == category]
    return min(candidates, key=lambda o: np.linalg.norm(o.translation - translation))


@pytest.mark.parametrize('distro', ['humble', 'jazzy'])
def test_published_tf_equals_the_truth_in_the_optical_frame(golden_frame, distro):
    factory = RosbagsFactory(distro)
    params = CatposeParams.from_dict({'model.device': 'cpu', 'sync.max_input_age_s': 0.0})
    core = PoseNodeCore(params, _TruthEstimator(golden_frame), factory)
    messages, records = _messages(factory, golden_frame)
    outputs = core.process(*messages)
    assert outputs.processed and outputs.detections.header.frame_id == FRAME_ID
    published = _published(outputs)
    assert len(published) == len(records) >= 3
    for category, rotation, translation, size in published.values():
        truth = _nearest_truth(golden_frame, category, translation)
        if category_by_name(category).is_symmetric(truth.handle_visible):
            # Symmetric objects are published with the canonical turn about y.
            assert np.allclose(rotation[:, 1], truth.rotation[:, 1], atol=1e-6)
        else:
            assert np.allclose(rotation, truth.rotation, atol=1e-6)
        assert np.allclose(translation, truth.translation, atol=1e-6)
        assert np.allclose(size, truth.size, atol=1e-6)
        # The object centre projects onto its own mask: the frame is the optical one.
        u, v = golden_frame.intrinsics.fx * translation[0] / translation[2] + \
            golden_frame.intrinsics.cx, golden_frame.intrinsics.fy * translation[1] / \
            translation[2] + golden_frame.intrinsics.cy
        assert 0 <= u < golden_frame.intrinsics.width and 0 <= v < golden_frame.intrinsics.height


@pytest.mark.slow
def test_shipped_model_publishes_poses_near_the_truth(golden_frame):
    import torch

    torch.set_num_threads(1)
    factory = RosbagsFactory('jazzy')
    params = CatposeParams.from_dict({'model.device': 'cpu', 'model.head': 'regression',
                                      'sync.max_input_age_s': 0.0})
    core = PoseNodeCore(params, load_estimator(params), factory)
    messages, records = _messages(factory, golden_frame)
    published = _published(core.process(*messages))
    assert len(published) == len(records)
    translation_cm, rotation_deg, size_ratio = [], [], []
    for category, rotation, translation, size in published.values():
        truth = _nearest_truth(golden_frame, category, translation)
        translation_cm.append(100 * np.linalg.norm(translation - truth.translation))
        symmetric = category_by_name(category).is_symmetric(truth.handle_visible)
        rotation_deg.append(np.degrees(float(symmetry_aware_angle(
            torch.from_numpy(rotation), torch.from_numpy(truth.rotation), symmetric))))
        size_ratio.append(np.linalg.norm(size) / np.linalg.norm(truth.size))
    # Loose bounds: a unit, sign, frame or centring error is off by far more than these.
    assert np.median(translation_cm) < 5.0 and max(translation_cm) < 15.0
    assert np.median(rotation_deg) < 45.0
    assert 0.5 < np.median(size_ratio) < 2.0
