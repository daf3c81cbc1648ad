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

"""Wire-valid but bad input: a logged skip per object or frame, never an exception or NaN."""

import numpy as np
import pytest
from support import (FAST_PARAMS, frame_messages, OBJECTS, save_tiny_checkpoint,
                     STAMP_NS)
import torch

from catpose_ros.perception.estimator import NonFiniteModelError, PoseEstimator
from catpose_ros.ros import conversions as conv
from catpose_ros.ros.frame_worker import WorkerGuard
from catpose_ros.ros.messages import RosbagsFactory
from catpose_ros.ros.params import CatposeParams
from catpose_ros.ros.pose_pipeline import PoseNodeCore


@pytest.fixture(scope='module')
def factory():
    return RosbagsFactory('jazzy')


def make_core(estimator, factory):
    return PoseNodeCore(CatposeParams.from_dict(FAST_PARAMS), estimator, factory)


def wire(factory, message):
    """Serialise to CDR and back, as a subscriber would receive it."""
    return factory.deserialize(factory.serialize(message), message.__msgtype__)


def categories(outputs):
    return sorted(d.results[0].hypothesis.class_id for d in outputs.detections.detections)


def assert_all_finite_and_serialisable(factory, outputs):
    for message in (outputs.detections, outputs.tf, outputs.markers, outputs.diagnostics):
        if message is not None:
            factory.serialize(message)
    for obj in conv.detection3d_array_to_poses(outputs.detections) if outputs.detections else []:
        assert conv.object_pose_problem(obj) is None


@pytest.mark.parametrize('index, value, reason', [
    (2, float('nan'), 'finite'), (0, 1e-300, 'fx must lie'), (0, float('inf'), 'finite'),
    (5, 1e9, 'cy must lie'), (4, -3.0, 'fy must lie')])
def test_absurd_camera_info_skips_the_frame_with_a_reason(estimator, factory, index, value,
                                                          reason):
    core = make_core(estimator, factory)
    depth, info, instances, detections = frame_messages(factory)
    info.k[index] = value
    outputs = core.process(depth, wire(factory, info), instances, detections)
    assert outputs.skip_reason is not None and reason in outputs.skip_reason
    assert outputs.error is None and outputs.detections is None
    factory.serialize(outputs.diagnostics)


def _corrupt_first_detection(detections, how):
    bad = detections.detections[0]
    if how == 'nan centre':
        bad.bbox.center.position.x = float('nan')
    elif how == 'inf size':
        bad.bbox.size_y = float('inf')
    elif how == 'nan score':
        bad.results[0].hypothesis.score = float('nan')
    elif how == 'inf score':
        bad.results[0].hypothesis.score = float('inf')
    elif how == 'fractional id':
        bad.id = '1.5'
    elif how == 'text id':
        bad.id = 'abc'
    elif how == 'no results':
        bad.results = []
    elif how == 'id out of range':
        bad.id = '70000'


@pytest.mark.parametrize('how', ['nan centre', 'inf size', 'nan score', 'inf score',
                                 'fractional id', 'text id', 'no results', 'id out of range'])
def test_one_bad_detection_skips_that_object_only(estimator, factory, how):
    core = make_core(estimator, factory)
    depth, info, instances, detections = frame_messages(factory)
    _corrupt_first_detection(detections, how)
    outputs = core.process(depth, info, instances, wire(factory, detections))
    assert outputs.processed, outputs.skip_reason
    assert categories(outputs) == ['bowl']        # the mug's detection was the bad one
    assert any('Detection2D' in reason for _, reason in outputs.skipped_objects)
    assert any(record.message.startswith('object') for record in outputs.logs)
    assert_all_finite_and_serialisable(factory, outputs)


def test_a_duplicate_id_never_relabels_another_objects_pixels(estimator, factory):
    objects = OBJECTS + ((3, 'can', (90, 115), (10, 40), 750),)
    core = make_core(estimator, factory)
    depth, info, instances, detections = frame_messages(factory, objects=objects)
    detections.detections[2].id = '1'            # the can's detection claims the mug's label
    outputs = core.process(depth, info, instances, wire(factory, detections))
    assert categories(outputs) == ['bowl']
    reasons = [reason for _, reason in outputs.skipped_objects]
    assert any('used by 2 detections' in reason for reason in reasons)


def test_a_stamp_that_would_overflow_int32_is_skipped(estimator, factory):
    core = make_core(estimator, factory)
    messages = list(frame_messages(factory))
    for message in messages:
        message.header.stamp.sec = 2 ** 31 - 1
        message.header.stamp.nanosec = 10 ** 9
    outputs = core.process(*[wire(factory, m) for m in messages])
    assert 'nanosec 1000000000' in outputs.skip_reason
    factory.serialize(outputs.diagnostics)
    with pytest.raises(conv.ConversionError, match='int32'):
        conv.ns_to_stamp(factory, 2 ** 31 * 10 ** 9)


@pytest.mark.parametrize('rotation', [np.full((3, 3), np.nan), np.zeros((3, 3)),
                                      np.diag([1.0, 1.0, -1.0]), 2.0 * np.eye(3)])
def test_improper_rotations_are_left_out_not_raised(factory, rotation):
    good = conv.ObjectPose(1, 'mug', 0.9, np.eye(3), np.array([0.0, 0.0, 1.0]),
                           np.array([0.1, 0.1, 0.1]))
    bad = conv.ObjectPose(2, 'can', 0.9, rotation, np.zeros(3), np.ones(3))
    header = conv.make_header(factory, STAMP_NS, 'cam')
    array = conv.poses_to_detection3d_array(factory, [good, bad], header)
    assert [d.id for d in array.detections] == ['1']
    tf = conv.poses_to_tf_message(factory, [good, bad], header)
    markers = conv.MarkerBook().markers(factory, [good, bad], header)
    assert {int(m.id) for m in markers.markers} == {1}
    for message in (array, tf, markers):
        factory.serialize(message)


@pytest.mark.parametrize('field, value', [('translation', [np.nan, 0, 1]),
                                          ('size', [np.inf, 1, 1]), ('size', [-1, 1, 1]),
                                          ('score', np.nan), ('score', np.inf)])
def test_non_finite_translation_size_or_score_is_never_published(factory, field, value):
    obj = conv.ObjectPose(1, 'mug', 0.9, np.eye(3), np.zeros(3), np.ones(3))
    setattr(obj, field, np.asarray(value, dtype=float))
    header = conv.make_header(factory, STAMP_NS, 'cam')
    assert conv.poses_to_detection3d_array(factory, [obj], header).detections == []
    kept, dropped = conv.publishable_poses([obj])
    assert kept == [] and field in dropped[0][1]


def test_non_finite_covariance_is_sent_as_unknown(factory):
    obj = conv.ObjectPose(1, 'mug', 0.9, np.eye(3), np.zeros(3), np.ones(3),
                          covariance=np.full((6, 6), np.nan))
    array = conv.poses_to_detection3d_array(factory, [obj],
                                            conv.make_header(factory, STAMP_NS, 'cam'))
    covariance = np.asarray(array.detections[0].results[0].pose.covariance)
    assert covariance[0] == conv.UNKNOWN_COVARIANCE_MARK and np.isfinite(covariance).all()


def test_cloud_field_beyond_point_step_is_a_conversion_error(factory):
    cloud = conv.points_to_cloud(factory, np.zeros((4, 3), np.float32),
                                 conv.make_header(factory, STAMP_NS, 'cam'))
    cloud.fields[2].offset = 12
    with pytest.raises(conv.ConversionError, match='offset 12 does not fit point_step 12'):
        conv.cloud_to_points(wire(factory, cloud))


def test_non_finite_model_output_is_an_error_per_object(estimator, factory, monkeypatch):
    core = make_core(estimator, factory)
    original = estimator._poses

    def nan_poses(*args):
        poses, covariance, candidates = original(*args)
        return torch.full_like(poses, float('nan')), covariance, candidates

    monkeypatch.setattr(estimator, '_poses', nan_poses)
    outputs = core.process(*frame_messages(factory))
    assert outputs.processed and outputs.objects == []
    assert len(outputs.skipped_objects) == 2
    assert all('model output is not finite' in r for _, r in outputs.skipped_objects)
    assert [r.level for r in outputs.logs if r.message.startswith('object')] == ['error'] * 2
    status = outputs.diagnostics.status[0]
    assert status.level == conv.DIAGNOSTIC_ERROR
    assert conv.diagnostics_to_dict(outputs.diagnostics)['catpose_pose']['objects_failed'] == '2'


def test_a_model_with_overflowing_output_is_refused_at_load(tmp_path):
    from catpose_ros.model.checkpoint import load_checkpoint, save_checkpoint
    path = save_tiny_checkpoint(tmp_path / 'ok.pt')
    model, config, _ = load_checkpoint(path)
    with torch.no_grad():
        for parameter in model.regression_head.parameters():
            parameter.fill_(3e38)                 # finite weights, infinite activations
    broken = save_checkpoint(tmp_path / 'overflow.pt', model, config)
    with pytest.raises(NonFiniteModelError, match='overflow.pt gives a non-finite'):
        PoseEstimator.from_checkpoint(broken, head='regression')


def test_an_unexpected_error_skips_one_frame_and_keeps_the_tracks(
        estimator, factory, monkeypatch):
    core = make_core(estimator, factory)
    assert core.process(*frame_messages(factory, 0)).processed
    tracks = sorted(t.track_id for t in core.tracker.tracks)

    def broken(*args, **kwargs):
        raise RuntimeError('boom')

    with monkeypatch.context() as patch:
        patch.setattr(core.pipeline, 'process', broken)
        failed = core.process(*frame_messages(factory, 1))
    assert failed.error == 'RuntimeError: boom' and failed.detections is None
    assert any(r.level == 'error' and str(STAMP_NS // 10 ** 9) in r.message
               for r in failed.logs)
    stats = conv.diagnostics_to_dict(failed.diagnostics)['catpose_pose']
    assert stats['frames_failed'] == '1'
    assert sorted(t.track_id for t in core.tracker.tracks) == tracks
    recovered = core.process(*frame_messages(factory, 2))
    assert recovered.processed and len(recovered.objects) == 2


def test_worker_guard_reports_and_survives(factory):
    guard = WorkerGuard('catpose_pose')
    seen = []

    def process(*frame):
        seen.append(frame)
        if len(seen) == 1:
            raise ValueError('bad frame')

    frame = frame_messages(factory)
    failure = guard.run(process, frame, factory)
    assert failure.log.level == 'error' and 'bad frame' in failure.log.message
    assert '1700000000.000000000' in failure.log.message
    values = conv.diagnostics_to_dict(failure.diagnostics)['catpose_pose']
    assert values['worker_failures'] == '1'
    factory.serialize(failure.diagnostics)
    assert guard.run(process, frame, factory) is None and len(seen) == 2
