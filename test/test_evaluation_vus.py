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

"""Omni6DPose VUS: the accuracy surface, its mean, and symmetry-calibrated rotation error."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.evaluation.vus import (accuracy_surface, calibrated_rotation_error,
                                        symmetry_rotations, volume_under_surface,
                                        vus_by_category)


def test_surface_counts_errors_strictly_below_the_cell_midpoints():
    surface = accuracy_surface([0.0, 2.5], [0.0, 1.0], 5.0, 2.0, 0.05, 0.02)
    assert surface.shape == (100, 100)
    assert surface[0, 0] == 0.5                      # (0.025 deg, 0.01 cm): only the exact one
    assert surface[-1, -1] == 1.0
    assert surface[49, 60] == 0.5 and surface[50, 60] == 1.0  # 2.475 < 2.5 < 2.525


def test_vus_of_perfect_and_of_failed_objects():
    assert volume_under_surface([0.0], [0.0]) == pytest.approx(
        {'5deg2cm': 100.0, '5deg5cm': 100.0, '10deg2cm': 100.0, '10deg5cm': 100.0})
    assert all(v == 0.0 for v in volume_under_surface([np.inf], [np.inf]).values())


def test_vus_is_the_mean_of_the_surface_for_a_known_error():
    # Rotation 2.5 deg, no translation error: accuracy is 1 for half of the degree cells.
    assert volume_under_surface([2.5], [0.0])['5deg2cm'] == pytest.approx(50.0)
    assert volume_under_surface([2.5], [0.0])['10deg5cm'] == pytest.approx(75.0)


def test_vus_averages_categories_not_objects():
    result = vus_by_category([0.0, 0.0, 100.0], [0.0, 0.0, 100.0], ['can', 'can', 'mug'])
    assert result['can']['5deg2cm'] == 100.0 and result['mug']['5deg2cm'] == 0.0
    assert result['mean']['5deg2cm'] == pytest.approx(50.0)


def test_calibrated_rotation_error_follows_the_symmetry_label():
    truth = Rotation.from_euler('xyz', [10, 20, 30], degrees=True).as_matrix()
    spun = truth @ Rotation.from_euler('y', 90, degrees=True).as_matrix()
    assert calibrated_rotation_error(spun, truth) == pytest.approx(90.0)
    assert calibrated_rotation_error(spun, truth, symmetry_rotations(y='any')) == \
        pytest.approx(0.0, abs=1e-5)
    assert calibrated_rotation_error(spun, truth, symmetry_rotations(y='quarter')) == \
        pytest.approx(0.0, abs=1e-5)
    assert calibrated_rotation_error(spun, truth, symmetry_rotations(y='half')) == \
        pytest.approx(90.0)
    assert calibrated_rotation_error(spun, truth, any_rotation=True) == 0.0
    assert len(symmetry_rotations(x='half', y='any')) == 200
