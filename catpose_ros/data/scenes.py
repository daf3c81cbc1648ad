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

"""Synthetic tabletop scenes: objects, clutter, viewpoints, sequences and their frames.

World frame: z up, the table top is the plane z = 0 centred on the origin, the floor lies
`TABLE_HEIGHT_M` below. `Frame.camera_pose` is the camera -> world transform (OpenCV optical
camera axes). Distractors (boxes, cylinders, blobs of no category) are drawn with mask value 0,
like the table: they are clutter, never in `Frame.objects`. Objects with fewer than
`min_visible_pixels` valid depth pixels are dropped from `Frame.objects` and their mask
pixels set to 0 (NOCS's rule), so mask ids and annotations always agree.
"""

from dataclasses import dataclass, field, replace
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from catpose_ros.categories import category_names
from catpose_ros.data import render as rd
from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.data.sensor import apply_depth_noise, degrade_mask, SensorConfig
from catpose_ros.data.shapes import box, cylinder, Mesh, sample_instance, ShapeInstance
from catpose_ros.data.shapes import superellipsoid
from catpose_ros.geometry.camera import CameraIntrinsics

TABLE_HEIGHT_M = 0.75
# Object y axis -> world z (upright); object y -> world x with x -> world z (lying).
UPRIGHT = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
LYING = np.array([[0.0, 1, 0], [0, 0, 1], [1, 0, 0]])
ROLLING_CATEGORIES = ('bottle', 'can')


@dataclass
class SceneConfig:
    """How scenes are drawn: content, placement and camera viewpoints."""

    split: str = 'train'
    categories: Tuple[str, ...] = field(default_factory=category_names)
    min_objects: int = 3
    max_objects: int = 6
    max_per_category: int = 2
    min_distractors: int = 0
    max_distractors: int = 4
    table_size_m: Tuple[float, float] = (0.9, 1.8)
    placement_radius_m: float = 0.32
    min_gap_m: float = 0.01
    lying_probability: float = 0.1
    elevation_deg: Tuple[float, float] = (20.0, 70.0)
    distance_m: Tuple[float, float] = (0.5, 1.2)
    roll_deg: float = 5.0
    look_at_jitter_m: float = 0.08
    min_visible_pixels: int = 64
    handle_min_pixels: int = 20


@dataclass
class SceneObject:
    """One annotated object: its model, pose object -> world and look."""

    instance_id: int
    shape: ShapeInstance
    pose: np.ndarray
    appearance: rd.Appearance
    footprint_radius: float


@dataclass
class Distractor:
    """Unannotated clutter: a metric mesh, its pose -> world and look."""

    mesh: Mesh
    pose: np.ndarray
    appearance: rd.Appearance
    footprint_radius: float


@dataclass
class Scene:
    """A static tabletop arrangement plus its table, floor and light."""

    objects: List[SceneObject]
    distractors: List[Distractor]
    table_size: np.ndarray
    table_appearance: rd.Appearance
    floor_appearance: rd.Appearance
    light: rd.Light
    config: SceneConfig
    scene_id: str = ''


def rotation_z(angle: float) -> np.ndarray:
    """Rotate about the world z axis (radians)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def _pose(rotation: np.ndarray, translation) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, translation
    return pose


def _choose_categories(config: SceneConfig, rng: np.random.Generator) -> List[str]:
    pool = [c for c in config.categories for _ in range(config.max_per_category)]
    count = int(rng.integers(config.min_objects, config.max_objects + 1))
    if count > len(pool):
        raise ValueError('cannot place %d objects with at most %d per category of %s'
                         % (count, config.max_per_category, config.categories))
    return [pool[i] for i in rng.choice(len(pool), count, replace=False)]


def _place(radius: float, placed: List[Tuple[np.ndarray, float]], config: SceneConfig,
           rng: np.random.Generator, tries: int = 200) -> Optional[np.ndarray]:
    """Find a table position whose footprint disc overlaps no placed one."""
    for _ in range(tries):
        r = config.placement_radius_m * np.sqrt(rng.random())
        angle = rng.uniform(0, 2 * np.pi)
        xy = np.array([r * np.cos(angle), r * np.sin(angle)])
        if all(np.linalg.norm(xy - p) >= radius + q + config.min_gap_m for p, q in placed):
            return xy
    return None


def _object_pose(shape: ShapeInstance, xy: np.ndarray, lying: bool, yaw: float) -> np.ndarray:
    if lying:
        return _pose(rotation_z(yaw) @ LYING, [xy[0], xy[1], shape.size[0] / 2])
    return _pose(rotation_z(yaw) @ UPRIGHT, [xy[0], xy[1], shape.size[1] / 2])


def _footprint(shape: ShapeInstance, lying: bool) -> float:
    size = shape.size
    return 0.5 * float(np.hypot(size[1], size[2]) if lying else np.hypot(size[0], size[2]))


def _object_appearance(category: str, num_parts: int, rng: np.random.Generator):
    appearance = rd.random_appearance(rng, num_parts)
    if category in ('can', 'bottle') and rng.random() < 0.6:
        appearance.pattern = 'band'
    return appearance


def _distractor_mesh(rng: np.random.Generator) -> Tuple[Mesh, float]:
    """Draw a clutter mesh (metres, centred) and its height."""
    kind = rng.integers(3)
    if kind == 0:
        half = rng.uniform(0.015, 0.08, 3)
        return box(half), 2 * half[1]
    if kind == 1:
        radius, height = rng.uniform(0.015, 0.05), rng.uniform(0.03, 0.2)
        return cylinder(radius, height, 20), height
    half = rng.uniform(0.02, 0.06, 3)
    return superellipsoid(half, tuple(rng.uniform(0.3, 1.0, 2)), rings=10, segments=16), \
        2 * half[1]


def _distractor(mesh: Mesh, height: float, xy: np.ndarray, yaw: float,
                rng: np.random.Generator) -> Distractor:
    # Clutter meshes are modelled y up like objects; stand them on the table.
    return Distractor(mesh, _pose(rotation_z(yaw) @ UPRIGHT, [xy[0], xy[1], height / 2]),
                      rd.random_appearance(rng), _mesh_footprint(mesh))


def _mesh_footprint(mesh: Mesh) -> float:
    return 0.5 * float(np.hypot(*np.ptp(mesh.vertices[:, [0, 2]], axis=0)))


def _random_light(rng: np.random.Generator) -> rd.Light:
    azimuth, elevation = rng.uniform(0, 2 * np.pi), rng.uniform(np.deg2rad(30), np.deg2rad(85))
    direction = np.array([np.cos(elevation) * np.cos(azimuth),
                          np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
    return rd.Light(direction, rng.uniform(0.45, 0.95), rng.uniform(0.15, 0.45),
                    1 - rng.uniform(0, 0.15, 3))


def generate_scene(config: SceneConfig, rng: np.random.Generator, scene_id: str = '') -> Scene:
    """Draw a tabletop scene: categories, instances, non-overlapping placements, clutter."""
    placed: List[Tuple[np.ndarray, float]] = []
    objects: List[SceneObject] = []
    for category in _choose_categories(config, rng):
        shape = sample_instance(category, rng, config.split)
        lying = category in ROLLING_CATEGORIES and rng.random() < config.lying_probability
        radius = _footprint(shape, lying)
        xy = _place(radius, placed, config, rng)
        if xy is None:
            continue
        placed.append((xy, radius))
        pose = _object_pose(shape, xy, lying, rng.uniform(0, 2 * np.pi))
        objects.append(SceneObject(len(objects) + 1, shape, pose,
                                   _object_appearance(category, len(shape.part_names), rng),
                                   radius))
    distractors = []
    for _ in range(int(rng.integers(config.min_distractors, config.max_distractors + 1))):
        mesh, height = _distractor_mesh(rng)
        radius = _mesh_footprint(mesh)
        xy = _place(radius, placed, replace(config, placement_radius_m=config.placement_radius_m
                                            * 1.4), rng)
        if xy is not None:
            placed.append((xy, radius))
            distractors.append(_distractor(mesh, height, xy, rng.uniform(0, 2 * np.pi), rng))
    table = rd.random_appearance(rng, frequency=(3.0, 30.0))
    floor = rd.random_appearance(rng, frequency=(1.0, 8.0))
    table_size = rng.uniform(*config.table_size_m, 2)
    return Scene(objects, distractors, table_size, table, floor, _random_light(rng), config,
                 scene_id)


def look_at(eye: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """Return the camera -> world pose of an OpenCV camera at eye looking at target (z up)."""
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-9:
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward], 1)
    c, s = np.cos(roll), np.sin(roll)
    rotation = rotation @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    return _pose(rotation, eye)


def _orbit_pose(target: np.ndarray, azimuth: float, elevation: float, distance: float,
                roll: float) -> np.ndarray:
    eye = target + distance * np.array([np.cos(elevation) * np.cos(azimuth),
                                        np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
    return look_at(eye, target, roll)


def _scene_centre(scene: Scene) -> np.ndarray:
    if not scene.objects:
        return np.zeros(3)
    centre = np.mean([o.pose[:3, 3] for o in scene.objects], axis=0)
    return np.array([centre[0], centre[1], 0.03])


def sample_camera_pose(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Draw a viewpoint looking down at the table (camera -> world)."""
    cfg = scene.config
    jitter = rng.uniform(-cfg.look_at_jitter_m, cfg.look_at_jitter_m, 2)
    target = _scene_centre(scene) + [jitter[0], jitter[1], 0.0]
    return _orbit_pose(target, rng.uniform(0, 2 * np.pi),
                       np.deg2rad(rng.uniform(*cfg.elevation_deg)), rng.uniform(*cfg.distance_m),
                       np.deg2rad(rng.uniform(-cfg.roll_deg, cfg.roll_deg)))


def camera_trajectory(scene: Scene, num_frames: int, rng: np.random.Generator
                      ) -> List[np.ndarray]:
    """Smooth handheld-like arc around the static scene, as in REAL275's test videos."""
    if num_frames < 1:
        raise ValueError('num_frames must be positive, got %d' % num_frames)
    cfg = scene.config
    el_lo, el_hi = np.deg2rad(cfg.elevation_deg)
    d_lo, d_hi = cfg.distance_m
    t = np.linspace(0, 1, num_frames)
    ease = 0.5 - 0.5 * np.cos(np.pi * t)
    azimuth = rng.uniform(0, 2 * np.pi) + rng.choice([-1, 1]) * rng.uniform(
        np.deg2rad(40), np.deg2rad(120)) * ease
    el0 = rng.uniform(el_lo + 0.1 * (el_hi - el_lo), el_hi - 0.1 * (el_hi - el_lo))
    elevation = np.clip(el0 + 0.1 * (el_hi - el_lo) * np.sin(2 * np.pi * t + rng.uniform(0, 6)),
                        el_lo, el_hi)
    d0 = rng.uniform(d_lo + 0.1 * (d_hi - d_lo), d_hi - 0.1 * (d_hi - d_lo))
    distance = d0 + 0.08 * (d_hi - d_lo) * np.sin(2 * np.pi * t + rng.uniform(0, 6))
    roll = np.deg2rad(cfg.roll_deg) * np.sin(2 * np.pi * t * rng.uniform(0.5, 1.5)
                                             + rng.uniform(0, 6))
    centre = _scene_centre(scene)
    drift = rng.uniform(-1, 1, 3) * [cfg.look_at_jitter_m, cfg.look_at_jitter_m, 0]
    return [_orbit_pose(centre + drift * np.sin(np.pi * ti), a, e, d, r)
            for ti, a, e, d, r in zip(t, azimuth, elevation, distance, roll)]


def _clearance(scene: Scene, index: int) -> float:
    """Free distance around object `index` to every other footprint."""
    obj = scene.objects[index]
    others = [(o.pose[:3, 3], o.footprint_radius) for i, o in enumerate(scene.objects)
              if i != index] + [(d.pose[:3, 3], d.footprint_radius) for d in scene.distractors]
    gaps = [np.linalg.norm((obj.pose[:3, 3] - p)[:2]) - obj.footprint_radius - r
            for p, r in others]
    return max(0.0, min(gaps, default=0.2))


def moving_objects_sequence(scene: Scene, num_frames: int, rng: np.random.Generator,
                            max_shift_m: float = 0.1, max_yaw_deg: float = 60.0
                            ) -> List[Scene]:
    """Return one scene per frame in which objects slide and turn smoothly on the table.

    Each object stays within half its clearance of its start, so no two objects can meet.
    """
    if num_frames < 1:
        raise ValueError('num_frames must be positive, got %d' % num_frames)
    t = np.linspace(0, 1, num_frames)
    motions = []
    for index in range(len(scene.objects)):
        amplitude = min(max_shift_m, 0.5 * _clearance(scene, index))
        heading = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.cos(heading), np.sin(heading), 0])
        phase, cycles = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 1.0)
        shift = amplitude * (np.sin(2 * np.pi * cycles * t + phase) - np.sin(phase)) / 2
        yaw = np.deg2rad(rng.uniform(-max_yaw_deg, max_yaw_deg)) * np.sin(np.pi * t * cycles)
        motions.append((direction, shift, yaw))
    frames = []
    for k in range(num_frames):
        objects = []
        for obj, (direction, shift, yaw) in zip(scene.objects, motions):
            pose = obj.pose.copy()
            pose[:3, :3] = rotation_z(yaw[k]) @ obj.pose[:3, :3]
            pose[:3, 3] = obj.pose[:3, 3] + direction * shift[k]
            objects.append(replace(obj, pose=pose))
        frames.append(replace(scene, objects=objects))
    return frames


def _planes(scene: Scene, world_to_camera: np.ndarray) -> List[rd.Plane]:
    rotation, translation = world_to_camera[:3, :3], world_to_camera[:3, 3]
    ex, ey = rotation[:, 0], rotation[:, 1]
    table = rd.Plane(translation, ex, ey, scene.table_appearance,
                     tuple(float(s) / 2 for s in scene.table_size))
    floor = rd.Plane(rotation @ [0, 0, -TABLE_HEIGHT_M] + translation, ex, ey,
                     scene.floor_appearance)
    return [table, floor]


def _items(scene: Scene, world_to_camera: np.ndarray) -> List[rd.RenderItem]:
    items = [rd.RenderItem(o.shape.metric_vertices, o.shape.faces, world_to_camera @ o.pose,
                           o.shape.vertices + 0.5, o.appearance, o.shape.parts)
             for o in scene.objects]
    for d in scene.distractors:
        extent = np.ptp(d.mesh.vertices, axis=0).max()
        items.append(rd.RenderItem(d.mesh.vertices, d.mesh.faces, world_to_camera @ d.pose,
                                   d.mesh.vertices / extent + 0.5, d.appearance, d.mesh.parts))
    return items


def _handle_visible(scene_object: SceneObject, item_map: np.ndarray, part_map: np.ndarray,
                    item_index: int, min_pixels: int) -> bool:
    if 'handle' not in scene_object.shape.part_names:
        return True
    handle = scene_object.shape.part_id('handle')
    return int(((item_map == item_index) & (part_map == handle)).sum()) >= min_pixels


def render_frame(scene: Scene, camera_pose: np.ndarray, intrinsics: CameraIntrinsics,
                 sensor_config: Optional[SensorConfig], rng: np.random.Generator,
                 frame_id: str = '') -> Frame:
    """Render one view of a scene with ground truth; camera_pose is camera -> world."""
    sensor_config = sensor_config or SensorConfig.noiseless()
    world_to_camera = np.linalg.inv(camera_pose)
    light = replace(scene.light, direction=world_to_camera[:3, :3] @ scene.light.direction)
    out = rd.render(_items(scene, world_to_camera), intrinsics, _planes(scene, world_to_camera),
                    light, rng)
    depth = apply_depth_noise(out.depth, sensor_config.depth, rng, intrinsics, out.color,
                              out.normal)
    mask = np.zeros(out.depth.shape, np.uint8)
    coord = np.zeros(out.depth.shape + (3,), np.float32)
    annotations = []
    for index, obj in enumerate(scene.objects):
        pixels = out.item == index
        if int((pixels & (depth > 0)).sum()) < scene.config.min_visible_pixels:
            continue
        mask[pixels] = obj.instance_id
        coord[pixels] = out.coords[pixels]
        pose = world_to_camera @ obj.pose
        annotations.append(ObjectAnnotation(
            obj.instance_id, obj.shape.category, pose[:3, :3].copy(), pose[:3, 3].copy(),
            obj.shape.size.copy(),
            _handle_visible(obj, out.item, out.part, index, scene.config.handle_min_pixels),
            obj.shape.model_id))
    mask = degrade_mask(mask, sensor_config.mask, rng)
    return Frame(out.color, depth, mask, intrinsics, annotations, np.clip(coord, 0, 1),
                 camera_pose.copy(), frame_id)


def render_sequence(scenes: Union[Scene, Sequence[Scene]], camera_poses: Sequence[np.ndarray],
                    intrinsics: CameraIntrinsics, sensor_config: Optional[SensorConfig],
                    rng: np.random.Generator) -> Iterator[Frame]:
    """Yield the frames of a sequence: one static scene, or one scene per camera pose."""
    if isinstance(scenes, Scene):
        scenes = [scenes] * len(camera_poses)
    if len(scenes) != len(camera_poses):
        raise ValueError('got %d scenes for %d camera poses' % (len(scenes), len(camera_poses)))
    for index, (scene, pose) in enumerate(zip(scenes, camera_poses)):
        yield render_frame(scene, pose, intrinsics, sensor_config, rng,
                           '%s/%04d' % (scene.scene_id, index))
