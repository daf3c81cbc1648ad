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

"""rclpy wiring both catpose nodes share: parameters, QoS, the worker thread, autostart.

Also the node's life around rclpy: live parameter changes (ros/live_params.py), one log
throttle per skip reason and the core's Python logging in the ROS logger
(ros/node_runtime.py), a worker guard so that no frame ends the worker thread, and a
shutdown that stops the worker before the context goes.
"""

from contextlib import ExitStack
import sys
import threading
from typing import Any, Callable, Dict, Optional, Sequence

from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType, SetParametersResult)
import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from rclpy.signals import SignalHandlerOptions

from catpose_ros.ros.frame_worker import FrameSlot, LogRecord, WorkerGuard
from catpose_ros.ros.live_params import change_note, review_parameter_changes
from catpose_ros.ros.messages import RclpyFactory
from catpose_ros.ros.node_runtime import (LogThrottle, route_python_logging, ShutdownRequest,
                                          spin_until_shutdown)
from catpose_ros.ros.params import CatposeParams, parameter_specs, ParamSpec

SKIP_LOG_THROTTLE_S = 5.0

_PARAMETER_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
                    float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}


def descriptor(spec: ParamSpec, node: str) -> ParameterDescriptor:
    """Return the ParameterDescriptor (`ros2 param describe`) of one declared parameter."""
    result = ParameterDescriptor(name=spec.name, type=_PARAMETER_TYPES[spec.value_type],
                                 description=spec.full_description())
    constraints = ['one of: %s' % ', '.join(spec.choices)] if spec.choices else []
    result.additional_constraints = '; '.join(constraints + [change_note(spec, node)])
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

    Subclasses build their core (`self.core`, with `apply_params`) in `on_configure` and
    wire topics in `on_activate`; frames go through `self.slot` (newest only) to
    `process_frame`, run on the worker thread.
    """

    NODE_KIND = ''

    def __init__(self, name: str, **node_options):
        super().__init__(name, **node_options)
        self.core: Any = None
        for spec in parameter_specs(self.NODE_KIND):
            self.declare_parameter(spec.name, spec.default, descriptor(spec, self.NODE_KIND))
        self.add_on_set_parameters_callback(self.on_set_parameters)
        self.slot = FrameSlot()
        self.shutdown_request = ShutdownRequest()
        self.guard = WorkerGuard(name)
        self.diagnostics_pub = None
        self._factory = RclpyFactory()
        self._worker: Optional[threading.Thread] = None
        self._running = threading.Event()
        self._log_throttle = LogThrottle(SKIP_LOG_THROTTLE_S)
        self._routes = ExitStack()
        self._routes.enter_context(route_python_logging(self.get_logger()))

    def read_params(self) -> CatposeParams:
        """Return the current parameter values as CatposeParams (validated)."""
        return CatposeParams.from_dict(self.parameter_values())

    def parameter_values(self) -> Dict[str, Any]:
        """Return this node's declared parameters by dotted name."""
        return {spec.name: self.get_parameter(spec.name).value
                for spec in parameter_specs(self.NODE_KIND)}

    def on_set_parameters(self, parameters: Sequence[Any]) -> SetParametersResult:
        """Apply live parameters at once; refuse the rest with the reason (`ros2 param set`)."""
        review = review_parameter_changes(
            self.NODE_KIND, self.parameter_values(),
            {parameter.name: parameter.value for parameter in parameters},
            configured=self.core is not None)
        if review.accepted and review.live_names:
            try:
                self.core.apply_params(review.params)
            except ValueError as error:
                return SetParametersResult(successful=False, reason=str(error))
            self.get_logger().info('applied %s' % ', '.join(
                '%s=%r' % (name, review.params.get(name)) for name in review.live_names))
        return SetParametersResult(successful=review.accepted, reason=review.reason)

    def log(self, records, throttle: bool = False) -> None:
        """Send core log records to the node's logger (warnings throttled per reason)."""
        logger = self.get_logger()
        emit: Dict[str, Callable[..., Any]] = {
            'debug': logger.debug, 'info': logger.info, 'warn': logger.warning,
            'error': logger.error}
        for record in records:
            message = record.message
            if record.level == 'warn' and throttle:
                message = self._log_throttle.admit(message)
            if message is not None:
                emit.get(record.level, logger.info)(message)

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

    @property
    def processing(self) -> bool:
        """Whether the worker should go on (False once stopping: drop unpublished results)."""
        return self._running.is_set()

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
        """Stop processing on shutdown from any state; the process then exits cleanly."""
        self.stop_worker()
        self.shutdown_request.request('lifecycle shutdown')
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        """Hand Python logging back, then destroy the node."""
        self._routes.close()
        super().destroy_node()


def spin(node: CatposeLifecycleNode) -> None:
    """Self-activate when autostart is true, spin until a signal or lifecycle shutdown.

    SIGINT / SIGTERM only end the spin loop; then the worker stops and joins, the executor
    and the node are destroyed, and only then is the context shut down, so no thread
    publishes into a dead context (no traceback on Ctrl-C).
    """
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        with node.shutdown_request.on_signals():
            if node.get_parameter('autostart').value:
                autostart(node)
            reason = spin_until_shutdown(lambda timeout: executor.spin_once(timeout_sec=timeout),
                                         node.shutdown_request, rclpy.ok)
            node.get_logger().info('shutting down: %s' % reason)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        close(node, executor)


def autostart(node: CatposeLifecycleNode) -> None:
    """Configure, then activate, unless a shutdown was asked for in between."""
    if node.shutdown_request.requested:
        return
    if node.trigger_configure() == TransitionCallbackReturn.SUCCESS and \
            not node.shutdown_request.requested:
        node.trigger_activate()


def close(node: CatposeLifecycleNode, executor: Any) -> None:
    """Stop the worker, then the executor and the node, then the context: in this order."""
    node.stop_worker()
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()


def main_for(node_class: type, args=None) -> None:
    """Run one node as a process: rclpy without its signal handlers (spin installs ours)."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    spin(node_class())
