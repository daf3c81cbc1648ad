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

"""Log throttling per reason, Python logging into a ROS logger, signal-driven shutdown."""

import logging
import os
import signal

import pytest

from catpose_ros.ros.node_runtime import (LogThrottle, reason_key, route_python_logging,
                                          ShutdownRequest, spin_until_shutdown)


class _Clock:

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class _RosLogger:

    def __init__(self, level=20):
        self.lines, self.level = [], level

    def get_effective_level(self):
        return self.level

    def __getattr__(self, severity):
        return lambda message: self.lines.append((severity, message))


def test_reason_key_ignores_numbers_but_not_words():
    assert reason_key('stale frame: 1.204 s old (max 1.000 s)') == \
        reason_key('stale frame: 37 s old (max 1.000 s)')
    assert reason_key("depth encoding 'rgb8' is not 16UC1") != reason_key('stale frame: 1 s old')


def test_one_reason_does_not_hide_another():
    clock = _Clock()
    throttle = LogThrottle(5.0, clock)
    assert throttle.admit('frame skipped: stale frame: 1.2 s old') is not None
    clock.now += 2.7
    assert throttle.admit('frame skipped: stale frame: 1.9 s old') is None
    assert throttle.admit("frame skipped: depth encoding 'rgb8'") is not None
    clock.now += 2.4
    again = throttle.admit('frame skipped: stale frame: 2.0 s old')
    assert again.startswith('frame skipped: stale frame: 2.0 s old')
    assert '1 more like this' in again


def test_zero_period_throttles_nothing():
    throttle = LogThrottle(0.0, _Clock())
    assert [throttle.admit('same') for _ in range(3)] == ['same'] * 3


def test_python_records_go_to_the_ros_logger_once_and_only_while_routed(capfd):
    ros_logger = _RosLogger()
    core_logger = logging.getLogger('catpose_ros.perception.tracking')
    with route_python_logging(ros_logger):
        core_logger.warning('time went backwards (%.3f s -> %.3f s)', 2.0, 1.0)
        core_logger.debug('below the ROS level: dropped')
        core_logger.error('failed: %s', 'reason')
    core_logger.warning('after routing: Python again')
    assert ros_logger.lines == [('warning', 'time went backwards (2.000 s -> 1.000 s)'),
                                ('error', 'failed: reason')]
    assert 'time went backwards' not in capfd.readouterr().err
    assert logging.getLogger('catpose_ros').propagate


def test_ros_debug_level_lets_core_debug_records_through():
    ros_logger = _RosLogger(level=10)
    with route_python_logging(ros_logger):
        logging.getLogger('catpose_ros.ros').debug('detail')
    assert ros_logger.lines == [('debug', 'detail')]


def test_sigint_stops_the_spin_loop_instead_of_raising():
    request = ShutdownRequest()
    calls = []

    def spin_once(timeout):
        calls.append(timeout)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)

    previous = signal.getsignal(signal.SIGINT)
    with request.on_signals():
        reason = spin_until_shutdown(spin_once, request, lambda: True, period_s=0.05)
    assert reason == 'SIGINT' and len(calls) == 3
    assert signal.getsignal(signal.SIGINT) is previous


def test_second_signal_forces_a_keyboard_interrupt():
    request = ShutdownRequest()
    with request.on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        assert request.requested and request.reason == 'SIGTERM'
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)


def test_spin_loop_ends_when_the_context_goes():
    request = ShutdownRequest()
    ok = iter([True, True, False])
    assert spin_until_shutdown(lambda timeout: None, request, lambda: next(ok)) == \
        'context shut down'
