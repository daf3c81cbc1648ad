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

"""Fixtures shared by several test files: the node modules over a fake rclpy."""

import importlib
import importlib.util
import signal
import sys

import pytest

NODE_MODULES = ('catpose_ros.ros.lifecycle_node', 'catpose_ros.ros.pose_node',
                'catpose_ros.ros.segmentation_node')


@pytest.fixture
def fake_ros(monkeypatch):
    """Import the rclpy node modules over test/fake_rclpy.py; yield (world, modules).

    Skipped where a real rclpy is installed: there test_ros_nodes.py runs the real thing.
    """
    if importlib.util.find_spec('rclpy') is not None:
        pytest.skip('a real rclpy is installed; the fake would shadow it')
    import fake_rclpy
    fake_rclpy.WORLD.__init__()
    for name, module in fake_rclpy.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    for name in NODE_MODULES:
        sys.modules.pop(name, None)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield fake_rclpy.WORLD, {name.rsplit('.', 1)[1]: importlib.import_module(name)
                                 for name in NODE_MODULES}
    finally:
        for name in NODE_MODULES:
            sys.modules.pop(name, None)
        for number, handler in handlers.items():
            signal.signal(number, handler)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """Save a tiny random pose model (a test module may define its own fixture)."""
    from support import save_tiny_checkpoint
    return save_tiny_checkpoint(tmp_path_factory.mktemp('model') / 'random.pt')


@pytest.fixture(scope='module')
def estimator(checkpoint):
    """Load that checkpoint as the pose node would, with fast parameters."""
    from support import FAST_PARAMS

    from catpose_ros.ros.params import CatposeParams
    from catpose_ros.ros.pose_pipeline import load_estimator
    return load_estimator(CatposeParams.from_dict(dict(FAST_PARAMS, **{
        'model.checkpoint': str(checkpoint)})))
