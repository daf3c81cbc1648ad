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

"""The rclpy nodes' own wiring over a fake rclpy (test/fake_rclpy.py), where ROS is absent.

Shutdown order on Ctrl-C and on lifecycle shutdown, the parameter callback on an active
node, one log throttle per reason, and the core's Python logging in the node's logger.
"""

import os
import signal
import threading
import time

import numpy as np
import pytest
from support import (fail_first_frames, FAST_PARAMS, frame_messages, HEIGHT,
                     save_tiny_checkpoint, WIDTH)

from catpose_ros.perception.instances import Instance
from catpose_ros.ros import conversions as conv
from catpose_ros.ros.messages import RosbagsFactory

FACTORY = RosbagsFactory('jazzy')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp('fake_ros') / 'tiny.pt')


@pytest.fixture
def thread_errors(monkeypatch):
    """Collect exceptions that escape any thread (what prints 'Exception in thread')."""
    errors = []
    monkeypatch.setattr(threading, 'excepthook', lambda args: errors.append(args.exc_value))
    return errors


@pytest.fixture
def pose_world(fake_ros, monkeypatch, checkpoint):
    world, modules = fake_ros
    monkeypatch.setattr(modules['pose_node'], 'RclpyFactory', lambda: FACTORY)
    world.overrides = dict(FAST_PARAMS, **{'model.checkpoint': str(checkpoint),
                                           'sync.max_input_age_s': 0.0})
    return world, modules


class _OneBlobSegmenter:
    """Finds one 'can' in the middle of any image (the segmentation node's model, faked)."""

    categories = ['can']

    def segment(self, rgb, depth=None):
        time.sleep(0.02)
        mask = np.zeros(rgb.shape[:2], bool)
        mask[40:80, 60:100] = True
        return [Instance(1, 'can', mask, 0.9, (60, 40, 100, 80))]


@pytest.fixture
def segmentation_world(fake_ros, monkeypatch):
    world, modules = fake_ros
    module = modules['segmentation_node']
    core_class = module.SegmentationNodeCore
    monkeypatch.setattr(module.SegmentationNodeCore, 'from_params', classmethod(
        lambda cls, params, factory, share_dir=None: core_class(
            params, _OneBlobSegmenter(), FACTORY)))
    world.overrides = {'model.device': 'cpu', 'sync.max_input_age_s': 0.0}
    return world, modules


def _rgb_frame(index):
    header = conv.make_header(FACTORY, 1_700_000_000_000_000_000 + index * 33_333_333, 'cam')
    rgb = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    depth = np.full((HEIGHT, WIDTH), 800, np.uint16)
    return (conv.numpy_to_image(FACTORY, rgb, 'rgb8', header),
            conv.numpy_to_image(FACTORY, depth, '16UC1', header))


def _interrupt_while_frames_flow(world, make_frame, topic, give_up_after=300):
    """Feed a frame on every spin slice; once outputs flow, send SIGINT (as Ctrl-C does)."""
    def hook(executor):
        node = executor.nodes[0]
        node.synchronizer.callbacks[0](*make_frame(executor.calls))
        time.sleep(0.03)
        flowing = node.publishers[topic].messages or executor.calls >= give_up_after
        if flowing and not node.shutdown_request.requested:
            os.kill(os.getpid(), signal.SIGINT)
    world.spin_hook = hook


def _assert_clean_shutdown(world, errors, published):
    assert world.init_options.name == 'NO'
    assert not world.publish_errors and not errors
    steps = [event if isinstance(event, str) else event[0] for event in world.events]
    assert steps == ['executor.shutdown', 'destroy_node', 'try_shutdown']
    assert world.events[-1] == ('try_shutdown', [])  # no worker alive when the context goes
    assert published


def test_ctrl_c_while_frames_flow_stops_the_pose_worker_first(pose_world, thread_errors):
    world, modules = pose_world
    _interrupt_while_frames_flow(world, lambda index: frame_messages(FACTORY, index),
                                 '~/detections')
    modules['pose_node'].main([])
    node = world.nodes[0]
    _assert_clean_shutdown(world, thread_errors, node.publishers['~/detections'].messages)
    assert ('info', 'shutting down: SIGINT') in node.get_logger().lines


def test_ctrl_c_while_frames_flow_stops_the_segmentation_worker_first(segmentation_world,
                                                                      thread_errors):
    world, modules = segmentation_world
    _interrupt_while_frames_flow(world, _rgb_frame, '~/instances')
    modules['segmentation_node'].main([])
    _assert_clean_shutdown(world, thread_errors,
                           world.nodes[0].publishers['~/instances'].messages)


@pytest.mark.parametrize('kind', ['pose', 'segmentation'])
def test_lifecycle_shutdown_ends_the_process_cleanly(kind, request, thread_errors):
    world, modules = request.getfixturevalue(kind + '_world')
    module = modules[kind + '_node']
    node = module.PoseNode() if kind == 'pose' else module.SegmentationNode()
    make_frame = (lambda i: frame_messages(FACTORY, i)) if kind == 'pose' else _rgb_frame

    def hook(executor):
        node.synchronizer.callbacks[0](*make_frame(executor.calls))
        time.sleep(0.03)
        if executor.calls == 4:
            node.trigger_shutdown()
    world.spin_hook = hook
    world.ok = True
    modules['lifecycle_node'].spin(node)
    assert node.lifecycle_state == 'finalized'
    assert node.shutdown_request.reason == 'lifecycle shutdown'
    assert not world.publish_errors and not thread_errors
    assert world.events[-1] == ('try_shutdown', [])


def _active_pose_node(modules):
    node = modules['pose_node'].PoseNode()
    assert node.trigger_configure().name == 'SUCCESS'
    assert node.trigger_activate().name == 'SUCCESS'
    node.stop_worker()  # frames go straight to process_frame below
    node._running.set()
    return node


def _set(node, name, value):
    import fake_rclpy
    return node.set_parameters([fake_rclpy.Parameter(name, value=value)])[0]


def test_param_set_on_an_active_node_applies_at_once_or_says_why_not(pose_world):
    world, modules = pose_world
    node = _active_pose_node(modules)
    assert _set(node, 'output.publish_debug_cloud', True).successful
    node.process_frame(*frame_messages(FACTORY, 0))
    assert node.publishers['~/debug/cloud'].messages
    assert _set(node, 'output.publish_tf', False).successful
    node.process_frame(*frame_messages(FACTORY, 1))
    assert len(node.publishers['/tf'].messages) == 1
    refused = _set(node, 'model.device', 'cuda')
    assert not refused.successful and 'requires reconfigure' in refused.reason
    assert 'requires reconfigure' in node.describe_parameter('model.device').additional_constraints
    assert 'apply at once' in node.describe_parameter('output.publish_tf').additional_constraints
    assert node.get_parameter('model.device').value == 'cpu'
    assert not _set(node, 'tracking.max_translation_jump_m', 0.0).successful
    assert node.core.params.tracking.max_translation_jump_m == 0.1
    assert 'applied output.publish_tf=False' in [line for _, line in node.get_logger().lines]
    node.trigger_deactivate()
    node.trigger_cleanup()
    assert _set(node, 'model.device', 'cuda').successful


def test_each_skip_reason_reaches_the_log(pose_world):
    world, modules = pose_world
    node = _active_pose_node(modules)
    no_stamp = frame_messages(FACTORY, 0, stamp_ns=0)
    node.process_frame(*no_stamp)
    node.process_frame(*frame_messages(FACTORY, 1, stamp_ns=0))
    depth, info, instances, detections = frame_messages(FACTORY, 2)
    rgb_depth = conv.numpy_to_image(FACTORY, np.zeros((HEIGHT, WIDTH, 3), np.uint8), 'rgb8',
                                    depth.header)
    node.process_frame(rgb_depth, info, instances, detections)
    warnings = [line for level, line in node.get_logger().lines if level == 'warn']
    assert len(warnings) == 2
    assert 'zero stamp' in warnings[0] and 'rgb8' in warnings[1]


def test_time_going_back_is_one_line_in_the_node_log(pose_world, capfd):
    world, modules = pose_world
    node = _active_pose_node(modules)
    node.process_frame(*frame_messages(FACTORY, 5))
    node.process_frame(*frame_messages(FACTORY, 0))
    lines = [line for _, line in node.get_logger().lines if 'backwards' in line]
    assert len(lines) == 1 and 'dropping 2 tracks' in lines[0]
    assert 'backwards' not in capfd.readouterr().err
    node.destroy_node()


def test_the_worker_survives_frames_that_raise_and_reports_them(pose_world, monkeypatch,
                                                                thread_errors):
    world, modules = pose_world
    monkeypatch.setattr(modules['lifecycle_node'], 'RclpyFactory', lambda: FACTORY)
    node = modules['pose_node'].PoseNode()
    assert node.trigger_configure().name == 'SUCCESS'
    fail_first_frames(node.core, 2)
    assert node.trigger_activate().name == 'SUCCESS'
    detections = node.publishers['~/detections'].messages
    try:
        for index in range(100):
            node.synchronizer.callbacks[0](*frame_messages(FACTORY, index))
            time.sleep(0.05)
            if detections:
                break
        assert detections, 'the worker stopped after a failed frame'
    finally:
        node.trigger_deactivate()
    errors = [line for level, line in node.get_logger().lines if level == 'error']
    assert len(errors) == 2 and all('injected failure' in line for line in errors)
    failures = [conv.diagnostics_to_dict(m).get('catpose_pose', {}).get('worker_failures')
                for m in node.publishers['/diagnostics'].messages]
    assert '2' in failures
    assert not thread_errors
