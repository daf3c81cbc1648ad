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

"""Step jitter: the estimated frame-to-frame turn against the true one."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.evaluation.stability import JitterTable, step_jitter_deg


def _about_z(degrees):
    return Rotation.from_euler('z', degrees, degrees=True).as_matrix()


def test_static_truth_counts_every_estimated_turn():
    estimated = [_about_z(0), _about_z(10), _about_z(10)]
    assert step_jitter_deg(estimated, [np.eye(3)] * 3) == pytest.approx([10.0, 0.0])


def test_moving_truth_is_not_jitter():
    truth = [_about_z(5 * k) for k in range(4)]
    offset = Rotation.from_rotvec([0.3, 0.1, 0.0]).as_matrix()
    assert step_jitter_deg([r @ offset for r in truth], truth) == pytest.approx([0.0] * 3,
                                                                                abs=1e-6)


def test_table_summarises_per_group():
    table = JitterTable()
    table.add('bowl', [_about_z(0), _about_z(4), _about_z(0)], [np.eye(3)] * 3)
    assert table.summary('bowl')[:2] == (2, pytest.approx(4.0))
    assert table.summary('can')[0] == 0 and math.isnan(table.summary('can')[1])
    with pytest.raises(ValueError):
        table.add('bowl', [np.eye(3)], [])
