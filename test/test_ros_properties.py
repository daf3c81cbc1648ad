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

"""Property tests: wire-valid but adversarial messages into the node cores and conversions.

Every generated message is built with the rosbags typestore and goes through CDR and back,
so it is exactly what a subscriber could receive. The properties: nothing raises (bad input
is a skip with a reason or a ConversionError), no frame ends in an internal error, every
output serialises, and nothing non-finite is published. The default run tries a few dozen
cases per property; `pytest -m slow test/test_ros_properties.py` runs over 10,000.
"""

import math

from hypothesis import event, given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
from support import FAST_PARAMS, save_tiny_checkpoint

from catpose_ros.perception.instances import Instance, mask_box
from catpose_ros.ros import conversions as conv
from catpose_ros.ros.messages import RosbagsFactory
from catpose_ros.ros.params import CatposeParams
from catpose_ros.ros.pose_pipeline import load_estimator, PoseNodeCore
from catpose_ros.ros.segmentation_pipeline import SegmentationNodeCore

FACTORY = RosbagsFactory('jazzy')
STAMP = (1_700_000_000, 500_000_000)
FRAME_ID = 'camera'
PARAMS = dict(FAST_PARAMS, **{'segmentation.min_mask_pixels': 4, 'sync.max_input_age_s': 0.0})
COMMON = {'deadline': None, 'derandomize': True, 'database': None,
          'suppress_health_check': list(HealthCheck)}
FAST = settings(max_examples=30, **COMMON)
# Cases per property in the slow run; they add up to 12,500.
SLOW_EXAMPLES = {'pose': 4000, 'segmentation': 2000, 'image': 1000, 'camera_info': 1000,
                 'detection2d': 1000, 'outputs': 1500, 'cloud': 1000, 'detection3d': 1000}


def slow(name):
    return settings(max_examples=SLOW_EXAMPLES[name], **COMMON)


# ------------------------------------------------------------------ strategies

ADVERSARIAL_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300,
                                      -1e-300, 1e300, -1e300, 5e-324, 3.4e38, -1.0])
INT32 = st.integers(-2 ** 31, 2 ** 31 - 1)
UINT32 = st.integers(0, 2 ** 32 - 1)


def floats_or_bad(low, high):
    """Plausible floats most of the time, adversarial ones otherwise."""
    return st.one_of(st.floats(low, high), ADVERSARIAL_FLOATS, st.floats())


def wire(message):
    """Serialise to CDR and back: the message a subscriber would get."""
    return FACTORY.deserialize(FACTORY.serialize(message), message.__msgtype__)


@st.composite
def stamps(draw, shared):
    """Mostly the frame's shared stamp; sometimes any value the wire allows."""
    sec, nanosec = shared if draw(st.integers(0, 19)) else (
        draw(st.one_of(INT32, st.sampled_from([0, 2 ** 31 - 1, -1]))),
        draw(st.one_of(UINT32, st.sampled_from([0, 999_999_999, 10 ** 9, 2 ** 32 - 1]))))
    return FACTORY.make('builtin_interfaces/msg/Time', sec=sec, nanosec=nanosec)


def header(draw, shared):
    return FACTORY.make('std_msgs/msg/Header', stamp=draw(stamps(shared)), frame_id=FRAME_ID)


ENCODINGS = st.sampled_from(list(conv.IMAGE_ENCODINGS) + ['', '16UC3', 'yuv422', '64FC1'])


@st.composite
def images(draw, shared, height, width, encodings=ENCODINGS, pixels=None):
    """Draw an Image: real pixels in a correct layout, or any layout and bytes the wire allows."""
    encoding = draw(encodings)
    dtype, channels = conv.IMAGE_ENCODINGS.get(encoding, (np.dtype(np.uint8), 1))
    if pixels is not None and encoding in conv.IMAGE_ENCODINGS and channels == 1 and \
            draw(st.integers(0, 7)):
        values = pixels / 1000.0 if dtype.kind == 'f' else pixels
        data = values.astype(dtype.newbyteorder('<')).tobytes()
        step, big_endian = width * dtype.itemsize, 0
    else:
        if not draw(st.integers(0, 7)):
            height, width = draw(st.integers(0, 6)), draw(st.integers(0, 6))
        row = width * channels * dtype.itemsize
        step = row + draw(st.sampled_from([0, 0, 1, 3])) if draw(st.integers(0, 9)) else \
            draw(st.integers(0, 4 * row + 8))
        size = step * height if draw(st.integers(0, 5)) else \
            draw(st.integers(0, step * height + 8))
        data = draw(st.binary(min_size=size, max_size=size))
        big_endian = draw(st.integers(0, 1))
    return wire(FACTORY.make('sensor_msgs/msg/Image', header=header(draw, shared),
                             height=height, width=width, encoding=encoding,
                             is_bigendian=big_endian, step=step,
                             data=np.frombuffer(data, np.uint8)))


@st.composite
def camera_infos(draw, shared, height, width):
    """Draw a plausible CameraInfo, with any entry of K sometimes replaced."""
    fx, fy = draw(st.floats(4.0, 60.0)), draw(st.floats(4.0, 60.0))
    k = np.array([fx, 0.0, width / 2.0, 0.0, fy, height / 2.0, 0.0, 0.0, 1.0])
    if not draw(st.integers(0, 3)):
        for index in draw(st.lists(st.integers(0, 8), min_size=1, max_size=3)):
            k[index] = draw(floats_or_bad(-100.0, 100.0))
    if not draw(st.integers(0, 7)):
        height, width = draw(UINT32), draw(UINT32)
    return wire(FACTORY.make('sensor_msgs/msg/CameraInfo', header=header(draw, shared),
                             height=height, width=width, distortion_model='plumb_bob',
                             d=np.zeros(5), k=k, r=np.eye(3).reshape(-1),
                             p=np.zeros(12)))


ID_TEXT = st.one_of(st.sampled_from(['1', '2', '3', '1.5', 'abc', '', '-1', '0', '70000',
                                     ' 2', '65535', '1e3', '٣']), st.text(max_size=4))
CATEGORIES = st.sampled_from(['mug', 'bowl', 'can', 'bottle', '1', '6', '7', 'chair', ''])


def mostly(good, bad):
    """Draw from good four times in five, else from bad."""
    return st.integers(0, 4).flatmap(lambda pick: good if pick else bad)


@st.composite
def honest_detection(draw, shared, label):
    """Draw the Detection2D a correct segmenter would send for one label value."""
    hypothesis = FACTORY.make('vision_msgs/msg/ObjectHypothesis', class_id=draw(
        st.sampled_from(['mug', 'bowl', 'can', 'bottle', 'laptop', 'camera'])),
        score=draw(st.floats(0.5, 1.0)))
    centre = FACTORY.make('vision_msgs/msg/Pose2D', position=FACTORY.make(
        'vision_msgs/msg/Point2D', x=draw(st.floats(0, 24)), y=draw(st.floats(0, 24))))
    return FACTORY.make(
        'vision_msgs/msg/Detection2D', header=header(draw, shared), id=str(label),
        results=[FACTORY.make('vision_msgs/msg/ObjectHypothesisWithPose',
                              hypothesis=hypothesis)],
        bbox=FACTORY.make('vision_msgs/msg/BoundingBox2D', center=centre,
                          size_x=draw(st.floats(0, 24)), size_y=draw(st.floats(0, 24))))


@st.composite
def detection2d_arrays(draw, shared, labels=()):
    """Draw honest detections for most labels, plus 0..4 with bad ids, scores or boxes."""
    detections = [draw(honest_detection(shared, label)) for label in labels
                  if draw(st.integers(0, 4))]
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 4]) if labels else
                        st.integers(0, 4))):
        results = []
        for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2]))):
            hypothesis = FACTORY.make('vision_msgs/msg/ObjectHypothesis',
                                      class_id=draw(CATEGORIES),
                                      score=draw(floats_or_bad(0.0, 1.0)))
            results.append(FACTORY.make('vision_msgs/msg/ObjectHypothesisWithPose',
                                        hypothesis=hypothesis))
        centre = FACTORY.make('vision_msgs/msg/Pose2D', position=FACTORY.make(
            'vision_msgs/msg/Point2D', x=draw(floats_or_bad(0, 32)),
            y=draw(floats_or_bad(0, 32))), theta=0.0)
        detections.append(FACTORY.make(
            'vision_msgs/msg/Detection2D', header=header(draw, shared), results=results,
            bbox=FACTORY.make('vision_msgs/msg/BoundingBox2D', center=centre,
                              size_x=draw(floats_or_bad(0, 32)),
                              size_y=draw(floats_or_bad(0, 32))),
            id=draw(ID_TEXT)))
    return wire(FACTORY.make('vision_msgs/msg/Detection2DArray', header=header(draw, shared),
                             detections=detections))


@st.composite
def label_pixels(draw, height, width):
    """Draw a label image of a few rectangles (ids 1..3, sometimes 65535) on zeros."""
    labels = np.zeros((height, width), np.uint16)
    for _ in range(draw(st.integers(0, 4))):
        value = draw(st.sampled_from([1, 2, 3, 3, 65535]))
        r0, c0 = draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1))
        labels[r0:r0 + draw(st.integers(1, height)), c0:c0 + draw(st.integers(1, width))] = value
    return labels


@st.composite
def depth_pixels(draw, height, width):
    """Draw millimetre depth up to about 4 m, with holes."""
    base = draw(st.integers(0, 4000) if not draw(st.integers(0, 3)) else
                st.integers(300, 2000))
    depth = np.full((height, width), base, np.uint16)
    noise = draw(st.integers(0, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    depth = (depth + rng.integers(0, noise + 1, depth.shape)).astype(np.uint16)
    depth[rng.random(depth.shape) < draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))] = 0
    return depth


@st.composite
def pose_frames(draw):
    """Draw (depth, camera_info, instances, detections) of one small frame."""
    height, width = draw(st.integers(8, 24)), draw(st.integers(8, 24))
    shared = STAMP if draw(st.integers(0, 4)) else (draw(INT32), draw(UINT32))
    depth = draw(images(shared, height, width, mostly(
        st.sampled_from(['16UC1', '16UC1', '32FC1', 'mono16']), ENCODINGS),
        draw(depth_pixels(height, width))))
    labels = draw(label_pixels(height, width))
    instances = draw(images(shared, height, width, mostly(
        st.sampled_from(['mono16', 'mono16', '16UC1', 'mono8']), ENCODINGS), labels))
    present = sorted(int(v) for v in np.unique(labels) if v)
    return (depth, draw(camera_infos(shared, height, width)), instances,
            draw(detection2d_arrays(shared, present)))


# ------------------------------------------------------------------ checks

def finite_floats(message):
    """Yield every float inside a rosbags message (recursively)."""
    if isinstance(message, float):
        yield message
    elif isinstance(message, np.ndarray):
        if message.dtype.kind == 'f':
            yield from message.reshape(-1).tolist()
    elif isinstance(message, (list, tuple)):
        for item in message:
            yield from finite_floats(item)
    elif hasattr(message, '__dataclass_fields__'):
        for name in message.__dataclass_fields__:
            yield from finite_floats(getattr(message, name))


def assert_publishable(*messages):
    for message in messages:
        if message is None:
            continue
        FACTORY.serialize(message)
        values = list(finite_floats(message))
        assert all(math.isfinite(v) for v in values), message.__msgtype__


def _is_int(text):
    try:
        int(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------ pose node core

@pytest.fixture(scope='module')
def estimator(tmp_path_factory):
    checkpoint = save_tiny_checkpoint(tmp_path_factory.mktemp('model') / 'random.pt')
    return load_estimator(CatposeParams.from_dict(dict(PARAMS, **{
        'model.checkpoint': str(checkpoint)})))


def check_pose_frame(estimator, frame):
    core = PoseNodeCore(CatposeParams.from_dict(PARAMS), estimator, FACTORY)
    outputs = core.process(*frame, want_cloud=True)
    assert outputs.error is None, outputs.error
    assert_publishable(outputs.detections, outputs.tf, outputs.markers, outputs.cloud,
                       outputs.diagnostics)
    event('pose frame: %s' % ('skipped' if not outputs.processed else
                              'estimated objects' if outputs.objects else
                              'processed, every object skipped'))
    if outputs.processed:
        assert len(outputs.detections.detections) == len(outputs.objects)
        # Every object of the frame is published or skipped with a reason, never lost.
        labels = {int(v) for v in np.unique(conv.image_to_numpy(frame[2])) if v}
        texts = [d.id for d in frame[3].detections]
        numbers = {int(t) for t in texts if _is_int(t)}
        candidates = len(labels | numbers) + sum(not _is_int(t) for t in texts)
        assert len(outputs.objects) + len(outputs.skipped_objects) >= candidates
    else:
        assert outputs.skip_reason and outputs.detections is None
    return outputs


@FAST
@given(frame=pose_frames())
def test_pose_core_never_raises_and_publishes_only_finite_values(estimator, frame):
    check_pose_frame(estimator, frame)


@pytest.mark.slow
@slow('pose')
@given(frame=pose_frames())
def test_pose_core_many(estimator, frame):
    check_pose_frame(estimator, frame)


# ------------------------------------------------------------------ segmentation node core

class RectangleSegmenter:
    """Finds whatever rectangles the test put in its list (a stand-in for a trained model)."""

    categories = ['bottle', 'bowl', 'camera', 'can', 'laptop', 'mug']

    def __init__(self, boxes):
        self.boxes = boxes

    def segment(self, rgb, depth=None):
        height, width = rgb.shape[:2]
        instances = []
        for index, (r0, c0, r1, c1) in enumerate(self.boxes, start=1):
            mask = np.zeros((height, width), bool)
            mask[r0:r1, c0:c1] = True
            if mask.any():
                instances.append(Instance(index, 'mug', mask, 0.9, mask_box(mask)))
        return instances


@st.composite
def segmentation_frames(draw):
    """Draw (segmenter boxes, rgb, depth or None) of one small frame."""
    height, width = draw(st.integers(4, 20)), draw(st.integers(4, 20))
    shared = STAMP if draw(st.integers(0, 4)) else (draw(INT32), draw(UINT32))
    rgb = draw(images(shared, height, width, st.one_of(
        st.sampled_from(['rgb8', 'bgr8', 'rgba8', 'mono8']), ENCODINGS)))
    depth = None if not draw(st.integers(0, 5)) else draw(images(
        shared, height + draw(st.sampled_from([0, 0, 0, 3])), width, st.one_of(
            st.sampled_from(['16UC1', '32FC1', 'rgb8', 'bgr8', 'rgba8']), ENCODINGS),
        draw(depth_pixels(height, width))))
    boxes = draw(st.lists(st.tuples(*[st.integers(0, 24)] * 4), max_size=3))
    return boxes, rgb, depth


def check_segmentation_frame(frame):
    boxes, rgb, depth = frame
    core = SegmentationNodeCore(CatposeParams.from_dict(PARAMS), RectangleSegmenter(boxes),
                                FACTORY)
    outputs = core.process(rgb, depth)
    assert outputs.error is None, outputs.error
    event('segmentation frame: %s' % ('skipped' if outputs.skip_reason else 'segmented'))
    assert_publishable(outputs.instances, outputs.detections, outputs.diagnostics)
    if outputs.skip_reason is None:
        if outputs.masked_depth is not None:
            FACTORY.serialize(outputs.masked_depth)
        records = conv.detection2d_array_to_records(outputs.detections)
        assert len(records) == len(outputs.instance_list)
    elif depth is not None and depth.encoding not in conv.DEPTH_ENCODINGS:
        assert 'depth image encoding' in outputs.skip_reason or 'stamp' in outputs.skip_reason


@FAST
@given(frame=segmentation_frames())
def test_segmentation_core_never_raises(frame):
    check_segmentation_frame(frame)


@pytest.mark.slow
@slow('segmentation')
@given(frame=segmentation_frames())
def test_segmentation_core_many(frame):
    check_segmentation_frame(frame)


# ------------------------------------------------------------------ conversions

def check_image(message):
    try:
        pixels = conv.image_to_numpy(message)
    except conv.ConversionError:
        return
    assert pixels.shape[:2] == (message.height, message.width)
    if message.encoding in conv.DEPTH_ENCODINGS:
        depth = conv.depth_to_metres(message)
        assert np.isfinite(depth).all() and (depth >= 0).all()
    if conv.IMAGE_ENCODINGS[message.encoding][1] > 1 or message.encoding in ('mono8', '8UC1'):
        assert conv.image_to_rgb(message).shape == (message.height, message.width, 3)


def check_camera_info(message):
    try:
        intrinsics = conv.camera_info_to_intrinsics(message)
    except conv.ConversionError:
        return
    assert intrinsics.problem() is None
    assert np.isfinite(intrinsics.matrix).all()


def check_detection2d(message):
    records, skipped = conv.read_detection2d_array(message)
    assert len(records) + len(skipped) == len(message.detections)
    ids = [r.instance_id for r in records]
    assert len(ids) == len(set(ids)) and all(1 <= i <= conv.MAX_INSTANCE_ID for i in ids)
    assert all(math.isfinite(r.score) for r in records)
    assert_publishable(conv.detections_to_detection2d_array(FACTORY, records, message.header))


MATRICES = st.one_of(
    st.builds(lambda q: _rotation(q), st.lists(st.floats(-1, 1), min_size=4, max_size=4)),
    st.lists(floats_or_bad(-2, 2), min_size=9, max_size=9).map(
        lambda v: np.array(v).reshape(3, 3)),
    st.sampled_from([np.zeros((3, 3)), np.diag([1.0, 1.0, -1.0]), -np.eye(3),
                     np.full((3, 3), np.nan), 2 * np.eye(3)]))


def _rotation(quaternion):
    q = np.array(quaternion, dtype=float)
    norm = np.linalg.norm(q)
    return conv.quaternion_xyzw_to_matrix(q / norm) if norm > 1e-3 else np.eye(3)


VECTORS = st.lists(floats_or_bad(-3, 3), min_size=3, max_size=3).map(np.array)


@st.composite
def object_poses(draw):
    covariance = draw(st.one_of(st.none(), st.just(np.eye(6) * 1e-3),
                                st.lists(floats_or_bad(0, 1), min_size=36, max_size=36).map(
                                    lambda v: np.array(v).reshape(6, 6))))
    return conv.ObjectPose(
        track_id=draw(st.one_of(st.integers(0, 100), st.integers(-2 ** 40, 2 ** 40))),
        category=draw(CATEGORIES), score=draw(floats_or_bad(0, 1)),
        rotation=draw(MATRICES), translation=draw(VECTORS), size=draw(VECTORS),
        covariance=covariance)


def check_outputs(poses):
    header = conv.make_header(FACTORY, conv.stamp_to_ns(FACTORY.make(
        'builtin_interfaces/msg/Time', sec=STAMP[0], nanosec=STAMP[1])), FRAME_ID)
    kept, dropped = conv.publishable_poses(poses)
    assert len(kept) + len(dropped) == len(poses)
    detections = conv.poses_to_detection3d_array(FACTORY, poses, header)
    tf = conv.poses_to_tf_message(FACTORY, poses, header)
    markers = conv.MarkerBook().markers(FACTORY, poses, header)
    assert len(detections.detections) == len(tf.transforms) == len(kept)
    assert_publishable(detections, tf, markers)
    round_trip = conv.detection3d_array_to_poses(wire(detections))
    assert [p.track_id for p in round_trip] == [int(p.track_id) for p in kept]


@st.composite
def clouds(draw):
    fields = [FACTORY.make('sensor_msgs/msg/PointField', name=name,
                           offset=draw(st.one_of(st.just(4 * i), UINT32)),
                           datatype=draw(st.sampled_from([7, 7, 7, 8, 2])), count=1)
              for i, name in enumerate(draw(st.sampled_from(['xyz', 'xyz', 'xy', 'zyx'])))]
    height, width = draw(st.integers(0, 3)), draw(st.integers(0, 5))
    step = draw(st.one_of(st.just(12), st.just(16), st.integers(0, 40), UINT32))
    size = min(draw(st.one_of(st.just(height * width * step), st.integers(0, 200))), 4096)
    return wire(FACTORY.make(
        'sensor_msgs/msg/PointCloud2', header=FACTORY.make('std_msgs/msg/Header'),
        height=height, width=width, fields=fields, is_bigendian=draw(st.booleans()),
        point_step=step, row_step=step * width % 2 ** 32,
        data=np.frombuffer(draw(st.binary(min_size=size, max_size=size)), np.uint8),
        is_dense=False))


def check_cloud(message):
    try:
        points = conv.cloud_to_points(message)
    except conv.ConversionError:
        return
    assert points.shape == (message.height * message.width, 3)


@st.composite
def detection3d_arrays(draw):
    detections = []
    for _ in range(draw(st.integers(0, 3))):
        values = [draw(floats_or_bad(-1, 1)) for _ in range(7)]
        pose = FACTORY.make('geometry_msgs/msg/Pose', position=FACTORY.make(
            'geometry_msgs/msg/Point', x=values[0], y=values[1], z=values[2]),
            orientation=FACTORY.make('geometry_msgs/msg/Quaternion', x=values[3],
                                     y=values[4], z=values[5], w=values[6]))
        results = [FACTORY.make('vision_msgs/msg/ObjectHypothesisWithPose',
                                hypothesis=FACTORY.make('vision_msgs/msg/ObjectHypothesis',
                                                        class_id='mug', score=0.5),
                                pose=FACTORY.make('geometry_msgs/msg/PoseWithCovariance',
                                                  pose=pose))] * draw(st.integers(0, 1))
        detections.append(FACTORY.make('vision_msgs/msg/Detection3D', results=results,
                                       id=draw(ID_TEXT)))
    return wire(FACTORY.make('vision_msgs/msg/Detection3DArray', detections=detections))


def check_detection3d(message):
    try:
        poses = conv.detection3d_array_to_poses(message)
    except conv.ConversionError:
        return
    assert len(poses) == len(message.detections)
    for pose in poses:
        assert np.isfinite(pose.rotation).all() and np.isfinite(pose.translation).all()


def check_stamp(sec, nanosec):
    stamp = FACTORY.make('builtin_interfaces/msg/Time', sec=sec, nanosec=nanosec)
    try:
        ns = conv.check_stamp(stamp)
    except conv.ConversionError:
        assert nanosec >= 10 ** 9
        return
    assert FACTORY.serialize(conv.ns_to_stamp(FACTORY, ns)) == FACTORY.serialize(stamp)


CONVERSIONS = {
    'image': (lambda: images(STAMP, 5, 7), check_image),
    'camera_info': (lambda: camera_infos(STAMP, 48, 64), check_camera_info),
    'detection2d': (lambda: detection2d_arrays(STAMP), check_detection2d),
    'outputs': (lambda: st.lists(object_poses(), max_size=4), check_outputs),
    'cloud': (clouds, check_cloud),
    'detection3d': (detection3d_arrays, check_detection3d),
}


def run_counted(name, chosen_settings):
    """Run one conversion property; return how many cases it checked (all passed)."""
    strategy, check = CONVERSIONS[name]
    cases = []

    def counted(value):
        cases.append(1)
        check(value)

    chosen_settings(given(strategy())(counted))()
    return len(cases)


@pytest.mark.parametrize('name', sorted(CONVERSIONS))
def test_conversions_raise_only_conversion_errors(name):
    assert run_counted(name, FAST) >= FAST.max_examples


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(CONVERSIONS))
def test_conversions_many(name):
    cases = run_counted(name, slow(name))
    print('%s: %d cases' % (name, cases))
    assert cases >= SLOW_EXAMPLES[name]


@FAST
@given(sec=INT32, nanosec=UINT32)
def test_normalised_stamps_round_trip_exactly(sec, nanosec):
    check_stamp(sec, nanosec)
