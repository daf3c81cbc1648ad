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

"""catpose_segmentation: thin rclpy lifecycle node around `SegmentationNodeCore`.

Subscribes image (RGB) and depth/image (aligned to it) through an ApproximateTimeSynchronizer;
publishes ~/instances (mono16 label image), ~/detections (Detection2DArray, id = label value),
~/masked_depth and ~/label_info (LabelInfo, transient local), all with the depth header, and
/diagnostics (frame counts, skip reasons, latency).
"""

from typing import Any, Optional

from diagnostic_msgs.msg import DiagnosticArray
from message_filters import ApproximateTimeSynchronizer, Subscriber
from rclpy.lifecycle import State, TransitionCallbackReturn
from sensor_msgs.msg import Image
from std_srvs.srv import SetBool
from vision_msgs.msg import Detection2DArray, LabelInfo

from catpose_ros.perception.maskrcnn import SegmenterWeightsError
from catpose_ros.ros.lifecycle_node import (CatposeLifecycleNode, input_qos, LATCHED_QOS,
                                            main_for, package_share_dir)
from catpose_ros.ros.messages import RclpyFactory
from catpose_ros.ros.params import (InvalidParameterError, ModelNotFoundError,
                                    SEGMENTATION_NODE)
from catpose_ros.ros.segmentation_pipeline import SegmentationNodeCore


class SegmentationNode(CatposeLifecycleNode):
    """Wire topics to SegmentationNodeCore; holds no algorithm."""

    NODE_KIND = SEGMENTATION_NODE

    def __init__(self, **node_options):
        super().__init__('catpose_segmentation', **node_options)
        self.core: Optional[SegmentationNodeCore] = None
        self.subscribers = []

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        """Load the segmenter and create publishers."""
        try:
            self.core = SegmentationNodeCore.from_params(
                self.read_params(), RclpyFactory(), package_share_dir())
        except (InvalidParameterError, ModelNotFoundError, SegmenterWeightsError,
                ImportError, ValueError) as error:
            return self.fail('cannot configure: %s' % error)
        self.instances_pub = self.create_lifecycle_publisher(Image, '~/instances', 10)
        self.detections_pub = self.create_lifecycle_publisher(Detection2DArray,
                                                              '~/detections', 10)
        self.masked_depth_pub = self.create_lifecycle_publisher(Image, '~/masked_depth', 10)
        self.label_info_pub = self.create_lifecycle_publisher(LabelInfo, '~/label_info',
                                                              LATCHED_QOS)
        self.diagnostics_pub = self.create_lifecycle_publisher(DiagnosticArray,
                                                               '/diagnostics', 10)
        self.enable_srv = self.create_service(SetBool, '~/enable', self.on_enable)
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        """Subscribe, publish LabelInfo once and start processing."""
        params = self.core.params
        qos = input_qos(params)
        self.subscribers = [Subscriber(self, Image, 'image', qos_profile=qos),
                            Subscriber(self, Image, 'depth/image', qos_profile=qos)]
        self.synchronizer = ApproximateTimeSynchronizer(
            self.subscribers, queue_size=params.sync.queue, slop=params.sync.slop)
        self.synchronizer.registerCallback(lambda *frame: self.slot.put(frame))
        result = super().on_activate(state)
        self.label_info_pub.publish(self.core.label_info(self.now_ns()))
        self.start_worker()
        return result

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        """Unsubscribe and stop processing."""
        self.stop_worker()
        for subscriber in self.subscribers:
            self.destroy_subscription(subscriber.sub)
        self.subscribers = []
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        """Release the segmenter and the publishers."""
        for publisher in (self.instances_pub, self.detections_pub, self.masked_depth_pub,
                          self.label_info_pub, self.diagnostics_pub):
            self.destroy_lifecycle_publisher(publisher)
        self.diagnostics_pub = None
        self.destroy_service(self.enable_srv)
        self.core = None
        return TransitionCallbackReturn.SUCCESS

    def process_frame(self, rgb: Any, depth: Any) -> None:
        """Segment one frame and publish its outputs (worker thread)."""
        outputs = self.core.process(rgb, depth, self.now_ns())
        self.log(outputs.logs, throttle=True)
        if not self.processing:
            return  # stopping (deactivate, shutdown): the publishers may be going
        self.diagnostics_pub.publish(outputs.diagnostics)
        if outputs.skip_reason is not None:
            return
        self.instances_pub.publish(outputs.instances)
        self.detections_pub.publish(outputs.detections)
        if self.masked_depth_pub.get_subscription_count() > 0:
            self.masked_depth_pub.publish(outputs.masked_depth)

    def on_enable(self, request: SetBool.Request, response: SetBool.Response):
        """Pause or resume segmentation (std_srvs/SetBool)."""
        self.core.enabled = bool(request.data)
        response.success = True
        response.message = 'segmentation %s' % ('enabled' if request.data else 'disabled')
        return response


def main(args=None):
    main_for(SegmentationNode, args)
