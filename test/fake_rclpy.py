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

"""The small part of rclpy (and the message packages) the catpose nodes touch, faked.

It lets the node modules import and run where ROS 2 is not installed, so the wiring they
own (shutdown order, the parameter callback, logging) is tested for real. It behaves like
rclpy where that matters: rclpy's default SIGINT handler shuts the context down at once,
and a publisher of a shut-down context raises, as rclpy's RCLError does.
"""

import enum
import signal
import threading
import types
from typing import Any, Dict, List

ROS_MODULES = (
    'rclpy', 'rclpy.executors', 'rclpy.lifecycle', 'rclpy.qos', 'rclpy.signals',
    'rcl_interfaces', 'rcl_interfaces.msg', 'ament_index_python',
    'ament_index_python.packages', 'message_filters', 'tf2_ros', 'diagnostic_msgs',
    'diagnostic_msgs.msg', 'sensor_msgs', 'sensor_msgs.msg', 'std_srvs', 'std_srvs.srv',
    'vision_msgs', 'vision_msgs.msg', 'visualization_msgs', 'visualization_msgs.msg')


class World:
    """Process-wide state of the fake: the context, and what happened in which order."""

    def __init__(self):
        self.ok = True
        self.events: List[Any] = []
        self.publish_errors: List[str] = []
        self.overrides: Dict[str, Any] = {}
        self.nodes: List[Any] = []
        self.spin_hook = None
        self.init_options = None
        self.lock = threading.Lock()

    def record(self, event: Any) -> None:
        with self.lock:
            self.events.append(event)

    def shutdown(self, how: str) -> None:
        alive = sorted(t.name for t in threading.enumerate()
                       if t.name.endswith('_worker') and t.is_alive())
        self.record((how, alive))
        self.ok = False


WORLD = World()


class RCLError(RuntimeError):
    """What rclpy raises when publishing into a shut-down context."""


class Message:
    """Any message or service type: keyword fields become attributes."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _message_type(name: str) -> type:
    """Return a message type; service types also get Request and Response."""
    return type(name, (Message,), {'Request': type('Request', (Message,), {}),
                                   'Response': type('Response', (Message,), {})})


class Parameter:

    def __init__(self, name: str, type_=None, value: Any = None):
        self.name, self.value = name, value


class Logger:

    def __init__(self):
        self.lines: List[tuple] = []

    def _log(self, level: str, message: str, **kwargs) -> None:
        self.lines.append((level, str(message)))

    def debug(self, message, **kwargs):
        self._log('debug', message)

    def info(self, message, **kwargs):
        self._log('info', message)

    def warning(self, message, **kwargs):
        self._log('warn', message)

    warn = warning

    def error(self, message, **kwargs):
        self._log('error', message)

    def fatal(self, message, **kwargs):
        self._log('fatal', message)

    def get_effective_level(self) -> int:
        return 20


class Publisher:

    def __init__(self, topic: str):
        self.topic, self.messages = topic, []

    def publish(self, message: Any) -> None:
        if not WORLD.ok:
            error = "Failed to publish: publisher's context is invalid"
            WORLD.publish_errors.append(error)
            raise RCLError(error)
        self.messages.append(message)

    def get_subscription_count(self) -> int:
        return 1


class TransitionCallbackReturn(enum.Enum):
    SUCCESS = 1
    FAILURE = 2
    ERROR = 3


class LifecycleNode:
    """Parameters, publishers, services and transitions, as rclpy's LifecycleNode has them."""

    def __init__(self, name: str, namespace: str = '', parameter_overrides=None, **options):
        overrides = WORLD.overrides if parameter_overrides is None else {
            p.name: p.value for p in parameter_overrides}
        self._name, self._overrides = name, dict(overrides)
        self._parameters: Dict[str, Any] = {}
        self._descriptors: Dict[str, Any] = {}
        self._callbacks = []
        self._logger = Logger()
        self.lifecycle_state = 'unconfigured'
        self.publishers: Dict[str, Publisher] = {}
        WORLD.nodes.append(self)

    def declare_parameter(self, name, value, descriptor=None):
        self._parameters[name] = self._overrides.get(name, value)
        self._descriptors[name] = descriptor

    def describe_parameter(self, name):
        return self._descriptors[name]

    def get_parameter(self, name):
        return Parameter(name, value=self._parameters[name])

    def add_on_set_parameters_callback(self, callback):
        self._callbacks.append(callback)

    def set_parameters(self, parameters):
        for callback in self._callbacks:
            result = callback(parameters)
            if not result.successful:
                return [result] * len(parameters)
        for parameter in parameters:
            self._parameters[parameter.name] = parameter.value
        return [SetParametersResult(successful=True, reason='')] * len(parameters)

    def get_logger(self):
        return self._logger

    def get_name(self):
        return self._name

    def get_clock(self):
        clock = types.SimpleNamespace()
        clock.now = lambda: types.SimpleNamespace(nanoseconds=0)
        return clock

    def create_lifecycle_publisher(self, message_type, topic, qos):
        self.publishers[topic] = Publisher(topic)
        return self.publishers[topic]

    def destroy_lifecycle_publisher(self, publisher):
        self.publishers.pop(publisher.topic, None)

    def create_service(self, service_type, name, callback):
        return types.SimpleNamespace(name=name, callback=callback)

    def destroy_service(self, service):
        pass

    def create_subscription(self, message_type, topic, callback, qos):
        return types.SimpleNamespace(topic=topic, callback=callback)

    def destroy_subscription(self, subscription):
        pass

    def _transition(self, callback, target):
        result = callback(None)
        if result == TransitionCallbackReturn.SUCCESS:
            self.lifecycle_state = target
        return result

    def trigger_configure(self):
        return self._transition(self.on_configure, 'inactive')

    def trigger_activate(self):
        return self._transition(self.on_activate, 'active')

    def trigger_deactivate(self):
        return self._transition(self.on_deactivate, 'inactive')

    def trigger_cleanup(self):
        return self._transition(self.on_cleanup, 'unconfigured')

    def trigger_shutdown(self):
        return self._transition(self.on_shutdown, 'finalized')

    def on_activate(self, state):
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state):
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self):
        WORLD.record('destroy_node')


class MultiThreadedExecutor:

    def __init__(self):
        self.nodes, self.calls = [], 0

    def add_node(self, node):
        self.nodes.append(node)

    def spin_once(self, timeout_sec=None):
        self.calls += 1
        if WORLD.spin_hook is not None:
            WORLD.spin_hook(self)

    def shutdown(self, timeout_sec=None):
        WORLD.record('executor.shutdown')


class ExternalShutdownException(Exception):
    pass


class SignalHandlerOptions(enum.Enum):
    NO = 0
    SIGINT = 1
    SIGTERM = 2
    ALL = 3


def _init(args=None, context=None, domain_id=None, signal_handler_options=None):
    """Like rclpy.init: by default a SIGINT handler that shuts the context down at once."""
    WORLD.ok = True
    WORLD.init_options = signal_handler_options
    if signal_handler_options in (None, SignalHandlerOptions.ALL, SignalHandlerOptions.SIGINT):
        signal.signal(signal.SIGINT, lambda number, frame: WORLD.shutdown('signal handler'))


def _try_shutdown(context=None):
    if WORLD.ok:
        WORLD.shutdown('try_shutdown')


class TransformBroadcaster:

    def __init__(self, node):
        self.publisher = Publisher('/tf')
        node.publishers['/tf'] = self.publisher

    def sendTransform(self, transforms):  # noqa: N802 (tf2_ros's name)
        self.publisher.publish(transforms)


class Subscriber:

    def __init__(self, node, message_type, topic, qos_profile=None):
        self.sub = node.create_subscription(message_type, topic, None, qos_profile)


class ApproximateTimeSynchronizer:

    def __init__(self, subscribers, queue_size, slop):
        self.callbacks = []

    def registerCallback(self, callback):  # noqa: N802 (message_filters's name)
        self.callbacks.append(callback)


class PackageNotFoundError(KeyError):
    pass


def _no_share_directory(name):
    raise PackageNotFoundError(name)


def modules() -> Dict[str, types.ModuleType]:
    """Return the fake modules by import name (to put into sys.modules)."""
    made = {name: types.ModuleType(name) for name in ROS_MODULES}
    rclpy = made['rclpy']
    rclpy.init, rclpy.ok, rclpy.try_shutdown = _init, lambda context=None: WORLD.ok, \
        _try_shutdown
    rclpy.executors, rclpy.lifecycle = made['rclpy.executors'], made['rclpy.lifecycle']
    rclpy.qos, rclpy.signals = made['rclpy.qos'], made['rclpy.signals']
    made['rclpy.executors'].MultiThreadedExecutor = MultiThreadedExecutor
    made['rclpy.executors'].ExternalShutdownException = ExternalShutdownException
    lifecycle = made['rclpy.lifecycle']
    lifecycle.LifecycleNode, lifecycle.State = LifecycleNode, Message
    lifecycle.TransitionCallbackReturn = TransitionCallbackReturn
    qos = made['rclpy.qos']
    qos.QoSProfile = Message
    qos.qos_profile_sensor_data = Message(reliability='best_effort')
    for enum_name in ('DurabilityPolicy', 'HistoryPolicy', 'ReliabilityPolicy'):
        setattr(qos, enum_name, types.SimpleNamespace(
            KEEP_LAST='keep_last', RELIABLE='reliable', TRANSIENT_LOCAL='transient_local'))
    made['rclpy.signals'].SignalHandlerOptions = SignalHandlerOptions
    interfaces = made['rcl_interfaces.msg']
    for name in ('FloatingPointRange', 'IntegerRange', 'ParameterDescriptor',
                 'SetParametersResult'):
        setattr(interfaces, name, _message_type(name))
    interfaces.ParameterType = types.SimpleNamespace(
        PARAMETER_BOOL=1, PARAMETER_INTEGER=2, PARAMETER_DOUBLE=3, PARAMETER_STRING=4)
    packages = made['ament_index_python.packages']
    packages.get_package_share_directory = _no_share_directory
    packages.PackageNotFoundError = PackageNotFoundError
    made['message_filters'].Subscriber = Subscriber
    made['message_filters'].ApproximateTimeSynchronizer = ApproximateTimeSynchronizer
    made['tf2_ros'].TransformBroadcaster = TransformBroadcaster
    for module, names in (('diagnostic_msgs.msg', ('DiagnosticArray',)),
                          ('sensor_msgs.msg', ('CameraInfo', 'Image', 'PointCloud2')),
                          ('std_srvs.srv', ('SetBool', 'Trigger')),
                          ('vision_msgs.msg', ('Detection2DArray', 'Detection3DArray',
                                               'LabelInfo')),
                          ('visualization_msgs.msg', ('MarkerArray',))):
        for name in names:
            setattr(made[module], name, _message_type(name))
    return made


SetParametersResult = _message_type('SetParametersResult')
