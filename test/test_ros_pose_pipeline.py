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

"""PoseNodeCore on real rosbags messages (Humble and Jazzy) with a random-weights model."""

from dataclasses import replace
import threading

import numpy as np
import pytest
from support import (FAST_PARAMS, FRAME_ID, frame_messages, HEIGHT, OBJECTS,
                     STAMP_NS, TINY_POINTS, WIDTH)

from catpose_ros.ros import conversions as conv
from catpose_ros.ros.frame_worker import FrameSlot, stale_frame_reason
from catpose_ros.ros.messages import RosbagsFactory
from catpose_ros.ros.params import CatposeParams, ModelNotFoundError
from catpose_ros.ros.pose_pipeline import PoseNodeCore


@pytest.fixture(params=['humble', 'jazzy'])
def factory(request):
    return RosbagsFactory(request.param)


def make_core(estimator, factory, **overrides):
    return PoseNodeCore(CatposeParams.from_dict(dict(FAST_PARAMS, **overrides)), estimator,
                        factory)


def child_frames(outputs):
    return sorted(t.child_frame_id for t in outputs.tf.transforms)


def test_outputs_carry_the_input_stamp_and_frame(estimator, factory):
    core = make_core(estimator, factory, **{'output.publish_debug_cloud': True})
    messages = frame_messages(factory)
    outputs = core.process(*messages, now_ns=STAMP_NS + 10_000_000, want_cloud=True)
    assert outputs.processed, outputs.skip_reason
    assert (outputs.stamp_ns, outputs.frame_id) == (STAMP_NS, FRAME_ID)
    headers = [outputs.detections.header, outputs.diagnostics.header, outputs.cloud.header]
    headers += [d.header for d in outputs.detections.detections]
    headers += [t.header for t in outputs.tf.transforms]
    headers += [m.header for m in outputs.markers.markers]
    for header in headers:
        assert conv.stamp_to_ns(header.stamp) == STAMP_NS and header.frame_id == FRAME_ID
    for message in (outputs.detections, outputs.tf, outputs.markers, outputs.diagnostics,
                    outputs.cloud):
        factory.serialize(message)
    poses = conv.detection3d_array_to_poses(outputs.detections)
    assert sorted(p.category for p in poses) == ['bowl', 'mug']
    assert all(np.all(p.size > 0) and np.isfinite(p.translation).all() for p in poses)
    assert len(conv.cloud_to_points(outputs.cloud)) == 2 * TINY_POINTS
    stats = conv.diagnostics_to_dict(outputs.diagnostics)['catpose_pose']
    for stage in ('decode', 'masks', 'tracking', 'estimate', 'messages', 'total'):
        assert float(stats['latency_%s_ms' % stage]) >= 0.0
    assert stats['objects'] == '2'


def test_tf_children_are_stable_and_warm_started_after_the_first_frame(estimator, factory):
    calls = []

    class Recording:
        """The real estimator, recording which objects were warm-started."""

        def estimate_from_clouds(self, *args, **kwargs):
            calls.append(sorted(kwargs['init_poses']))
            return estimator.estimate_from_clouds(*args, **kwargs)

    core = PoseNodeCore(CatposeParams.from_dict(FAST_PARAMS), Recording(), factory)
    names = [child_frames(core.process(*frame_messages(factory, i, shift=i)))
             for i in range(3)]
    assert names[0] == names[1] == names[2]
    assert names[0] == ['catpose/bowl_2', 'catpose/mug_1']
    assert calls == [[], [1, 2], [1, 2]]


def test_tf_carries_only_objects_whose_score_reaches_the_limit(estimator, factory):
    class Scored:
        """The real estimator with fixed scores: the mug sure, the bowl not."""

        def estimate_from_clouds(self, *args, **kwargs):
            result = estimator.estimate_from_clouds(*args, **kwargs)
            result.estimates = [replace(e, score=0.9 if e.category == 'mug' else 0.3)
                                for e in result.estimates]
            return result

    core = PoseNodeCore(CatposeParams.from_dict(dict(FAST_PARAMS, **{
        'output.tf_min_score': 0.5})), Scored(), factory)
    outputs = core.process(*frame_messages(factory))
    assert child_frames(outputs) == ['catpose/mug_1']
    scores = {p.category: p.score for p in conv.detection3d_array_to_poses(outputs.detections)}
    assert scores == pytest.approx({'mug': 0.9, 'bowl': 0.3})
    assert len(outputs.markers.markers) == len(make_core(
        estimator, factory).process(*frame_messages(factory)).markers.markers)


def test_estimate_mode_never_warm_starts_but_keeps_ids(estimator, factory):
    calls = []

    class Recording:
        """The real estimator, recording the warm starts it was given."""

        def estimate_from_clouds(self, *args, **kwargs):
            calls.append(dict(kwargs['init_poses']))
            return estimator.estimate_from_clouds(*args, **kwargs)

    params = CatposeParams.from_dict(dict(FAST_PARAMS, **{'tracking.mode': 'estimate'}))
    core = PoseNodeCore(params, Recording(), factory)
    names = [child_frames(core.process(*frame_messages(factory, i))) for i in range(2)]
    assert names[0] == names[1] and calls == [{}, {}]


def _corrupt(case, factory, messages):
    depth, info, instances, detections = messages
    if case == 'depth_encoding':
        depth.encoding = 'bgr8'
    elif case == 'label_encoding':
        instances.encoding = '32FC1'
    elif case == 'label_size':
        header = instances.header
        instances = conv.numpy_to_image(factory, np.zeros((60, 80), np.uint16), 'mono16',
                                        header)
    elif case == 'info_size':
        info.width = WIDTH * 2
    elif case == 'uncalibrated':
        info.k = np.zeros(9)
    elif case == 'nan_depth':
        depth = conv.numpy_to_image(factory, np.full((HEIGHT, WIDTH), np.nan, np.float32),
                                    '32FC1', depth.header)
    elif case == 'missing_info':
        info = None
    elif case == 'stamps_apart':
        info.header = conv.make_header(factory, conv.stamp_to_ns(info.header.stamp)
                                       + 500_000_000, info.header.frame_id)
    elif case == 'truncated':
        depth.data = depth.data[:100]
    return depth, info, instances, detections


BAD_CASES = {
    'depth_encoding': 'bgr8', 'label_encoding': '32FC1', 'label_size': 'label image',
    'info_size': 'camera_info', 'uncalibrated': 'uncalibrated', 'nan_depth': 'no valid pixel',
    'missing_info': 'no camera_info', 'stamps_apart': 'sync.slop', 'truncated': 'bytes',
}


@pytest.mark.parametrize('case', sorted(BAD_CASES))
def test_bad_frames_are_skipped_and_tracks_survive(estimator, case):
    factory = RosbagsFactory('jazzy')
    core = make_core(estimator, factory)
    first = core.process(*frame_messages(factory, 0))
    ids_before = [t.track_id for t in core.tracker.tracks]
    bad = core.process(*_corrupt(case, factory, frame_messages(factory, 1)))
    assert not bad.processed and BAD_CASES[case] in bad.skip_reason
    assert bad.detections is None and bad.tf is None
    assert bad.logs[-1].level == 'warn'
    status = bad.diagnostics.status[0]
    assert status.level == conv.DIAGNOSTIC_WARN and BAD_CASES[case] in status.message
    assert [t.track_id for t in core.tracker.tracks] == ids_before
    after = core.process(*frame_messages(factory, 2))
    assert child_frames(after) == child_frames(first)


def test_stale_and_disabled_frames_are_dropped(estimator):
    factory = RosbagsFactory('humble')
    core = make_core(estimator, factory)
    stale = core.process(*frame_messages(factory), now_ns=STAMP_NS + 3_000_000_000)
    assert 'stale' in stale.skip_reason and 'use_sim_time' not in stale.skip_reason
    replayed = core.process(*frame_messages(factory), now_ns=STAMP_NS + 86_400 * 10**9)
    assert 'use_sim_time:=true' in replayed.skip_reason
    assert core.set_enabled(False) == 'estimation disabled'
    assert 'disabled' in core.process(*frame_messages(factory)).skip_reason
    core.set_enabled(True)
    assert core.process(*frame_messages(factory), now_ns=STAMP_NS).processed


def test_stale_frame_reason_turns_off_and_names_a_foreign_clock():
    assert stale_frame_reason(None, STAMP_NS, 1.0) is None
    assert stale_frame_reason(STAMP_NS + 5 * 10**9, STAMP_NS, 0.0) is None
    assert stale_frame_reason(STAMP_NS + 10**9, STAMP_NS, 1.0) is None
    late = stale_frame_reason(STAMP_NS + 2 * 10**9, STAMP_NS, 1.0)
    assert late == 'stale frame: 2.000 s old (sync.max_input_age_s 1.000 s)'
    assert '--clock' in stale_frame_reason(STAMP_NS + 7200 * 10**9, STAMP_NS, 1.0)


def test_an_object_without_depth_keeps_its_track_and_others_go_on(estimator):
    factory = RosbagsFactory('jazzy')
    core = make_core(estimator, factory)
    core.process(*frame_messages(factory, 0))
    hidden = list(OBJECTS)
    hidden[0] = hidden[0][:4] + (0,)  # the mug has no valid depth in frame 1
    outputs = core.process(*frame_messages(factory, 1, objects=hidden))
    assert outputs.processed
    assert child_frames(outputs) == ['catpose/bowl_2']
    assert [i for i, _ in outputs.skipped_objects] == [1]
    deletions = [(m.ns, m.id) for m in outputs.markers.markers
                 if m.action == conv.MARKER_DELETE]
    assert sorted(deletions) == [('axes', 1), ('bbox', 1), ('label', 1)]
    assert [t.track_id for t in core.tracker.tracks] == [1, 2]
    back = core.process(*frame_messages(factory, 2))
    assert child_frames(back) == ['catpose/bowl_2', 'catpose/mug_1']


def test_low_score_and_empty_masks_are_skipped_objects(estimator):
    factory = RosbagsFactory('jazzy')
    core = make_core(estimator, factory, **{'segmentation.score_threshold': 0.95})
    outputs = core.process(*frame_messages(factory))
    assert outputs.processed and outputs.objects == []
    assert sorted(i for i, _ in outputs.skipped_objects) == [1, 2]
    assert outputs.detections.detections == []
    empty = core.process(*frame_messages(factory, 1, objects=()))
    assert empty.processed and empty.tf is None


def test_reset_forgets_tracks_and_deletes_markers(estimator):
    factory = RosbagsFactory('jazzy')
    core = make_core(estimator, factory)
    assert core.reset() is None
    core.process(*frame_messages(factory, 0))
    markers = core.reset()
    assert {m.action for m in markers.markers} == {conv.MARKER_DELETEALL}
    assert core.tracker.tracks == ()
    outputs = core.process(*frame_messages(factory, 1))
    assert child_frames(outputs) == ['catpose/bowl_4', 'catpose/mug_3']


def test_time_going_back_resets_tracks(estimator, caplog):
    factory = RosbagsFactory('jazzy')
    core = make_core(estimator, factory)
    core.process(*frame_messages(factory, 5))
    outputs = core.process(*frame_messages(factory, 0))
    assert outputs.processed
    # Logged once, by the tracker (the node routes it into its ROS logger).
    assert not any('backwards' in record.message for record in outputs.logs)
    assert len([r for r in caplog.records if 'backwards' in r.getMessage()]) == 1
    assert child_frames(outputs) == ['catpose/bowl_4', 'catpose/mug_3']


def test_missing_model_is_a_clear_error(tmp_path):
    params = CatposeParams.from_dict({'model.checkpoint': str(tmp_path / 'absent.pt')})
    with pytest.raises(ModelNotFoundError, match='model.checkpoint'):
        PoseNodeCore.from_params(params, RosbagsFactory('jazzy'))


def test_frame_slot_keeps_only_the_newest_frame():
    slot = FrameSlot()
    assert slot.take() is None and slot.wait(timeout=0.01) is None
    assert slot.put(1) is False
    assert slot.put(2) is True and slot.put(3) is True
    assert slot.take() == 3 and slot.take() is None
    assert slot.dropped == 2
    received = []
    consumer = threading.Thread(target=lambda: received.append(slot.wait(timeout=5.0)))
    consumer.start()
    slot.put('frame')
    consumer.join(timeout=5.0)
    assert received == ['frame']


def test_several_candidates_fill_the_pose_covariance(estimator, checkpoint):
    factory = RosbagsFactory('jazzy')
    single = make_core(estimator, factory).process(*frame_messages(factory))
    assert all(p.covariance is None for p in conv.detection3d_array_to_poses(
        single.detections))
    params = CatposeParams.from_dict(dict(FAST_PARAMS, **{
        'model.uncertainty_candidates': 4, 'model.checkpoint': str(checkpoint)}))
    outputs = PoseNodeCore.from_params(params, factory).process(*frame_messages(factory))
    for pose in conv.detection3d_array_to_poses(outputs.detections):
        assert pose.covariance is not None
        assert np.allclose(pose.covariance, pose.covariance.T)
        assert np.all(np.diag(pose.covariance) >= 0)


def test_precision_parameter_reaches_the_estimator(checkpoint):
    factory = RosbagsFactory('jazzy')
    params = CatposeParams.from_dict(dict(FAST_PARAMS, **{
        'model.precision': 'bf16', 'model.checkpoint': str(checkpoint)}))
    core = PoseNodeCore.from_params(params, factory)
    assert core.estimator.precision == 'bf16'
    assert core.process(*frame_messages(factory)).detections.detections
