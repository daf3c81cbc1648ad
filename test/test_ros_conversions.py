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

"""Every conversion through a real CDR round trip on the Humble and Jazzy typestores."""

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.geometry.camera import NOCS_REAL_INTRINSICS
from catpose_ros.ros import conversions as cv
from catpose_ros.ros.messages import DISTROS, RosbagsFactory

STAMP_NS = 1_700_000_123_456_789_000


@pytest.fixture(params=DISTROS)
def factory(request):
    return RosbagsFactory(request.param)


def cdr(factory, message):
    """Serialise and deserialise, as a subscriber on the other side of DDS would see it."""
    return factory.deserialize(factory.serialize(message), message.__msgtype__)


def header(factory):
    return cv.make_header(factory, STAMP_NS, 'camera_color_optical_frame')


def raw_image(factory, encoding, height, width, step, data, bigendian=False):
    return factory.make('sensor_msgs/Image', header=header(factory), height=height,
                        width=width, encoding=encoding, is_bigendian=int(bigendian), step=step,
                        data=np.frombuffer(data, dtype=np.uint8))


def random_pose(seed, track_id=3, category='mug', covariance=None):
    rng = np.random.default_rng(seed)
    return cv.ObjectPose(track_id=track_id, category=category, score=0.93,
                         rotation=Rotation.random(random_state=seed).as_matrix(),
                         translation=rng.uniform(-0.5, 1.0, 3),
                         size=rng.uniform(0.05, 0.3, 3), covariance=covariance)


# ------------------------------------------------------------------ time


@given(st.integers(min_value=-2**31 * 10**9, max_value=(2**31 - 1) * 10**9))
@settings(max_examples=50, deadline=None)
def test_stamp_ns_round_trip(ns):
    factory = RosbagsFactory('jazzy')
    stamp = cdr(factory, cv.ns_to_stamp(factory, ns))
    assert 0 <= stamp.nanosec < 10**9
    assert cv.stamp_to_ns(stamp) == ns


def test_copy_header_keeps_stamp_and_frame(factory):
    other = RosbagsFactory('humble' if factory.distro == 'jazzy' else 'jazzy')
    copied = cdr(other, cv.copy_header(other, header(factory)))
    assert cv.stamp_to_ns(copied.stamp) == STAMP_NS
    assert copied.frame_id == 'camera_color_optical_frame'


# ------------------------------------------------------------------ images


@pytest.mark.parametrize('encoding,dtype,shape', [
    ('16UC1', np.uint16, (5, 7)), ('mono16', np.uint16, (5, 7)), ('32FC1', np.float32, (5, 7)),
    ('mono8', np.uint8, (5, 7)), ('rgb8', np.uint8, (5, 7, 3)), ('bgr8', np.uint8, (5, 7, 3)),
    ('rgba8', np.uint8, (5, 7, 4)), ('bgra8', np.uint8, (5, 7, 4)),
])
def test_image_round_trip(factory, encoding, dtype, shape):
    rng = np.random.default_rng(0)
    pixels = (rng.uniform(0, 3, shape) if dtype == np.float32
              else rng.integers(0, np.iinfo(dtype).max, shape)).astype(dtype)
    message = cdr(factory, cv.numpy_to_image(factory, pixels, encoding, header(factory)))
    assert message.step == shape[1] * (shape[2] if len(shape) == 3 else 1) * pixels.itemsize
    decoded = cv.image_to_numpy(message)
    assert decoded.flags.c_contiguous and decoded.dtype == dtype
    np.testing.assert_array_equal(decoded, pixels)


def test_padded_big_endian_16uc1(factory):
    values = np.array([[1, 258, 65535], [4096, 0, 7]], dtype=np.uint16)
    rows = [values[r].astype('>u2').tobytes() + b'\xee' * 4 for r in range(2)]
    message = cdr(factory, raw_image(factory, '16UC1', 2, 3, 10, b''.join(rows),
                                     bigendian=True))
    decoded = cv.image_to_numpy(message)
    assert decoded.dtype == np.uint16 and decoded.dtype.isnative
    np.testing.assert_array_equal(decoded, values)
    np.testing.assert_allclose(cv.depth_to_metres(message), values * 0.001, rtol=1e-6)


def test_padded_rgb8_and_bgr8_to_rgb(factory):
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded = b''.join(rgb[r].tobytes() + b'\x00\x00\x00' for r in range(2))
    decoded = cv.image_to_rgb(cdr(factory, raw_image(factory, 'rgb8', 2, 3, 12, padded)))
    np.testing.assert_array_equal(decoded, rgb)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    from_bgr = cv.image_to_rgb(cdr(factory, cv.numpy_to_image(factory, bgr, 'bgr8',
                                                              header(factory))))
    np.testing.assert_array_equal(from_bgr, rgb)
    mono = cv.image_to_rgb(cv.numpy_to_image(factory, rgb[..., 0], 'mono8', header(factory)))
    assert mono.shape == (2, 3, 3)


@pytest.mark.parametrize('encoding,height,width,step,size,message', [
    ('yuv422', 2, 2, 4, 8, 'unsupported image encoding'),
    ('16UC1', 0, 0, 0, 0, 'empty'),
    ('16UC1', 2, 3, 4, 8, 'step 4 is smaller'),
    ('16UC1', 2, 3, 6, 11, 'needs 12'),
    ('rgb8', 2, 2, 6, 6, 'needs 12'),
])
def test_bad_images_raise_conversion_error(factory, encoding, height, width, step, size,
                                           message):
    bad = cdr(factory, raw_image(factory, encoding, height, width, step, bytes(size)))
    with pytest.raises(cv.ConversionError, match=message):
        cv.image_to_numpy(bad)


def test_numpy_to_image_rejects_wrong_arrays(factory):
    with pytest.raises(cv.ConversionError):
        cv.numpy_to_image(factory, np.zeros((2, 2, 3), np.uint8), 'mono16', header(factory))
    with pytest.raises(cv.ConversionError):
        cv.numpy_to_image(factory, np.full((2, 2), 70000), 'mono16', header(factory))
    with pytest.raises(cv.ConversionError):
        cv.numpy_to_image(factory, np.zeros((2, 2), np.float32), 'mono16', header(factory))
    label = cv.numpy_to_image(factory, np.array([[0, 300]]), 'mono16', header(factory))
    np.testing.assert_array_equal(cv.image_to_numpy(label), [[0, 300]])


def test_depth_to_metres(factory):
    depth = np.array([[0.5, np.nan], [np.inf, -1.0]], dtype=np.float32)
    message = cdr(factory, cv.numpy_to_image(factory, depth, '32FC1', header(factory)))
    np.testing.assert_array_equal(cv.depth_to_metres(message), [[0.5, 0.0], [0.0, 0.0]])
    millimetres = cv.numpy_to_image(factory, np.array([[1234, 0]], np.uint16), '16UC1',
                                    header(factory))
    metres = cv.depth_to_metres(cdr(factory, millimetres))
    assert metres.dtype == np.float32
    np.testing.assert_allclose(metres, [[1.234, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(cv.depth_to_metres(millimetres, depth_scale=0.0001),
                               [[0.1234, 0.0]], rtol=1e-6)
    with pytest.raises(cv.ConversionError, match='depth image encoding'):
        cv.depth_to_metres(cv.numpy_to_image(factory, np.zeros((1, 1, 3), np.uint8), 'rgb8',
                                             header(factory)))


def test_metres_to_depth_image(factory):
    depth = np.array([[0.0, 1.2344, np.nan]])
    message = cdr(factory, cv.metres_to_depth_image(factory, depth, header(factory)))
    assert message.encoding == '16UC1'
    np.testing.assert_array_equal(cv.image_to_numpy(message), [[0, 1234, 0]])
    with pytest.raises(cv.ConversionError, match='16 bits'):
        cv.metres_to_depth_image(factory, np.array([[70.0]]), header(factory))


# ------------------------------------------------------------------ camera info


def test_camera_info_round_trip(factory):
    message = cdr(factory, cv.intrinsics_to_camera_info(factory, NOCS_REAL_INTRINSICS,
                                                        header(factory)))
    assert cv.camera_info_to_intrinsics(message) == NOCS_REAL_INTRINSICS
    assert message.distortion_model == 'plumb_bob' and len(message.d) == 5
    assert message.p[3] == 0.0 and message.p[10] == 1.0


def test_uncalibrated_camera_info_raises(factory):
    message = cdr(factory, factory.make('sensor_msgs/CameraInfo', header=header(factory),
                                        width=640, height=480))
    with pytest.raises(cv.ConversionError, match='uncalibrated'):
        cv.camera_info_to_intrinsics(message)
    zero_size = factory.make('sensor_msgs/CameraInfo', k=NOCS_REAL_INTRINSICS.matrix.ravel())
    with pytest.raises(cv.ConversionError):
        cv.camera_info_to_intrinsics(zero_size)


# ------------------------------------------------------------------ detections


def test_detection2d_round_trip(factory):
    records = [cv.Detection2DRecord(1, 'mug', 0.75, (10, 20, 31, 45)),
               cv.Detection2DRecord(7, 'bowl', 0.5, (0, 0, 1, 1))]
    message = cdr(factory, cv.detections_to_detection2d_array(factory, records,
                                                              header(factory)))
    assert [d.id for d in message.detections] == ['1', '7']
    assert message.detections[0].results[0].hypothesis.class_id == 'mug'
    assert cv.stamp_to_ns(message.detections[1].header.stamp) == STAMP_NS
    assert cv.detection2d_array_to_records(message) == records


def test_detection2d_with_a_non_integer_id_raises(factory):
    message = cv.detections_to_detection2d_array(
        factory, [cv.Detection2DRecord(1, 'mug', 0.75, (0, 0, 2, 2))], header(factory))
    message.detections[0].id = 'person-1'
    with pytest.raises(cv.ConversionError, match='not an integer'):
        cv.detection2d_array_to_records(cdr(factory, message))


def test_mask_box_is_inclusive_exclusive():
    mask = np.zeros((6, 8), bool)
    mask[2:4, 3:7] = True
    assert cv.mask_box(mask) == (3, 2, 7, 4)
    with pytest.raises(cv.ConversionError):
        cv.mask_box(np.zeros((2, 2), bool))


def test_detection3d_round_trip(factory):
    covariance = np.diag(np.arange(1.0, 7.0)) * 1e-4
    poses = [random_pose(0), random_pose(1, track_id=12, category='bowl',
                                         covariance=covariance)]
    message = cdr(factory, cv.poses_to_detection3d_array(factory, poses, header(factory)))
    assert message.header.frame_id == 'camera_color_optical_frame'
    assert [d.id for d in message.detections] == ['3', '12']
    first = message.detections[0]
    assert first.results[0].hypothesis.class_id == 'mug'
    assert first.results[0].pose.covariance[0] == cv.UNKNOWN_COVARIANCE_MARK
    assert first.bbox.center == first.results[0].pose.pose
    back = cv.detection3d_array_to_poses(message)
    for original, decoded in zip(poses, back):
        assert (decoded.track_id, decoded.category) == (original.track_id, original.category)
        assert decoded.score == pytest.approx(original.score)
        np.testing.assert_allclose(decoded.rotation, original.rotation, atol=1e-9)
        np.testing.assert_allclose(decoded.translation, original.translation)
        np.testing.assert_allclose(decoded.size, original.size)
    assert back[0].covariance is None
    np.testing.assert_array_equal(back[1].covariance, covariance)


def test_detection3d_rejects_a_bad_covariance(factory):
    pose = random_pose(0, covariance=np.eye(3))
    with pytest.raises(cv.ConversionError, match='6x6'):
        cv.poses_to_detection3d_array(factory, [pose], header(factory))


# ------------------------------------------------------------------ TF


def test_tf_children_stamps_and_frames_follow_the_input(factory):
    poses = [random_pose(0), random_pose(1, track_id=5, category='can')]
    message = cdr(factory, cv.poses_to_tf_message(factory, poses, header(factory)))
    assert [t.child_frame_id for t in message.transforms] == ['catpose/mug_3', 'catpose/can_5']
    for transform, pose in zip(message.transforms, poses):
        assert cv.stamp_to_ns(transform.header.stamp) == STAMP_NS
        assert transform.header.frame_id == 'camera_color_optical_frame'
        t = transform.transform.translation
        np.testing.assert_allclose([t.x, t.y, t.z], pose.translation)
        q = transform.transform.rotation
        np.testing.assert_allclose(Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix(),
                                   pose.rotation, atol=1e-9)
    custom = cv.poses_to_tf_message(factory, poses[:1], header(factory), tf_prefix='robot/')
    assert custom.transforms[0].child_frame_id == 'robot/mug_3'


# ------------------------------------------------------------------ markers


def marker_keys(message, action):
    return {(m.ns, m.id) for m in message.markers if m.action == action}


def test_markers_describe_each_object(factory):
    book = cv.MarkerBook()
    message = cdr(factory, book.markers(factory, [random_pose(0)], header(factory)))
    assert marker_keys(message, cv.MARKER_ADD) == {('bbox', 3), ('axes', 3), ('label', 3)}
    by_ns = {m.ns: m for m in message.markers}
    assert by_ns['bbox'].type == cv.MARKER_CUBE and 0 < by_ns['bbox'].color.a < 1
    assert by_ns['bbox'].scale.x == pytest.approx(random_pose(0).size[0])
    assert by_ns['axes'].type == cv.MARKER_LINE_LIST and len(by_ns['axes'].points) == 6
    assert by_ns['label'].type == cv.MARKER_TEXT and by_ns['label'].text == 'mug 3 (0.93)'
    assert all(m.header.frame_id == 'camera_color_optical_frame' for m in message.markers)


def test_marker_book_deletes_stale_ids(factory):
    book = cv.MarkerBook()
    book.markers(factory, [random_pose(0), random_pose(1, track_id=4)], header(factory))
    second = cdr(factory, book.markers(factory, [random_pose(2, track_id=4)],
                                       header(factory)))
    assert marker_keys(second, cv.MARKER_DELETE) == {('bbox', 3), ('axes', 3), ('label', 3)}
    assert marker_keys(second, cv.MARKER_ADD) == {('bbox', 4), ('axes', 4), ('label', 4)}
    third = book.markers(factory, [random_pose(2, track_id=4)], header(factory))
    assert not marker_keys(third, cv.MARKER_DELETE)
    reset = cdr(factory, book.reset(factory, header(factory)))
    assert {m.action for m in reset.markers} == {cv.MARKER_DELETEALL}
    after_reset = book.markers(factory, [], header(factory))
    assert not after_reset.markers


# ------------------------------------------------------------------ clouds, diagnostics, labels


def test_point_cloud_round_trip(factory):
    points = np.random.default_rng(0).normal(size=(1024, 3)).astype(np.float32)
    message = cdr(factory, cv.points_to_cloud(factory, points, header(factory)))
    assert (message.point_step, message.row_step, message.is_dense) == (12, 12 * 1024, True)
    np.testing.assert_array_equal(cv.cloud_to_points(message), points)
    with pytest.raises(cv.ConversionError):
        cv.points_to_cloud(factory, np.zeros((4, 2)), header(factory))


def test_padded_big_endian_cloud(factory):
    points = np.arange(6, dtype=np.float32).reshape(2, 3)
    padded = np.zeros(2, dtype=np.dtype({'names': ['x', 'y', 'z'], 'formats': ['>f4'] * 3,
                                         'offsets': [0, 4, 8], 'itemsize': 16}))
    for index, axis in enumerate('xyz'):
        padded[axis] = points[:, index]
    fields = [factory.make('sensor_msgs/PointField', name=a, offset=4 * i, datatype=7, count=1)
              for i, a in enumerate('xyz')]
    message = factory.make('sensor_msgs/PointCloud2', header=header(factory), height=1,
                           width=2, fields=fields, is_bigendian=True, point_step=16,
                           row_step=32, data=padded.view(np.uint8), is_dense=True)
    np.testing.assert_array_equal(cv.cloud_to_points(cdr(factory, message)), points)
    message.fields = fields[:2]
    with pytest.raises(cv.ConversionError, match='lacks'):
        cv.cloud_to_points(message)


def test_empty_cloud_with_any_point_step_gives_no_points(factory):
    fields = [factory.make('sensor_msgs/PointField', name=a, offset=4 * i, datatype=7, count=1)
              for i, a in enumerate('xyz')]
    for step in (12, 2 ** 31, 2 ** 32 - 1):   # uint32 allows steps no numpy dtype can hold
        message = factory.make('sensor_msgs/PointCloud2', header=header(factory), height=0,
                               width=0, fields=fields, is_bigendian=False, point_step=step,
                               row_step=0, data=np.zeros(0, np.uint8), is_dense=False)
        assert cv.cloud_to_points(cdr(factory, message)).shape == (0, 3)


def test_diagnostics_round_trip(factory):
    message = cdr(factory, cv.diagnostics_to_msg(
        factory, header(factory), 'catpose_pose', {'segmentation': 12.345, 'sampler': 80.0},
        {'tracks': 2, 'lost': 0}, level=cv.DIAGNOSTIC_WARN, message='slow'))
    assert message.status[0].level == cv.DIAGNOSTIC_WARN
    assert cv.diagnostics_to_dict(message) == {'catpose_pose': {
        'latency_segmentation_ms': '12.35', 'latency_sampler_ms': '80.00', 'tracks': '2',
        'lost': '0'}}


def test_label_info_round_trip(factory):
    message = cdr(factory, cv.label_info_msg(factory, header(factory), threshold=0.5))
    assert cv.label_info_to_dict(message) == {1: 'bottle', 2: 'bowl', 3: 'camera', 4: 'can',
                                              5: 'laptop', 6: 'mug'}
    assert message.threshold == pytest.approx(0.5)


def test_detection2d_centre_of_a_huge_finite_box_stays_finite():
    factory = RosbagsFactory('jazzy')
    header = factory.make('std_msgs/msg/Header', stamp=cv.ns_to_stamp(factory, 1), frame_id='c')
    edge = 8.98846567431158e307  # (edge + edge) / 2 overflows to inf
    record = cv.Detection2DRecord(1, 'mug', 0.5, (0.0, edge, 0.0, edge))
    message = cv.detections_to_detection2d_array(factory, [record], header)
    centre = message.detections[0].bbox.center.position
    assert np.isfinite([centre.x, centre.y]).all() and centre.y == edge
