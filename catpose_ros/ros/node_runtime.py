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

"""What the rclpy nodes need around rclpy, kept ROS-free so it is tested without ROS.

- `LogThrottle`: one warning throttle per reason, so one frequent skip reason never hides
  another (rclpy throttles per call site, and all skips are logged from one line).
- `route_python_logging`: records of the package's Python `logging` go to the node's ROS
  logger (one line per event, with the node's name, severity and /rosout), not to stderr.
- `ShutdownRequest`, `spin_until_shutdown`: SIGINT / SIGTERM only ask the spin loop to stop.
  rclpy's own handlers would shut the context down at once, while the worker thread may
  still be publishing; the node instead stops and joins its worker, then shuts down.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field
import logging
import re
import signal
import threading
import time
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

PACKAGE_LOGGER = 'catpose_ros'
_NUMBER = re.compile(r'[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?')


def reason_key(message: str) -> str:
    """Return the message with its numbers masked: what makes two messages one reason.

    'stale frame: 1.204 s old' and 'stale frame: 3.9 s old' share a key; a wrong encoding
    ('rgb8') and a size mismatch do not.
    """
    return _NUMBER.sub('#', message)


@dataclass
class _ReasonState:
    last_emitted: float
    suppressed: int = 0


@dataclass
class LogThrottle:
    """Allow a message at most once per `period_s` for each reason (`reason_key`).

    `admit` returns None while the reason is throttled, else the text to log, which says how
    many messages of that reason were held back since it was last logged.
    """

    period_s: float
    clock: Callable[[], float] = time.monotonic
    _reasons: Dict[str, _ReasonState] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, message: str) -> Optional[str]:
        """Return the text to log now for this message, or None when it is throttled."""
        if self.period_s <= 0:
            return message
        key, now = reason_key(message), self.clock()
        with self._lock:
            state = self._reasons.get(key)
            if state is not None and now - state.last_emitted < self.period_s:
                state.suppressed += 1
                return None
            held_back = state.suppressed if state is not None else 0
            self._reasons[key] = _ReasonState(now)
        if held_back:
            return '%s (%d more like this in the last %.0f s)' % (message, held_back,
                                                                  self.period_s)
        return message


class RosLogHandler(logging.Handler):
    """A logging.Handler that writes each record to a ROS logger (rclpy's RcutilsLogger)."""

    def __init__(self, ros_logger: Any):
        super().__init__()
        self.ros_logger = ros_logger
        self.setFormatter(logging.Formatter('%(message)s'))

    def emit(self, record: logging.LogRecord) -> None:
        """Send one record at its severity (rclpy levels share Python's numbers)."""
        try:
            text = self.format(record)
            if record.levelno >= logging.CRITICAL:
                self.ros_logger.fatal(text)
            elif record.levelno >= logging.ERROR:
                self.ros_logger.error(text)
            elif record.levelno >= logging.WARNING:
                self.ros_logger.warning(text)
            elif record.levelno >= logging.INFO:
                self.ros_logger.info(text)
            else:
                self.ros_logger.debug(text)
        except Exception:  # a log call must never raise (the stdlib handlers do the same)
            self.handleError(record)


@contextmanager
def route_python_logging(ros_logger: Any, logger_name: str = PACKAGE_LOGGER) -> Iterator[Any]:
    """Send the package's Python log records to ros_logger only, while the block runs.

    The Python logger stops propagating (no second, raw line on stderr) and takes the ROS
    logger's level, so `--log-level debug` also shows the core's debug records.
    """
    logger = logging.getLogger(logger_name)
    handler = RosLogHandler(ros_logger)
    saved = (logger.level, logger.propagate)
    level = _ros_level(ros_logger)
    if level is not None:
        logger.setLevel(level)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _ros_level(ros_logger: Any) -> Optional[int]:
    getter = getattr(ros_logger, 'get_effective_level', None)
    if getter is None:
        return None
    level = int(getattr(getter(), 'value', getter()))
    return level if level > 0 else None


class ShutdownRequest:
    """Set by SIGINT / SIGTERM (or by `request`); the spin loop polls it.

    A second signal while a shutdown is already under way raises KeyboardInterrupt, so a
    user can still force a stuck process down.
    """

    def __init__(self):
        self._event = threading.Event()
        self.reason = ''

    @property
    def requested(self) -> bool:
        """Whether a shutdown was asked for."""
        return self._event.is_set()

    def request(self, reason: str) -> None:
        """Ask the spin loop to stop (the first reason is kept)."""
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until a shutdown is requested (or timeout); return whether it was."""
        return self._event.wait(timeout)

    @contextmanager
    def on_signals(self, signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM)):
        """Install the handlers for the with-block (main thread only), then restore them."""
        previous = {number: signal.signal(number, self._handle) for number in signals}
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _handle(self, number: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.request(signal.Signals(number).name)


def spin_until_shutdown(spin_once: Callable[[float], None], request: ShutdownRequest,
                        ok: Callable[[], bool], period_s: float = 0.1) -> str:
    """Spin in slices of period_s until a shutdown is requested or the context ends.

    Short slices let a signal handler run promptly (Python runs handlers between slices).
    Returns why the loop stopped.
    """
    while not request.requested:
        if not ok():
            return 'context shut down'
        spin_once(period_s)
    return request.reason
