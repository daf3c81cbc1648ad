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

"""Hand-off of frames from the synchroniser callback to a node's worker thread.

`FrameSlot` keeps only the newest pending frame (a slow worker never builds a queue),
`WorkerGuard` runs one frame so that no exception ends the worker, and `LogRecord` is what a
node core asks the node to log. Both nodes use them; nothing here imports rclpy.
"""

from dataclasses import dataclass
import threading
from typing import Any, Optional, Sequence

from catpose_ros.ros import conversions as conv
from catpose_ros.ros.messages import MessageFactory


@dataclass
class LogRecord:
    """One message for the node's logger: level is debug, info, warn or error."""

    level: str
    message: str


class FrameSlot:
    """Hold the newest pending frame only, so a slow consumer never builds a queue.

    The synchroniser callback `put`s; the processing thread `take`s (or `wait`s). A frame
    replaced before it was taken counts as dropped.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._item: Any = None
        self._has_item = False
        self.dropped = 0

    def put(self, item: Any) -> bool:
        """Store item, replacing any pending one; return True when one was dropped."""
        with self._condition:
            replaced = self._has_item
            self.dropped += int(replaced)
            self._item, self._has_item = item, True
            self._condition.notify()
            return replaced

    def take(self) -> Any:
        """Return the pending item and empty the slot, or None when it is empty."""
        with self._condition:
            item, self._item, self._has_item = self._item, None, False
            return item

    def wait(self, timeout: Optional[float] = None) -> Any:
        """Block until an item is pending (or timeout), then take it."""
        with self._condition:
            self._condition.wait_for(lambda: self._has_item, timeout)
        return self.take()

    def clear(self) -> None:
        """Drop the pending item without counting it."""
        with self._condition:
            self._item, self._has_item = None, False


@dataclass
class FrameFailure:
    """What the worker reports when processing one frame raised: a log line and diagnostics."""

    log: LogRecord
    diagnostics: Any = None


class WorkerGuard:
    """Run one frame at a time so that no exception ends the worker thread.

    The node cores already turn bad input into skips; this guard catches whatever is left
    (publishing, a bug) and returns a FrameFailure with the frame stamp and a running count
    for /diagnostics, so the worker goes on with the next frame.
    """

    def __init__(self, name: str):
        self.name = name
        self.failures = 0

    def run(self, process, frame: Sequence[Any], factory: Optional[MessageFactory] = None
            ) -> Optional[FrameFailure]:
        """Call process(*frame); return None, or a FrameFailure when it raised."""
        try:
            process(*frame)
            return None
        except Exception as error:  # the worker thread must survive any one frame
            self.failures += 1
            text = '%s: %s' % (type(error).__name__, error)
            first = frame[0] if len(frame) else None
            log = LogRecord('error', 'frame %s failed (%d so far), continuing: %s' % (
                frame_stamp_text(first), self.failures, text))
            return FrameFailure(log, self._diagnostics(factory, first, text))

    def _diagnostics(self, factory: Optional[MessageFactory], message: Any, text: str) -> Any:
        if factory is None:
            return None
        try:
            return conv.diagnostics_to_msg(
                factory, diagnostics_header(factory, message), self.name, {},
                {'worker_failures': self.failures, 'last_error': text},
                conv.DIAGNOSTIC_ERROR, 'frame failed: %s' % text)
        except Exception:  # a report must not fail the worker either
            return None


def frame_stamp_text(message: Any) -> str:
    """Return 'sec.nanosec' of a message's header for logs, whatever the stamp holds."""
    try:
        stamp = message.header.stamp
        return '%d.%09d' % (int(stamp.sec), int(stamp.nanosec))
    except (AttributeError, TypeError, ValueError):
        return '(no stamp)'


# An input older than this was not just delayed: its stamps come from another clock, most
# often a recorded bag replayed against the wall clock.
FOREIGN_CLOCK_AGE_S = 3600.0


def stale_frame_reason(now_ns: Optional[int], stamp_ns: int, max_age_s: float) -> Optional[str]:
    """Return why a frame stamped `stamp_ns` is too old at `now_ns`, or None when it is not.

    None for `now_ns` or a non-positive `max_age_s` turns the check off. An age of hours
    names the likely cause, a bag played without simulated time.
    """
    if now_ns is None or max_age_s <= 0 or now_ns - stamp_ns <= max_age_s * 1e9:
        return None
    age_s = (now_ns - stamp_ns) / 1e9
    reason = 'stale frame: %.3f s old (sync.max_input_age_s %.3f s)' % (age_s, max_age_s)
    if age_s > FOREIGN_CLOCK_AGE_S:
        reason += ('; replaying a bag? play it with --clock and launch with '
                   'use_sim_time:=true')
    return reason


def diagnostics_header(factory: MessageFactory, message: Any) -> Any:
    """Return the header diagnostics of a frame carry: the input's, or stamp 0 if unusable."""
    try:
        header = message.header
        return conv.make_header(factory, conv.check_stamp(header.stamp), str(header.frame_id))
    except (AttributeError, TypeError, ValueError):
        return conv.make_header(factory, 0, '')
