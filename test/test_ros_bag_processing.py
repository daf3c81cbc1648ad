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

"""Bag in -> bag out: the pose pipeline over a rosbag2 with a random-weights model."""

from pathlib import Path

import numpy as np
import pytest
from support import FAST_PARAMS, FRAME_ID, synthetic_frame

from catpose_ros.ros import conversions as conv
from catpose_ros.ros.bag_io import sequence_to_bag
from catpose_ros.ros.bag_layout import DEPTH_TOPIC
from catpose_ros.ros.bag_processing import OutputTopics, process_bag
from catpose_ros.ros.messages import make_typestore

FRAMES = 4


def _params(checkpoint, **overrides):
    return dict(FAST_PARAMS, **{'model.checkpoint': str(checkpoint)}, **overrides)


def _input_bag(path: Path, distro: str, storage: str = 'mcap') -> Path:
    sequence_to_bag([synthetic_frame(i, shift=i) for i in range(FRAMES)], path, distro=distro,
                    storage=storage)
    return path


def _read(path: Path, distro: str):
    from rosbags.highlevel import AnyReader
    messages = {}
    with AnyReader([path], default_typestore=make_typestore(distro)) as reader:
        for connection, log_time, raw in reader.messages():
            message = reader.deserialize(raw, connection.msgtype)
            messages.setdefault(connection.topic, []).append(
                (connection.msgtype, log_time, message))
    return messages


@pytest.mark.parametrize('distro, storage', [('jazzy', 'mcap'), ('humble', 'sqlite3')])
def test_bag_round_trip_keeps_stamps_frames_and_track_names(tmp_path, checkpoint, distro,
                                                            storage):
    in_bag = _input_bag(tmp_path / 'in', distro)
    summary = process_bag(in_bag, tmp_path / 'out', _params(checkpoint), progress=False,
                          distro=distro, storage=storage)
    assert (summary.frames_read, summary.frames_processed, summary.objects) == (
        FRAMES, FRAMES, 2 * FRAMES)
    inputs = _read(in_bag, distro)
    outputs = _read(tmp_path / 'out', distro)
    topics = OutputTopics()
    expected_types = {topics.detections: 'vision_msgs/msg/Detection3DArray',
                      topics.tf: 'tf2_msgs/msg/TFMessage',
                      topics.markers: 'visualization_msgs/msg/MarkerArray',
                      topics.diagnostics: 'diagnostic_msgs/msg/DiagnosticArray'}
    for topic, msgtype in expected_types.items():
        assert {t for t, _, _ in outputs[topic]} == {msgtype}
        assert len(outputs[topic]) == FRAMES
    depth_stamps = [conv.stamp_to_ns(m.header.stamp)
                    for _, _, m in inputs[DEPTH_TOPIC]]
    detections = outputs[topics.detections]
    assert [conv.stamp_to_ns(m.header.stamp) for _, _, m in detections] == depth_stamps
    assert [log_time for _, log_time, _ in detections] == depth_stamps
    assert {m.header.frame_id for _, _, m in detections} == {FRAME_ID}
    children = [sorted(t.child_frame_id for t in m.transforms) for _, _, m in outputs['/tf']]
    assert children == [['catpose/bowl_2', 'catpose/mug_1']] * FRAMES
    assert summary.topic_counts[topics.tf] == FRAMES


def test_summary_reports_latency_and_ground_truth_accuracy(tmp_path, checkpoint):
    in_bag = _input_bag(tmp_path / 'in', 'jazzy')
    summary = process_bag(in_bag, tmp_path / 'out', _params(checkpoint), progress=False)
    for stage in ('decode', 'estimate', 'total'):
        figures = summary.latency_ms[stage]
        assert 0 <= figures['median'] <= figures['p95'] <= figures['max']
    accuracy = summary.accuracy
    assert set(accuracy) == {'all', 'bowl', 'mug'}
    assert accuracy['all']['matched'] + accuracy['all']['missed'] == 2 * FRAMES
    for figures in accuracy.values():
        if figures['matched']:
            assert 0.0 <= figures['5deg2cm'] <= figures['10deg5cm'] <= 1.0
            assert np.isfinite(figures['median_translation_cm'])
    assert summary.nocs_map['ground_truths']['mug'] == FRAMES
    assert set(summary.nocs_map['mAP']) >= {'5deg2cm', '10deg5cm', 'iou50'}
    text = summary.to_text()
    assert 'latency' in text and '5deg2cm' in text and 'NOCS mAP' in text


@pytest.mark.parametrize('handle_score, expected_deg, expected_map',
                         [(0.0, 0.0, 100.0), (1.0, 90.0, 0.0)])
def test_ground_truth_mug_with_hidden_handle_is_symmetric(handle_score, expected_deg,
                                                          expected_map):
    from scipy.spatial.transform import Rotation

    from catpose_ros.ros import conversions as conv
    from catpose_ros.ros.bag_processing import _Recorder
    from catpose_ros.ros.pose_pipeline import PoseOutputs
    spun = Rotation.from_euler('y', 90, degrees=True).as_matrix()
    size = np.array([0.1, 0.1, 0.12])
    truth = conv.ObjectPose(1, 'mug', handle_score, np.eye(3), np.array([0, 0, 0.7]), size)
    estimate = conv.ObjectPose(1, 'mug', 0.9, spun, np.array([0, 0, 0.7]), size)
    recorder = _Recorder({5: [truth]})
    recorder.add(PoseOutputs(stamp_ns=5, objects=[estimate]))
    rotation_deg = recorder.accuracy()['mug']['median_rotation_deg']
    assert rotation_deg == pytest.approx(expected_deg, abs=1e-3)
    assert recorder.nocs_map()['mAP']['5deg2cm'] == pytest.approx(expected_map)


def test_bad_arguments_fail_before_anything_is_written(tmp_path, checkpoint):
    in_bag = _input_bag(tmp_path / 'in', 'jazzy')
    with pytest.raises(ValueError, match='segmentation_source'):
        process_bag(in_bag, tmp_path / 'out', _params(checkpoint), 'yolo', progress=False)
    (tmp_path / 'exists').mkdir()
    with pytest.raises(FileExistsError):
        process_bag(in_bag, tmp_path / 'exists', _params(checkpoint), progress=False)
    with pytest.raises(ValueError, match='unknown parameters'):
        process_bag(in_bag, tmp_path / 'out2', {'model.chekpoint': 'x'}, progress=False)
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'out2').exists()


def test_frames_with_bad_depth_are_counted_and_skipped(tmp_path, checkpoint):
    frames = [synthetic_frame(i) for i in range(3)]
    frames[1].depth = np.zeros_like(frames[1].depth)
    sequence_to_bag(frames, tmp_path / 'in')
    summary = process_bag(tmp_path / 'in', tmp_path / 'out', _params(checkpoint),
                          progress=False)
    assert (summary.frames_processed, summary.frames_skipped) == (2, 1)
    assert 'no valid pixel' in next(iter(summary.skip_reasons))
    outputs = _read(tmp_path / 'out', 'jazzy')
    assert len(outputs[OutputTopics().diagnostics]) == 3
    assert len(outputs[OutputTopics().detections]) == 2


@pytest.mark.slow
def test_maskrcnn_segmentation_source(tmp_path, checkpoint):
    import torch

    from catpose_ros.perception.maskrcnn import build_maskrcnn, save_maskrcnn_weights
    torch.manual_seed(0)
    categories = ['bottle', 'bowl', 'camera', 'can', 'laptop', 'mug']
    weights = save_maskrcnn_weights(build_maskrcnn(len(categories)), tmp_path / 'm.pt',
                                    categories)
    in_bag = _input_bag(tmp_path / 'in', 'jazzy')
    params = _params(checkpoint, **{'segmentation.weights': str(weights),
                                    'segmentation.score_threshold': 0.0})
    summary = process_bag(in_bag, tmp_path / 'out', params, 'maskrcnn', progress=False)
    assert summary.frames_read == FRAMES
    outputs = _read(tmp_path / 'out', 'jazzy')
    assert len(outputs[OutputTopics().instances]) == FRAMES
    assert 'segmentation_segment' in summary.latency_ms
