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

"""The rclpy lifecycle nodes for real (only where ROS 2 is sourced; skipped elsewhere)."""

import threading
import time

import pytest
from support import (fail_first_frames, FAST_PARAMS, FRAME_ID, frame_messages,
                     save_tiny_checkpoint)

rclpy = pytest.importorskip('rclpy')
pytestmark = pytest.mark.ros

from rclpy.executors import MultiThreadedExecutor  # noqa: E402, I100
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from catpose_ros.ros import conversions as conv  # noqa: E402, I100
from catpose_ros.ros.messages import RclpyFactory  # noqa: E402
from catpose_ros.ros.params import parameter_specs, POSE_NODE  # noqa: E402
from catpose_ros.ros.pose_node import PoseNode  # noqa: E402

NAMESPACE = '/catpose_test'


@pytest.fixture(scope='module')
def ros_context():
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture
def checkpoint(tmp_path):
    return save_tiny_checkpoint(tmp_path / 'random.pt')


def _pose_node(checkpoint, **extra):
    values = dict(FAST_PARAMS, **{'model.checkpoint': str(checkpoint),
                                  'sync.max_input_age_s': 0.0}, **extra)
    overrides = [Parameter(name, value=value) for name, value in values.items()]
    return PoseNode(namespace=NAMESPACE, parameter_overrides=overrides)


class _Spinner:
    """Spin nodes on a background executor for the duration of a with-block."""

    def __init__(self, *nodes):
        self.executor = MultiThreadedExecutor()
        for node in nodes:
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.executor.shutdown()
        self.thread.join(timeout=5.0)


def _wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _publish_frames_until(helper, condition, frames: int) -> None:
    """Publish the synthetic input frames one by one until condition() holds."""
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection2DArray

    publishers = [helper.create_publisher(Image, 'depth/image', 10),
                  helper.create_publisher(CameraInfo, 'depth/camera_info', 10),
                  helper.create_publisher(Image, 'segmentation/instances', 10),
                  helper.create_publisher(Detection2DArray, 'segmentation/detections', 10)]
    factory = RclpyFactory()
    for index in range(frames):
        for publisher, message in zip(publishers, frame_messages(factory, index)):
            publisher.publish(message)
        if _wait_for(condition, timeout=0.5):
            return


def test_every_pose_parameter_is_declared_with_a_description(ros_context, checkpoint):
    node = _pose_node(checkpoint)
    try:
        for spec in parameter_specs(POSE_NODE):
            descriptor = node.describe_parameter(spec.name)
            assert descriptor.description.startswith(spec.description[:20])
    finally:
        node.destroy_node()


def test_missing_model_fails_configure_without_crashing(ros_context, tmp_path):
    node = _pose_node(tmp_path / 'absent.pt')
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    finally:
        node.destroy_node()


def test_pose_node_publishes_detections_and_tf_with_the_input_header(ros_context,
                                                                     checkpoint):
    from std_srvs.srv import SetBool, Trigger
    from tf2_msgs.msg import TFMessage
    from vision_msgs.msg import Detection3DArray

    node = _pose_node(checkpoint)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    helper = rclpy.create_node('catpose_test_helper', namespace=NAMESPACE)
    received, transforms = [], []
    helper.create_subscription(Detection3DArray, 'catpose_pose/detections',
                               received.append, 10)
    helper.create_subscription(TFMessage, '/tf', transforms.append, 10)
    factory = RclpyFactory()
    try:
        with _Spinner(node, helper):
            _publish_frames_until(helper, lambda: len(received) >= 2, frames=20)
            assert _wait_for(lambda: len(received) >= 2)
            first = received[0]
            assert first.header.frame_id == FRAME_ID
            stamps = {conv.stamp_to_ns(frame_messages(factory, i)[0].header.stamp)
                      for i in range(20)}
            assert conv.stamp_to_ns(first.header.stamp) in stamps
            assert _wait_for(lambda: transforms)
            children = {t.child_frame_id for m in transforms for t in m.transforms}
            assert children == {'catpose/mug_1', 'catpose/bowl_2'}
            reset = helper.create_client(Trigger, 'catpose_pose/reset')
            enable = helper.create_client(SetBool, 'catpose_pose/enable')
            assert reset.wait_for_service(timeout_sec=5.0)
            assert reset.call(Trigger.Request(), timeout_sec=10.0).success
            answer = enable.call(SetBool.Request(data=False), timeout_sec=10.0)
            assert answer.success and 'disabled' in answer.message
    finally:
        node.trigger_deactivate()
        node.destroy_node()
        helper.destroy_node()


def test_the_worker_survives_a_frame_that_raises(ros_context, checkpoint):
    from diagnostic_msgs.msg import DiagnosticArray
    from vision_msgs.msg import Detection3DArray

    node = _pose_node(checkpoint)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    fail_first_frames(node.core, 2)
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    helper = rclpy.create_node('catpose_test_guard', namespace=NAMESPACE)
    received, diagnostics = [], []
    helper.create_subscription(Detection3DArray, 'catpose_pose/detections',
                               received.append, 10)
    helper.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    try:
        with _Spinner(node, helper):
            _publish_frames_until(helper, lambda: received, frames=30)
            assert _wait_for(lambda: received), 'the worker stopped after a failed frame'
            failures = [conv.diagnostics_to_dict(m).get('catpose_pose', {}).get(
                'worker_failures') for m in diagnostics]
            assert '2' in failures
    finally:
        node.trigger_deactivate()
        node.destroy_node()
        helper.destroy_node()


def test_live_parameters_apply_and_others_are_refused(ros_context, checkpoint):
    node = _pose_node(checkpoint)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        applied = node.set_parameters([Parameter('output.publish_debug_cloud', value=True)])
        assert applied[0].successful and node.core.params.output.publish_debug_cloud
        refused = node.set_parameters([Parameter('model.device', value='cuda')])
        assert not refused[0].successful and 'requires reconfigure' in refused[0].reason
        assert node.get_parameter('model.device').value == 'cpu'
    finally:
        node.trigger_deactivate()
        node.destroy_node()
