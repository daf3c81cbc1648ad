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

"""rosbag2 round trips (MCAP and sqlite3) and time synchronisation of bag frames."""

from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from scipy.spatial.transform import Rotation

from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.ros import conversions as cv
from catpose_ros.ros.bag_io import (bag_topics, BagFrameReader, BagTopicError, BagTopics,
                                    BagWriterHelper, DEFAULT_START_NS, sequence_to_bag,
                                    SyntheticTopics)
from catpose_ros.ros.bag_layout import DEPTH_TOPIC

INTRINSICS = CameraIntrinsics(60.0, 61.0, 31.5, 23.5, 64, 48)


def synthetic_frame(index):
    rng = np.random.default_rng(index)
    depth = rng.uniform(0.4, 1.5, (48, 64)).astype(np.float32)
    depth[0, 0] = 0.0
    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 5 + index:25 + index] = 1
    mask[30:40, 40:50] = 2
    objects = [
        ObjectAnnotation(1, 'mug', Rotation.random(random_state=index).as_matrix(),
                         np.array([0.1, 0.0, 0.8]), np.array([0.12, 0.1, 0.09])),
        ObjectAnnotation(2, 'bowl', np.eye(3), np.array([-0.1, 0.05, 0.9]),
                         np.array([0.15, 0.06, 0.15])),
        ObjectAnnotation(5, 'can', np.eye(3), np.array([0.0, 0.0, 2.0]),
                         np.array([0.06, 0.1, 0.06])),
    ]
    color = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    return Frame(color=color, depth=depth, mask=mask, intrinsics=INTRINSICS, objects=objects)


def read_topic(path, topic):
    with AnyReader([Path(path)]) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        return [(log_time, reader.deserialize(raw, c.msgtype))
                for c, log_time, raw in reader.messages(connections=connections)]


@pytest.mark.parametrize('storage,distro', [('mcap', 'jazzy'), ('sqlite3', 'humble')])
def test_synthetic_sequence_round_trip(tmp_path, storage, distro):
    frames = [synthetic_frame(i) for i in range(4)]
    summary = sequence_to_bag(frames, tmp_path / 'bag', storage=storage, distro=distro)
    assert summary.frames == 4 and set(summary.counts.values()) == {4}
    topics = SyntheticTopics()
    assert bag_topics(tmp_path / 'bag')[topics.ground_truth] == (
        'vision_msgs/msg/Detection3DArray', 4)
    read = list(BagFrameReader(tmp_path / 'bag', topics.reader_topics(), distro=distro))
    assert [f.stamp_ns - DEFAULT_START_NS for f in read] == [0, 33333333, 66666667, 100000000]
    for original, frame in zip(frames, read):
        assert frame.frame_id == 'camera_color_optical_frame'
        assert frame.intrinsics == INTRINSICS
        np.testing.assert_allclose(frame.depth_m, original.depth, atol=0.0005 + 1e-6)
        assert frame.depth_m[0, 0] == 0.0
        np.testing.assert_array_equal(frame.rgb, original.color)
        np.testing.assert_array_equal(frame.instances, original.mask)
        assert [(d.instance_id, d.category, d.box) for d in frame.detections] == [
            (1, 'mug', cv.mask_box(original.mask == 1)), (2, 'bowl', (40, 30, 50, 40))]
        assert frame.messages['depth'].encoding == '16UC1'
        assert frame.messages['instances'].encoding == 'mono16'
    ground_truth = read_topic(tmp_path / 'bag', topics.ground_truth)
    for (log_time, message), original in zip(ground_truth, frames):
        assert log_time == cv.stamp_to_ns(message.header.stamp)
        poses = cv.detection3d_array_to_poses(message)
        assert [(p.track_id, p.category) for p in poses] == [(1, 'mug'), (2, 'bowl'), (5, 'can')]
        np.testing.assert_allclose(poses[0].rotation, original.objects[0].rotation, atol=1e-9)
        np.testing.assert_allclose(poses[0].size, original.objects[0].size)


def test_writer_refuses_to_overwrite(tmp_path):
    sequence_to_bag([synthetic_frame(0)], tmp_path / 'bag')
    with pytest.raises(FileExistsError, match='never overwritten'):
        sequence_to_bag([synthetic_frame(0)], tmp_path / 'bag')
    with pytest.raises(ValueError, match='storage'):
        BagWriterHelper(tmp_path / 'other', storage='rosbag1')


def test_missing_topic_is_named(tmp_path):
    sequence_to_bag([synthetic_frame(0)], tmp_path / 'bag')
    topics = BagTopics(depth=DEPTH_TOPIC, camera_info='/no/such/info')
    with pytest.raises(BagTopicError, match='/no/such/info'):
        list(BagFrameReader(tmp_path / 'bag', topics))


def write_unsynchronised_bag(path):
    """Depth at 0, 100, 200 and 300 ms; one camera_info; instances 10 ms late, none at 100."""
    ms = 1_000_000
    with BagWriterHelper(path) as bag:
        factory = bag.factory
        header = cv.make_header(factory, DEFAULT_START_NS, 'depth_optical')
        bag.write('/info', cv.intrinsics_to_camera_info(factory, INTRINSICS, header))
        for step in range(4):
            stamp = DEFAULT_START_NS + 100 * step * ms
            depth = np.full((48, 64), step + 1, np.uint16)
            bag.write('/depth', cv.numpy_to_image(
                factory, depth, '16UC1', cv.make_header(factory, stamp, 'depth_optical')))
            if step != 1:
                labels = np.full((48, 64), step, np.uint16)
                late = cv.make_header(factory, stamp + 10 * ms, 'depth_optical')
                bag.write('/labels', cv.numpy_to_image(factory, labels, 'mono16', late),
                          stamp_ns=stamp + 12 * ms)


@pytest.mark.parametrize('slop_s,expected', [(0.02, [0, 2, 3]), (0.005, []), (0.0, [])])
def test_frames_are_matched_by_stamp_within_slop(tmp_path, slop_s, expected):
    write_unsynchronised_bag(tmp_path / 'bag')
    reader = BagFrameReader(tmp_path / 'bag', BagTopics('/depth', '/info', instances='/labels'),
                            slop_s=slop_s)
    frames = list(reader)
    assert [int(f.instances[0, 0]) for f in frames] == expected
    for frame in frames:
        assert frame.depth_m[0, 0] == pytest.approx(0.001 * (frame.instances[0, 0] + 1))
        assert frame.frame_id == 'depth_optical'
    assert reader.dropped == 4 - len(expected) and reader.frames == len(expected)


def test_each_depth_image_waits_for_its_own_label_image(tmp_path):
    """30 Hz, slop 50 ms: each depth image is logged before its labels, after the last ones."""
    ms = 1_000_000
    with BagWriterHelper(tmp_path / 'bag') as bag:
        factory = bag.factory
        header = cv.make_header(factory, DEFAULT_START_NS, 'depth_optical')
        bag.write('/info', cv.intrinsics_to_camera_info(factory, INTRINSICS, header))
        for step in range(5):
            stamp = DEFAULT_START_NS + 33 * step * ms
            frame_header = cv.make_header(factory, stamp, 'depth_optical')
            bag.write('/depth', cv.numpy_to_image(
                factory, np.full((48, 64), step + 1, np.uint16), '16UC1', frame_header))
            bag.write('/labels', cv.numpy_to_image(
                factory, np.full((48, 64), step, np.uint16), 'mono16', frame_header),
                stamp_ns=stamp + ms)
    reader = BagFrameReader(tmp_path / 'bag', BagTopics('/depth', '/info', instances='/labels'),
                            slop_s=0.05)
    frames = list(reader)
    assert [int(f.instances[0, 0]) for f in frames] == [0, 1, 2, 3, 4]
    assert all(f.depth_m[0, 0] == pytest.approx(0.001 * (f.instances[0, 0] + 1)) for f in frames)


def test_exact_stamps_match_with_zero_slop(tmp_path):
    sequence_to_bag([synthetic_frame(i) for i in range(3)], tmp_path / 'bag')
    reader = BagFrameReader(tmp_path / 'bag', SyntheticTopics().reader_topics(), slop_s=0.0)
    assert len(list(reader)) == 3 and reader.dropped == 0


def test_headerless_messages_take_their_elements_stamp(tmp_path):
    with BagWriterHelper(tmp_path / 'bag', storage='sqlite3') as bag:
        header = cv.make_header(bag.factory, 42, 'cam')
        pose = cv.ObjectPose(1, 'mug', 0.9, np.eye(3), np.ones(3), np.ones(3))
        bag.write('/tf', cv.poses_to_tf_message(bag.factory, [pose], header))
        with pytest.raises(ValueError, match='stamp_ns'):
            bag.write('/tf', cv.poses_to_tf_message(bag.factory, [], header))
        bag.write('/tf', cv.poses_to_tf_message(bag.factory, [], header), stamp_ns=43)
        with pytest.raises(ValueError, match='carries'):
            bag.write('/tf', header)
    assert [t for t, _ in read_topic(tmp_path / 'bag', '/tf')] == [42, 43]


def bag_cli():
    import argparse

    from catpose_ros.cli import bag
    parser = argparse.ArgumentParser()
    bag.register(parser.add_subparsers(dest='command', required=True))
    return parser


def test_process_cli_maps_flags_to_parameters():
    from catpose_ros.cli.bag import _params
    from catpose_ros.ros.params import CatposeParams
    args = bag_cli().parse_args([
        'bag', 'process', 'in', 'out', '--set', 'tracking.mode=estimate', '--set',
        'sync.slop=1e-3', '--set', 'sampler.steps=5', '--device', 'cpu', '--checkpoint', 'm.pt',
        '--threads', '2'])
    params = CatposeParams.from_dict(_params(args))
    assert (params.tracking.mode, params.sync.slop, params.sampler.steps) == ('estimate', 0.001, 5)
    assert (params.model.device, params.model.checkpoint) == ('cpu', 'm.pt')
    assert params.model.cpu_threads == 2
    assert args.depth_topic == SyntheticTopics().depth
    assert args.segmentation == 'maskrcnn'
    with pytest.raises(SystemExit):
        _params(bag_cli().parse_args(['bag', 'process', 'in', 'out', '--set', 'no_value']))


@pytest.mark.slow
def test_from_synthetic_cli_writes_a_readable_bag(tmp_path, capsys):
    args = bag_cli().parse_args(['bag', 'from-synthetic', str(tmp_path / 'bag'), '--frames', '2',
                                 '--moving', '--storage', 'sqlite3', '--no-progress'])
    assert args.func(args) == 0
    assert 'wrote 2 frames' in capsys.readouterr().out
    frames = list(BagFrameReader(tmp_path / 'bag', SyntheticTopics().reader_topics()))
    assert len(frames) == 2
    for frame in frames:
        ids = {d.instance_id for d in frame.detections}
        assert ids and ids == set(np.unique(frame.instances)) - {0}
        assert frame.rgb.shape == (480, 640, 3) and frame.depth_m.max() > 0
