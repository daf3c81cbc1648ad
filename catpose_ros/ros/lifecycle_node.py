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

"""rclpy wiring both catpose nodes share: parameters, QoS, the worker thread, autostart."""

import sys
import threading
from typing import Any, Callable, Dict, Optional

from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)
import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)

from catpose_ros.ros.messages import RclpyFactory
from catpose_ros.ros.params import CatposeParams, parameter_specs, ParamSpec
from catpose_ros.ros.pose_pipeline import FrameSlot, LogRecord, WorkerGuard

_PARAMETER_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
                    float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """Return the ParameterDescriptor (`ros2 param describe`) of one declared parameter."""
    result = ParameterDescriptor(name=spec.name, type=_PARAMETER_TYPES[spec.value_type],
                                 description=spec.full_description())
    if spec.choices:
        result.additional_constraints = 'one of: %s' % ', '.join(spec.choices)
    if spec.low is not None and spec.value_type is float:
        result.floating_point_range = [FloatingPointRange(
            from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
    elif spec.low is not None and spec.value_type is int:
        result.integer_range = [IntegerRange(from_value=int(spec.low),
                                             to_value=int(spec.high), step=1)]
    return result


def input_qos(params: CatposeParams) -> QoSProfile:
    """Return the subscribers' QoS: sensor_data (best effort) or reliable."""
    if params.sync.qos == 'sensor_data':
        return qos_profile_sensor_data
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=params.sync.queue,
                      reliability=ReliabilityPolicy.RELIABLE)


LATCHED_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                         reliability=ReliabilityPolicy.RELIABLE)


def package_share_dir() -> Optional[str]:
    """Return share/catpose_ros of the ROS install, or None (a pip or source install)."""
    try:
        return get_package_share_directory('catpose_ros')
    except PackageNotFoundError:
        return None


class CatposeLifecycleNode(LifecycleNode):
    """Declares this node's parameters, runs frames on a worker thread, logs core records.

    Subclasses build their core in `on_configure` and wire topics in `on_activate`; frames
    go through `self.slot` (newest only) to `process_frame`, run on the worker thread.
    """

    NODE_KIND = ''

    def __init__(self, name: str, **node_options):
        super().__init__(name, **node_options)
        for spec in parameter_specs(self.NODE_KIND):
            self.declare_parameter(spec.name, spec.default, descriptor(spec))
        self.slot = FrameSlot()
        self.guard = WorkerGuard(name)
        self.diagnostics_pub = None
        self._factory = RclpyFactory()
        self._worker: Optional[threading.Thread] = None
        self._running = threading.Event()

    def read_params(self) -> CatposeParams:
        """Return the current parameter values as CatposeParams (validated)."""
        return CatposeParams.from_dict({spec.name: self.get_parameter(spec.name).value
                                        for spec in parameter_specs(self.NODE_KIND)})

    def log(self, records, throttle_s: float = 0.0) -> None:
        """Send core log records to the node's logger (warnings throttled when asked)."""
        logger = self.get_logger()
        for record in records:
            emit: Dict[str, Callable[..., Any]] = {
                'debug': logger.debug, 'info': logger.info, 'warn': logger.warning,
                'error': logger.error}
            if record.level == 'warn' and throttle_s > 0:
                emit['warn'](record.message, throttle_duration_sec=throttle_s)
            else:
                emit.get(record.level, logger.info)(record.message)

    def fail(self, message: str) -> TransitionCallbackReturn:
        """Log why a transition failed and refuse it (the node stays where it was)."""
        self.log([LogRecord('error', message)])
        return TransitionCallbackReturn.FAILURE

    def start_worker(self) -> None:
        """Start the thread that processes the newest pending frame."""
        self.slot.clear()
        self._running.set()
        self._worker = threading.Thread(target=self._work, name=self.get_name() + '_worker',
                                        daemon=True)
        self._worker.start()

    def stop_worker(self) -> None:
        """Stop the worker thread after its current frame."""
        self._running.clear()
        if self._worker is not None:
            self._worker.join(timeout=30.0)
        self._worker = None
        self.slot.clear()

    def _work(self) -> None:
        """Process frames until stopped; a frame that raises is logged, counted and passed."""
        while self._running.is_set():
            frame = self.slot.wait(timeout=0.2)
            if frame is None or not self._running.is_set():
                continue
            failure = self.guard.run(self.process_frame, frame, self._factory)
            if failure is not None:
                self._report(failure)

    def _report(self, failure) -> None:
        """Log a failed frame and publish its diagnostics (never raises)."""
        try:
            self.log([failure.log])
            if self.diagnostics_pub is not None and failure.diagnostics is not None:
                self.diagnostics_pub.publish(failure.diagnostics)
        except Exception as error:  # reporting must not end the worker either
            sys.stderr.write('%s: cannot report a failed frame: %s\n' % (self.get_name(), error))

    def process_frame(self, *messages: Any) -> None:
        """Process one synchronised frame (worker thread)."""
        raise NotImplementedError

    def now_ns(self) -> int:
        """Return the node clock (sim time when use_sim_time) in nanoseconds."""
        return self.get_clock().now().nanoseconds

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        """Stop processing on shutdown from any state."""
        self.stop_worker()
        return TransitionCallbackReturn.SUCCESS


def spin(node: CatposeLifecycleNode) -> None:
    """Self-activate when autostart is true, spin until shutdown, then clean up."""
    if node.get_parameter('autostart').value:
        if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            node.trigger_activate()
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.stop_worker()
        node.destroy_node()
        rclpy.try_shutdown()
