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

"""catpose_pose: thin rclpy lifecycle node around `PoseNodeCore` (ros/pose_pipeline.py).

Subscribes depth/image, depth/camera_info, segmentation/instances (mono16) and
segmentation/detections (Detection2DArray) through an ApproximateTimeSynchronizer; publishes
~/detections (Detection3DArray), ~/markers, /diagnostics, ~/debug/cloud (only while
subscribed) and TF frames <tf_prefix><category>_<id>. Services: ~/reset, ~/enable.
"""

from typing import Any, Optional

from diagnostic_msgs.msg import DiagnosticArray
from message_filters import ApproximateTimeSynchronizer, Subscriber
from rclpy.lifecycle import State, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_srvs.srv import SetBool, Trigger
from tf2_ros import TransformBroadcaster
from vision_msgs.msg import Detection2DArray, Detection3DArray
from visualization_msgs.msg import MarkerArray

from catpose_ros.model.checkpoint import CheckpointError
from catpose_ros.ros.lifecycle_node import (CatposeLifecycleNode, input_qos,
                                            main_for, package_share_dir)
from catpose_ros.ros.messages import RclpyFactory
from catpose_ros.ros.params import InvalidParameterError, ModelNotFoundError, POSE_NODE
from catpose_ros.ros.pose_pipeline import PoseNodeCore


class PoseNode(CatposeLifecycleNode):
    """Wire topics, TF and services to PoseNodeCore; holds no algorithm."""

    NODE_KIND = POSE_NODE

    def __init__(self, **node_options):
        super().__init__('catpose_pose', **node_options)
        self.core: Optional[PoseNodeCore] = None
        self.subscribers = []
        self.synchronizer = None

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        """Load the model and create publishers and services."""
        try:
            params = self.read_params()
            self.core = PoseNodeCore.from_params(params, RclpyFactory(), package_share_dir())
        except (InvalidParameterError, ModelNotFoundError, CheckpointError) as error:
            return self.fail('cannot configure: %s' % error)
        self.detections_pub = self.create_lifecycle_publisher(Detection3DArray,
                                                              '~/detections', 10)
        self.markers_pub = self.create_lifecycle_publisher(MarkerArray, '~/markers', 10)
        self.diagnostics_pub = self.create_lifecycle_publisher(DiagnosticArray,
                                                               '/diagnostics', 10)
        self.cloud_pub = self.create_lifecycle_publisher(PointCloud2, '~/debug/cloud', 2)
        self.tf_broadcaster = TransformBroadcaster(self)
        self.reset_srv = self.create_service(Trigger, '~/reset', self.on_reset)
        self.enable_srv = self.create_service(SetBool, '~/enable', self.on_enable)
        self.get_logger().info('configured: mode %s, model on %s' % (
            params.tracking.mode, getattr(self.core.estimator, 'device', params.model.device)))
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        """Subscribe and start processing."""
        params = self.core.params
        qos = input_qos(params)
        self.subscribers = [
            Subscriber(self, Image, 'depth/image', qos_profile=qos),
            Subscriber(self, CameraInfo, 'depth/camera_info', qos_profile=qos),
            Subscriber(self, Image, 'segmentation/instances', qos_profile=qos),
            Subscriber(self, Detection2DArray, 'segmentation/detections', qos_profile=qos)]
        self.synchronizer = ApproximateTimeSynchronizer(
            self.subscribers, queue_size=params.sync.queue, slop=params.sync.slop)
        self.synchronizer.registerCallback(lambda *frame: self.slot.put(frame))
        self.start_worker()
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        """Unsubscribe and stop processing; tracks are kept."""
        self.stop_worker()
        for subscriber in self.subscribers:
            self.destroy_subscription(subscriber.sub)
        self.subscribers, self.synchronizer = [], None
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        """Release the model and the publishers."""
        for publisher in (self.detections_pub, self.markers_pub, self.diagnostics_pub,
                          self.cloud_pub):
            self.destroy_lifecycle_publisher(publisher)
        self.diagnostics_pub = None
        self.destroy_service(self.reset_srv)
        self.destroy_service(self.enable_srv)
        self.core = None
        return TransitionCallbackReturn.SUCCESS

    def process_frame(self, depth: Any, info: Any, instances: Any, detections: Any) -> None:
        """Estimate one frame and publish its outputs (worker thread)."""
        want_cloud = self.cloud_pub.get_subscription_count() > 0
        outputs = self.core.process(depth, info, instances, detections, self.now_ns(),
                                    want_cloud)
        self.log(outputs.logs, throttle=True)
        if not self.processing:
            return  # stopping (deactivate, shutdown): the publishers may be going
        if outputs.detections is not None:
            self.detections_pub.publish(outputs.detections)
        if outputs.tf is not None:
            self.tf_broadcaster.sendTransform(list(outputs.tf.transforms))
        if outputs.markers is not None:
            self.markers_pub.publish(outputs.markers)
        if outputs.cloud is not None:
            self.cloud_pub.publish(outputs.cloud)
        self.diagnostics_pub.publish(outputs.diagnostics)

    def on_reset(self, request: Trigger.Request, response: Trigger.Response):
        """Forget every track (std_srvs/Trigger)."""
        self.slot.clear()
        markers = self.core.reset()
        if markers is not None:
            self.markers_pub.publish(markers)
        response.success, response.message = True, 'tracks reset'
        return response

    def on_enable(self, request: SetBool.Request, response: SetBool.Response):
        """Pause or resume estimation (std_srvs/SetBool)."""
        response.success, response.message = True, self.core.set_enabled(request.data)
        return response


def main(args=None):
    main_for(PoseNode, args)
