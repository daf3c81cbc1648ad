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

"""Whether the score-scaling schedules keep the symmetric modes (the paper's symmetry claim).

For an object symmetric about its y axis every rotation about that axis is a correct answer,
so K samples of a sampler that keeps all modes spread around the axis, while one that
collapses puts them all at one angle. Per schedule we report the mean resultant length of
the about-axis angles (1: all samples at one angle, near 0: spread around the circle) and the
median tilt of the sampled y axis (the part of the error that matters), and draw the
samples' x axes, in the true object frame, on a Mollweide map: a symmetric object's correct
samples lie on the equator.
"""

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import torch

from catpose_ros.geometry.rotation import rotation_6d_to_matrix
from catpose_ros.model.pose_sampler import PoseSampler, SamplerConfig
from catpose_ros.model.posenet import CatPoseNet


def about_axis_angles(rotation_gt: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Angle of each sample [..., K, 3, 3] about the true y axis (radians), ignoring tilt."""
    relative = np.einsum('...ji,...kjl->...kil', rotation_gt, samples)
    return np.arctan2(relative[..., 0, 2], relative[..., 0, 0])


def tilt_degrees(rotation_gt: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Angle between each sample's y axis and the true one, in degrees."""
    cosine = np.einsum('...i,...ki->...k', rotation_gt[..., :, 1], samples[..., :, 1])
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


@torch.inference_mode()
def sample_rotations(model: CatPoseNet, features: torch.Tensor, config: SamplerConfig,
                     count: int, seed: int = 0) -> np.ndarray:
    """Return `count` sampled rotations per object, [B, count, 3, 3]."""
    sampler = PoseSampler(model.sde, SamplerConfig.from_dict(dict(
        config.to_dict(), num_candidates=count, aggregation='first')))
    generator = torch.Generator(features.device).manual_seed(seed)
    candidates = sampler.sample(model.score, features, generator=generator).candidates
    return rotation_6d_to_matrix(candidates[..., :6]).double().cpu().numpy()


def spread_summary(rotation_gt: np.ndarray, samples: np.ndarray) -> Dict[str, float]:
    """Mean resultant length of the about-axis angles and the median tilt, over objects."""
    angles = about_axis_angles(rotation_gt, samples)
    resultant = np.abs(np.exp(1j * angles).mean(-1))
    return {'resultant_length': float(resultant.mean()),
            'median_tilt_deg': float(np.median(tilt_degrees(rotation_gt, samples)))}


def mollweide(longitude: np.ndarray, latitude: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Project (radians) onto the Mollweide plane, x in [-2, 2] and y in [-1, 1]."""
    theta = latitude.copy()
    for _ in range(20):  # Newton on 2 theta + sin 2 theta = pi sin(latitude)
        step = (2 * theta + np.sin(2 * theta) - np.pi * np.sin(latitude)) / (
            2 + 2 * np.cos(2 * theta) + 1e-12)
        theta = theta - step
    return 2 * longitude * np.cos(theta) / np.pi, np.sin(theta)


def _panel(directions: np.ndarray, title: str, size: Tuple[int, int] = (360, 200)
           ) -> np.ndarray:
    width, height = size
    image = np.full((height + 24, width, 3), 255, np.uint8)
    outline = np.linspace(-np.pi / 2, np.pi / 2, 100)
    for lon in (-np.pi, np.pi):
        x, y = mollweide(np.full_like(outline, lon), outline)
        points = np.stack(((x + 2) / 4 * (width - 1), (1 - y) / 2 * (height - 1) + 24), -1)
        cv2.polylines(image, [points.astype(np.int32)], False, (120, 120, 120), 1)
    cv2.line(image, (0, 24 + height // 2), (width - 1, 24 + height // 2), (200, 200, 200), 1)
    longitude = np.arctan2(directions[:, 2], directions[:, 0])
    latitude = np.arcsin(np.clip(directions[:, 1], -1, 1))
    x, y = mollweide(longitude, latitude)
    for u, v in zip((x + 2) / 4 * (width - 1), (1 - y) / 2 * (height - 1) + 24):
        cv2.circle(image, (int(u), int(v)), 2, (200, 60, 30), -1, cv2.LINE_AA)
    cv2.putText(image, title, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                cv2.LINE_AA)
    return image


def mollweide_figure(rotation_gt: np.ndarray, samples_by_schedule: Dict[str, np.ndarray],
                     path: Path) -> Path:
    """Draw each schedule's sampled x axes in the true object frame, one panel each."""
    panels = []
    for name, samples in samples_by_schedule.items():
        local = np.einsum('bji,bkjl->bkil', rotation_gt, samples)[..., :, 0]
        panels.append(_panel(local.reshape(-1, 3), name))
    rows = [np.hstack(panels[i:i + 2]) if len(panels[i:i + 2]) == 2
            else np.hstack((panels[i], np.full_like(panels[i], 255)))
            for i in range(0, len(panels), 2)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows))
    return path


def symmetry_experiment(model: CatPoseNet, features: torch.Tensor, rotation_gt: np.ndarray,
                        schedules: Sequence[Tuple[str, SamplerConfig]], count: int = 50,
                        seed: int = 0) -> Tuple[List[Tuple[str, Dict[str, float]]],
                                                Dict[str, np.ndarray]]:
    """Sample `count` rotations per symmetric object under each schedule and summarise."""
    rows, samples = [], {}
    for name, config in schedules:
        samples[name] = sample_rotations(model, features, config, count, seed)
        rows.append((name, spread_summary(rotation_gt, samples[name])))
    return rows, samples
