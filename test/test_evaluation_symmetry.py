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

"""Symmetric-mode statistics and the Mollweide map."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.evaluation.symmetry import (about_axis_angles, mollweide, mollweide_figure,
                                             spread_summary, tilt_degrees)


def test_spread_tells_collapsed_from_spread_samples():
    truth = Rotation.from_euler('xyz', [0.3, 0.2, -0.4]).as_matrix()[None]
    angles = np.linspace(-np.pi, np.pi, 50, endpoint=False)
    spread = truth[:, None] @ Rotation.from_euler('y', angles[:, None]).as_matrix()[None]
    collapsed = truth[:, None] @ Rotation.from_euler('y', np.full((50, 1), 0.7)).as_matrix()[None]
    assert about_axis_angles(truth, collapsed) == pytest.approx(np.full((1, 50), 0.7))
    assert spread_summary(truth, spread)['resultant_length'] < 0.01
    assert spread_summary(truth, collapsed)['resultant_length'] == pytest.approx(1.0)
    assert spread_summary(truth, spread)['median_tilt_deg'] == pytest.approx(0.0, abs=1e-6)
    tilted = truth[:, None] @ Rotation.from_euler('x', [[0.1]]).as_matrix()
    assert tilt_degrees(truth, tilted).ravel() == pytest.approx([np.degrees(0.1)])


def test_mollweide_maps_the_sphere_into_its_ellipse(tmp_path):
    lon, lat = np.meshgrid(np.linspace(-np.pi, np.pi, 9), np.linspace(-1.5, 1.5, 7))
    x, y = mollweide(lon.ravel(), lat.ravel())
    assert ((x / 2) ** 2 + y ** 2 <= 1 + 1e-9).all()
    assert mollweide(np.array([np.pi]), np.array([0.0]))[0] == pytest.approx([2.0])
    truth = np.eye(3)[None]
    path = mollweide_figure(truth, {'a': truth[:, None].repeat(3, 1)}, tmp_path / 'm.png')
    assert path.stat().st_size > 0
