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


"""Depth noise and mask degradation: switches, growth with depth, edges, determinism."""

from dataclasses import replace

import numpy as np
import pytest

from catpose_ros.data.sensor import apply_depth_noise, axial_sigma, degrade_mask
from catpose_ros.data.sensor import DepthNoiseConfig, MaskNoiseConfig, SensorConfig
from catpose_ros.geometry.camera import NOCS_REAL_INTRINSICS

INTR = NOCS_REAL_INTRINSICS.scaled(160, 120)
ALL_OFF = DepthNoiseConfig(flying_pixels=False, axial_noise=False, quantisation=False,
                           edge_dropout=False, dark_dropout=False, grazing_dropout=False,
                           speckle_probability=0.0, millimetre_steps=False)


def _step_depth(near: float = 0.6, far: float = 1.0) -> np.ndarray:
    depth = np.full((120, 160), far, np.float32)
    depth[:, :80] = near
    return depth


def test_noiseless_config_returns_the_clean_depth():
    depth = _step_depth()
    config = SensorConfig.noiseless()
    out = apply_depth_noise(depth, config.depth, np.random.default_rng(0), INTR)
    np.testing.assert_array_equal(out, depth)
    assert not config.mask.enabled
    mask = np.zeros((120, 160), np.uint8)
    mask[30:60, 40:90] = 3
    np.testing.assert_array_equal(degrade_mask(mask, config.mask, np.random.default_rng(0)),
                                  mask)


def test_axial_noise_grows_with_depth():
    config = replace(ALL_OFF, axial_noise=True)
    rng = np.random.default_rng(0)
    spreads = []
    for z in (0.5, 1.0, 2.0):
        depth = np.full((120, 160), z, np.float32)
        spreads.append(float(np.std(apply_depth_noise(depth, config, rng, INTR) - z)))
    assert spreads[0] < spreads[1] < spreads[2]
    assert spreads[2] == pytest.approx(float(axial_sigma(np.float32(2.0), config)), rel=0.1)


def test_quantisation_steps_grow_with_depth():
    config = replace(ALL_OFF, quantisation=True)
    rng = np.random.default_rng(0)
    steps = []
    for z in (0.5, 1.5):
        depth = np.linspace(z, z + 0.05, 120 * 160, dtype=np.float32).reshape(120, 160)
        levels = np.unique(apply_depth_noise(depth, config, rng, INTR))
        assert len(levels) < 200
        steps.append(np.median(np.diff(levels)))
    assert steps[1] > 5 * steps[0]


def test_edge_dropout_and_flying_pixels_stay_at_depth_edges():
    depth = _step_depth()
    dropped = apply_depth_noise(depth, replace(ALL_OFF, edge_dropout=True,
                                               edge_dropout_probability=1.0),
                                np.random.default_rng(0), INTR)
    assert np.all(dropped[:, 78:82] == 0)
    assert np.all(dropped[:, :76] == 0.6) and np.all(dropped[:, 84:] == 1.0)
    flying = apply_depth_noise(depth, replace(ALL_OFF, flying_pixels=True,
                                              flying_probability=1.0),
                               np.random.default_rng(0), INTR)
    changed = flying != depth
    assert changed.any() and np.all(np.nonzero(changed)[1] >= 78)
    assert np.all(np.nonzero(changed)[1] <= 81)
    assert np.all((flying[changed] > 0.6) & (flying[changed] < 1.0))


def test_dark_and_grazing_surfaces_lose_depth():
    depth = np.full((120, 160), 0.8, np.float32)
    color = np.full((120, 160, 3), 200, np.uint8)
    color[:, :40] = 5
    normal = np.zeros((120, 160, 3), np.float32)
    normal[..., 2] = -1
    # Right part: surfaces parallel to the viewing ray (normal perpendicular to it).
    ray_x = (np.arange(160) - INTR.cx) / INTR.fx
    side = np.stack([np.ones(160), np.zeros(160), -ray_x], 1)
    normal[:, 120:] = (side / np.linalg.norm(side, axis=1, keepdims=True))[120:]
    config = replace(ALL_OFF, dark_dropout=True, dark_dropout_probability=1.0,
                     grazing_dropout=True, grazing_dropout_probability=1.0)
    out = apply_depth_noise(depth, config, np.random.default_rng(0), INTR, color, normal)
    assert np.all(out[:, :40] == 0) and np.all(out[:, 120:] == 0)
    assert np.all(out[:, 40:120] == pytest.approx(0.8))


def test_default_noise_is_deterministic_and_keeps_most_pixels():
    depth = _step_depth()
    first = apply_depth_noise(depth, DepthNoiseConfig(), np.random.default_rng(5), INTR)
    second = apply_depth_noise(depth, DepthNoiseConfig(), np.random.default_rng(5), INTR)
    np.testing.assert_array_equal(first, second)
    assert 0.9 < (first > 0).mean() < 1.0
    away = np.ones(depth.shape, bool)
    away[:, 76:84] = False
    kept = (first > 0) & away
    assert np.abs(first[kept] - depth[kept]).max() < 0.02
    assert np.allclose(first * 1000, np.round(first * 1000), atol=1e-3)


def test_mask_degradation_changes_boundaries_but_keeps_instances():
    mask = np.zeros((120, 160), np.uint8)
    mask[20:80, 20:70] = 1
    mask[40:100, 90:150] = 2
    config = MaskNoiseConfig(erode_dilate_probability=1.0, bleed_probability=1.0,
                             hole_probability=1.0)
    out = degrade_mask(mask, config, np.random.default_rng(1))
    np.testing.assert_array_equal(out, degrade_mask(mask, config, np.random.default_rng(1)))
    assert (out != mask).any()
    for instance in (1, 2):
        a, b = mask == instance, out == instance
        assert (a & b).sum() / (a | b).sum() > 0.7


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError):
        apply_depth_noise(np.zeros((2, 3, 4)), DepthNoiseConfig(), np.random.default_rng(0),
                          INTR)
    with pytest.raises(ValueError):
        degrade_mask(np.zeros(5), MaskNoiseConfig(), np.random.default_rng(0))
