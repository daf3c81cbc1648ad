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

"""Depth-sensor noise and segmenter-like mask degradation, each switchable per effect.

Depth (in the order applied): flying pixels mixed between foreground and background at depth
edges; axial Gaussian noise sigma(z) = a + b (z - 0.4)^2 (Nguyen et al. 2012, Kinect); the
disparity quantisation of a structured-light sensor (baseline, 1/8 px sub-pixel steps);
missing pixels at depth edges, on dark surfaces and at grazing angles, plus random speckles;
the working range; millimetre steps. Masks: random erosion / dilation, boundary bleeding into
neighbours or background, and small holes. Everything is deterministic given the rng.
"""

from dataclasses import dataclass, field
import functools
from typing import Optional

import cv2
import numpy as np

from catpose_ros.geometry.camera import CameraIntrinsics


@dataclass
class DepthNoiseConfig:
    """Switches and parameters of the depth noise model (distances in metres)."""

    enabled: bool = True
    flying_pixels: bool = True
    flying_probability: float = 0.5
    axial_noise: bool = True
    axial_sigma_base: float = 0.0012
    axial_sigma_quadratic: float = 0.0019
    quantisation: bool = True
    baseline_m: float = 0.075
    subpixel: float = 1.0 / 8.0
    edge_dropout: bool = True
    edge_threshold_m: float = 0.02
    edge_dropout_probability: float = 0.6
    dark_dropout: bool = True
    dark_threshold: float = 0.05
    dark_dropout_probability: float = 0.5
    grazing_dropout: bool = True
    grazing_angle_deg: float = 78.0
    grazing_dropout_probability: float = 0.7
    speckle_probability: float = 0.002
    min_depth_m: float = 0.15
    max_depth_m: float = 4.0
    millimetre_steps: bool = True


@dataclass
class MaskNoiseConfig:
    """Switches and parameters of the mask degradation (pixel units)."""

    enabled: bool = True
    erode_dilate_probability: float = 0.6
    max_kernel: int = 4
    bleed_probability: float = 0.4
    bleed_px: int = 4
    hole_probability: float = 0.3
    max_holes: int = 3
    max_hole_radius: int = 4


@dataclass
class SensorConfig:
    """Depth noise (on by default) and mask degradation (off: Frame.mask is ground truth)."""

    depth: DepthNoiseConfig = field(default_factory=DepthNoiseConfig)
    mask: MaskNoiseConfig = field(default_factory=lambda: MaskNoiseConfig(enabled=False))

    @classmethod
    def noiseless(cls) -> 'SensorConfig':
        """Return a config with every effect off."""
        return cls(DepthNoiseConfig(enabled=False), MaskNoiseConfig(enabled=False))


def _local_extremes(depth: np.ndarray):
    """3x3 neighbourhood max and min of valid (non-zero) depth."""
    kernel = np.ones((3, 3), np.uint8)
    far = cv2.dilate(depth, kernel)
    near = cv2.erode(np.where(depth > 0, depth, np.float32(1e6)), kernel)
    return far, np.where(near >= 1e6, 0, near).astype(np.float32)


def axial_sigma(depth: np.ndarray, config: DepthNoiseConfig) -> np.ndarray:
    """Return the standard deviation of the axial noise at each depth (grows with z^2)."""
    return config.axial_sigma_base + config.axial_sigma_quadratic * (depth - 0.4) ** 2


def apply_depth_noise(depth: np.ndarray, config: DepthNoiseConfig, rng: np.random.Generator,
                      intrinsics: CameraIntrinsics, color: Optional[np.ndarray] = None,
                      normal: Optional[np.ndarray] = None) -> np.ndarray:
    """Turn a clean depth map (metres, 0 = none) into a sensor-like one.

    color (H, W, 3 uint8) drives dropout on dark surfaces and normal (H, W, 3, camera frame)
    dropout at grazing angles; each is skipped when not given.
    """
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError('depth must be a 2-D array, got shape %s' % (depth.shape,))
    if not config.enabled:
        return depth.copy()
    valid = depth > 0
    far, near = _local_extremes(depth)
    edges = valid & (far - near > config.edge_threshold_m)
    out = depth.copy()
    if config.flying_pixels:
        fly = np.flatnonzero(edges & (rng.random(depth.shape) < config.flying_probability))
        alpha = rng.uniform(0.1, 0.9, len(fly)).astype(np.float32)
        flat = out.reshape(-1)
        flat[fly] = near.reshape(-1)[fly] + alpha * (far - near).reshape(-1)[fly]
    if config.axial_noise:
        noise = rng.standard_normal(depth.shape, dtype=np.float32)
        out = out + noise * axial_sigma(out, config).astype(np.float32)
    if config.quantisation:
        out = _quantise_disparity(out, intrinsics.fx * config.baseline_m, config.subpixel)
    # One uniform draw per pixel serves every dropout cause (each has its own threshold).
    chance = rng.random(depth.shape, dtype=np.float32)
    drop = chance < config.speckle_probability
    if config.edge_dropout:
        band = cv2.dilate(edges.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        drop |= band & (chance < config.edge_dropout_probability)
    if config.dark_dropout and color is not None:
        luma = cv2.cvtColor(np.ascontiguousarray(color, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
        drop |= (luma < config.dark_threshold * 255) & (
            chance < config.dark_dropout_probability)
    if config.grazing_dropout and normal is not None:
        drop |= _grazing(normal, intrinsics, config) & (
            chance < config.grazing_dropout_probability)
    out[drop | ~valid] = 0
    out[(out < config.min_depth_m) | (out > config.max_depth_m)] = 0
    if config.millimetre_steps:
        out = np.round(out * 1000.0) / 1000.0
    return out.astype(np.float32)


def _quantise_disparity(depth: np.ndarray, focal_baseline: float, step: float) -> np.ndarray:
    """Round depth to the disparity steps of a structured-light sensor."""
    with np.errstate(divide='ignore'):
        disparity = np.where(depth > 0, focal_baseline / depth, 0)
    disparity = np.round(disparity / step) * step
    with np.errstate(divide='ignore'):
        return np.where(disparity > 0, focal_baseline / disparity, 0).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _unit_rays(intrinsics: CameraIntrinsics) -> np.ndarray:
    v, u = np.mgrid[0:intrinsics.height, 0:intrinsics.width].astype(np.float32)
    ray = np.stack([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy,
                    np.ones_like(u)], -1)
    ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
    ray.setflags(write=False)
    return ray


def _grazing(normal: np.ndarray, intrinsics: CameraIntrinsics,
             config: DepthNoiseConfig) -> np.ndarray:
    """Pixels whose surface is seen at more than the grazing angle from its normal."""
    normal = normal.astype(np.float32, copy=False)
    cos = np.abs(np.einsum('hwc,hwc->hw', _unit_rays(intrinsics), normal))
    has_normal = np.einsum('hwc,hwc->hw', normal, normal) > 0
    return has_normal & (cos < np.cos(np.deg2rad(config.grazing_angle_deg)))


def degrade_mask(mask: np.ndarray, config: MaskNoiseConfig,
                 rng: np.random.Generator) -> np.ndarray:
    """Make a ground-truth instance mask (0 = background) look like a segmenter's output."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError('mask must be a 2-D array, got shape %s' % (mask.shape,))
    if not config.enabled:
        return mask.copy()
    out = mask.copy()
    for instance in np.unique(mask[mask > 0]):
        region = (mask == instance).astype(np.uint8)
        region = _erode_or_dilate(region, config, rng)
        region = _bleed(region, config, rng)
        region = _holes(region, config, rng)
        out[(out == instance) & (region == 0)] = 0
        # Grown pixels take the instance's id, in front of neighbours and background alike.
        out[region > 0] = instance
    return out


def _kernel(rng: np.random.Generator, max_size: int) -> np.ndarray:
    size = int(rng.integers(2, max(3, max_size + 1)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def _erode_or_dilate(region: np.ndarray, config: MaskNoiseConfig,
                     rng: np.random.Generator) -> np.ndarray:
    if rng.random() >= config.erode_dilate_probability:
        return region
    kernel = _kernel(rng, config.max_kernel)
    return cv2.erode(region, kernel) if rng.random() < 0.5 else cv2.dilate(region, kernel)


def _bleed(region: np.ndarray, config: MaskNoiseConfig, rng: np.random.Generator) -> np.ndarray:
    """Grow the region on one random side only, like a segmenter leaking over an edge."""
    if rng.random() >= config.bleed_probability or not region.any():
        return region
    grown = cv2.dilate(region, _kernel(rng, 2 * config.bleed_px))
    ys, xs = np.nonzero(region)
    angle = rng.uniform(0, 2 * np.pi)
    height, width = region.shape
    v, u = np.mgrid[0:height, 0:width]
    side = (u - xs.mean()) * np.cos(angle) + (v - ys.mean()) * np.sin(angle) > 0
    return np.where(side, grown, region).astype(np.uint8)


def _holes(region: np.ndarray, config: MaskNoiseConfig, rng: np.random.Generator) -> np.ndarray:
    if rng.random() >= config.hole_probability or not region.any():
        return region
    ys, xs = np.nonzero(region)
    region = region.copy()
    for _ in range(int(rng.integers(1, config.max_holes + 1))):
        k = int(rng.integers(len(ys)))
        cv2.circle(region, (int(xs[k]), int(ys[k])),
                   int(rng.integers(1, config.max_hole_radius + 1)), 0, -1)
    return region
