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

"""Shared by several test files: the one tiny model, random checkpoints, synthetic frames."""

from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from catpose_ros.categories import category_names
from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.model.posenet import ModelConfig
from catpose_ros.ros import conversions as conv

# The tiny network of every test that needs a model but not its accuracy (fast on a CPU).
TINY = ModelConfig(num_points=64, sa_npoints=(32, 16, 8, None),
                   sa_mlps=(((8, 8, 8), (8, 8, 8)), ((8, 8, 8), (8, 8, 8)),
                            ((8, 8, 8), (8, 8, 8)), ((8, 8, 16), (8, 8, 16))),
                   regression_hidden=16, time_embed_dim=16, pose_hidden=16, head_hidden=16)
STAMP_NS = 1_700_000_000_000_000_000
PERIOD_NS = 33_333_333
FRAME_ID = 'camera_color_optical_frame'
HEIGHT, WIDTH = 120, 160
INTRINSICS = CameraIntrinsics(150.0, 150.0, 80.0, 60.0, WIDTH, HEIGHT)
TINY_POINTS = 128
# Parameters that keep a CPU frame in tens of milliseconds.
# A random model jumps between frames; GenPose's small warm-start noise keeps its tracks.
FAST_PARAMS = {'model.device': 'cpu', 'model.num_points': TINY_POINTS, 'sampler.steps': 3,
               'sampler.track_t0': 0.15}
# (label value, category, rows, cols, depth in mm)
OBJECTS = ((1, 'mug', (20, 50), (20, 60), 700), (2, 'bowl', (60, 100), (90, 140), 800))


def save_tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    """Save a randomly initialised, deliberately small CatPoseNet (same code path as real)."""
    import torch

    from catpose_ros.model.checkpoint import save_checkpoint
    from catpose_ros.model.posenet import CatPoseNet
    torch.manual_seed(seed)
    config = replace(TINY, num_points=TINY_POINTS)
    return save_checkpoint(path, CatPoseNet(config), config)


def synthetic_frame(index: int = 0, shift: int = 0, objects=OBJECTS) -> Frame:
    """Return a table at 1 m with box-shaped objects, moved `shift` pixels to the right."""
    depth = np.full((HEIGHT, WIDTH), 1000, np.uint16)
    mask = np.zeros((HEIGHT, WIDTH), np.uint16)
    annotations = []
    for label, category, (r0, r1), (c0, c1), millimetres in objects:
        rows, cols = slice(r0, r1), slice(c0 + shift, c1 + shift)
        depth[rows, cols] = millimetres
        mask[rows, cols] = label
        centre_px = np.array([(c0 + c1) / 2.0 + shift, (r0 + r1) / 2.0])
        z = max(millimetres, 1) / 1000.0
        centre = np.array([(centre_px[0] - INTRINSICS.cx) * z / INTRINSICS.fx,
                           (centre_px[1] - INTRINSICS.cy) * z / INTRINSICS.fy, z + 0.04])
        annotations.append(ObjectAnnotation(label, category, np.eye(3), centre,
                                            np.array([0.08, 0.08, 0.08])))
    color = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    color[mask > 0] = 200
    return Frame(color=color, depth=depth, mask=mask, intrinsics=INTRINSICS,
                 objects=annotations, frame_id='frame_%d' % index)


def frame_messages(factory, index: int = 0, shift: int = 0, objects=OBJECTS,
                   stamp_ns: int = None):
    """Return (depth, camera_info, instances, detections) messages of a synthetic frame."""
    frame = synthetic_frame(index, shift, objects)
    stamp_ns = STAMP_NS + index * PERIOD_NS if stamp_ns is None else stamp_ns

    def header():
        return conv.make_header(factory, stamp_ns, FRAME_ID)

    records = []
    for label, category, (r0, r1), (c0, c1), _ in objects:
        records.append(conv.Detection2DRecord(label, category, 0.9,
                                              (c0 + shift, r0, c1 + shift, r1)))
    return (conv.numpy_to_image(factory, frame.depth, '16UC1', header()),
            conv.intrinsics_to_camera_info(factory, frame.intrinsics, header()),
            conv.numpy_to_image(factory, frame.mask, 'mono16', header()),
            conv.detections_to_detection2d_array(factory, records, header()))


def fail_first_frames(core, failures: int) -> None:
    """Make core.process raise RuntimeError for its first `failures` frames, then work."""
    real_process, calls = core.process, []

    def process(*args, **kwargs):
        calls.append(1)
        if len(calls) <= failures:
            raise RuntimeError('injected failure')
        return real_process(*args, **kwargs)

    core.process = process


# The camera of face_frame: small images keep data tests fast.
FACE_INTRINSICS = CameraIntrinsics(120.0, 120.0, 64.0, 48.0, 128, 96)


def face_frame(seed: int, num_objects: int = 2) -> Frame:
    """Depth of the camera-facing face of each object's box (a plane inside the box)."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:FACE_INTRINSICS.height, 0:FACE_INTRINSICS.width]
    camera = FACE_INTRINSICS
    rays = np.stack(((u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones(u.shape)),
                    axis=-1)
    depth = np.zeros(u.shape, np.float32)
    mask = np.zeros(u.shape, np.uint8)
    objects = []
    for k in range(num_objects):
        rotation = (Rotation.from_euler('z', rng.uniform(-180, 180), degrees=True)
                    * Rotation.from_euler('xy', rng.uniform(-20, 20, 2), degrees=True))
        rotation = rotation.as_matrix()
        size = rng.uniform(0.08, 0.2, 3)
        translation = np.array([(-0.15 if k == 0 else 0.15), rng.uniform(-0.05, 0.05),
                                rng.uniform(0.6, 0.9)])
        normal = rotation[:, 2]
        centre = translation - 0.4 * size[2] * normal
        depth_along = (centre @ normal) / (rays @ normal)
        local = (rays * depth_along[..., None] - translation) @ rotation
        hit = (np.abs(local[..., 0]) < 0.45 * size[0]) & (np.abs(local[..., 1]) < 0.45 * size[1])
        depth[hit] = depth_along[hit]
        mask[hit] = k + 1
        objects.append(ObjectAnnotation(k + 1, category_names()[int(rng.integers(6))], rotation,
                                        translation, size, handle_visible=bool(k % 2)))
    color = rng.integers(0, 256, depth.shape + (3,), dtype=np.uint8)
    return Frame(color, depth, mask, FACE_INTRINSICS, objects, frame_id='face%d' % seed)
