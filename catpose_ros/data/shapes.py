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

"""Procedural triangle meshes of the six NOCS categories, in the NOCS canonical frame.

Every mesh is closed (or its open ends are buried inside another part) with outward-facing
triangles, so the renderer may cull back faces. Canonical frame (as NOCS): y up along the
symmetry axis; mug handle towards +x; laptop hinge along x at the back (-z), keyboard facing
+y and the user at +z; camera lens looking towards +z. Vertices are centred on the tight box
and divided by its diagonal, so they fit the unit cube; `size` holds the metric extents.

Train / test disjointness: an instance is fully determined by (category, split, index). Its
parameters come from `numpy.random.SeedSequence((_ENTROPY, class_id, split_key, index))`,
with a different `split_key` per split, so the train and test libraries are drawn from
independent streams that share no seed; the model ids also carry the split
('bottle-test-0007'). `sample_instance` draws an index of the requested split's library.
"""

from dataclasses import dataclass, field
import functools
from typing import Callable, Dict, Tuple

import numpy as np

from catpose_ros.categories import category_by_name

_ENTROPY = 0x6361_7470_6F73  # fixed salt of every shape seed
SPLIT_KEYS = {'train': 1, 'test': 2, 'val': 3}
# val: unseen instances for every tuning choice; test: unseen instances for the final figures.
LIBRARY_SIZE = {'train': 2000, 'test': 200, 'val': 200}
SEGMENTS = 40

# Metric range of one reference dimension per category (metres) and which dimension it is.
METRIC_RANGES: Dict[str, Tuple[str, float, float]] = {
    'bottle': ('height', 0.15, 0.30),
    'bowl': ('width', 0.10, 0.20),
    'can': ('height', 0.08, 0.15),
    'mug': ('width', 0.08, 0.13),
    'laptop': ('width', 0.25, 0.40),
    'camera': ('width', 0.08, 0.15),
}


@dataclass
class Mesh:
    """A triangle mesh with one part label per face."""

    vertices: np.ndarray
    faces: np.ndarray
    parts: np.ndarray = None

    def __post_init__(self):
        self.vertices = np.asarray(self.vertices, dtype=np.float64)
        self.faces = np.asarray(self.faces, dtype=np.int64)
        if self.parts is None:
            self.parts = np.zeros(len(self.faces), dtype=np.int64)

    def transformed(self, rotation: np.ndarray, translation=(0.0, 0.0, 0.0)) -> 'Mesh':
        """Return the mesh moved by p -> R p + t."""
        return Mesh(self.vertices @ np.asarray(rotation).T + np.asarray(translation),
                    self.faces, self.parts)


@dataclass
class ShapeInstance:
    """One object model: canonical normalised mesh plus its metric extents."""

    category: str
    vertices: np.ndarray
    faces: np.ndarray
    size: np.ndarray
    model_id: str
    parts: np.ndarray
    part_names: Tuple[str, ...] = ('body',)
    params: Dict[str, float] = field(default_factory=dict)

    @property
    def scale(self) -> float:
        """NOCS scale: metric diagonal of the tight box (canonical vertices times it = metres)."""
        return float(np.linalg.norm(self.size))

    @property
    def metric_vertices(self) -> np.ndarray:
        """Vertices in metres in the object frame."""
        return self.vertices * self.scale

    def part_id(self, name: str) -> int:
        """Return the face label of a named part, e.g. 'handle'."""
        return self.part_names.index(name)


def merge(*meshes: Mesh) -> Mesh:
    """Concatenate meshes into one, keeping each face's part label."""
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return Mesh(np.concatenate([m.vertices for m in meshes]),
                np.concatenate([m.faces + o for m, o in zip(meshes, offsets)]),
                np.concatenate([m.parts for m in meshes]))


def signed_volume(mesh: Mesh) -> float:
    """Volume enclosed by a closed mesh; positive when its faces point outwards."""
    v = mesh.vertices[mesh.faces]
    return float(np.einsum('ij,ij->i', v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0)


def orient_outward(mesh: Mesh) -> Mesh:
    """Flip every face of a closed mesh if it is wound inwards."""
    if signed_volume(mesh) < 0:
        return Mesh(mesh.vertices, mesh.faces[:, ::-1].copy(), mesh.parts)
    return mesh


def closed_grid(rings: np.ndarray, bottom: np.ndarray, top: np.ndarray, part: int = 0) -> Mesh:
    """Mesh a stack of closed rings (R, S, 3) capped by a bottom and a top pole vertex."""
    num_rings, segments = rings.shape[:2]
    vertices = np.concatenate([bottom[None], rings.reshape(-1, 3), top[None]])
    ring = np.arange(segments)
    nxt = (ring + 1) % segments
    faces = [np.stack([np.zeros(segments, int), 1 + nxt, 1 + ring], 1)]
    for r in range(num_rings - 1):
        a, b = 1 + r * segments, 1 + (r + 1) * segments
        faces.append(np.stack([a + ring, a + nxt, b + nxt], 1))
        faces.append(np.stack([a + ring, b + nxt, b + ring], 1))
    last, top_index = 1 + (num_rings - 1) * segments, len(vertices) - 1
    faces.append(np.stack([last + ring, last + nxt, np.full(segments, top_index)], 1))
    mesh = Mesh(vertices, np.concatenate(faces))
    mesh.parts[:] = part
    return orient_outward(mesh)


def lathe(profile: np.ndarray, segments: int = SEGMENTS, part: int = 0) -> Mesh:
    """Revolve a (r, y) profile about y; its first and last points lie on the axis (r = 0).

    The profile runs from the bottom pole to the top pole through the solid's outline (for
    hollow objects: up the outside, over the rim and down the inside), so the result is closed.
    """
    profile = np.asarray(profile, dtype=np.float64)
    if profile[0, 0] != 0 or profile[-1, 0] != 0 or np.any(profile[1:-1, 0] <= 0):
        raise ValueError('a lathe profile must start and end on the axis and stay off it between')
    theta = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    r, y = profile[1:-1, 0:1], profile[1:-1, 1:2]
    rings = np.stack([r * np.cos(theta), np.broadcast_to(y, r.shape[:1] + theta.shape),
                      r * np.sin(theta)], -1)
    return closed_grid(rings, np.array([0, profile[0, 1], 0.0]),
                       np.array([0, profile[-1, 1], 0.0]), part)


def _signed_pow(x: np.ndarray, e: float) -> np.ndarray:
    return np.sign(x) * np.abs(x) ** e


def superellipsoid(half: np.ndarray, roundness: Tuple[float, float], centre=(0.0, 0.0, 0.0),
                   rings: int = 16, segments: int = 24, part: int = 0) -> Mesh:
    """Mesh a rounded box of half extents `half`: roundness near 0 is boxy, 1 an ellipsoid."""
    e1, e2 = roundness
    eta = np.linspace(-np.pi / 2, np.pi / 2, rings + 2)[1:-1, None]
    omega = np.linspace(-np.pi, np.pi, segments, endpoint=False)[None]
    ce, se = _signed_pow(np.cos(eta), e1), _signed_pow(np.sin(eta), e1)
    x = half[0] * ce * _signed_pow(np.cos(omega), e2)
    z = half[2] * ce * _signed_pow(np.sin(omega), e2)
    y = np.broadcast_to(half[1] * se, x.shape)
    grid = np.stack([x, y, z], -1) + np.asarray(centre)
    return closed_grid(grid, np.asarray(centre) + [0, -half[1], 0],
                       np.asarray(centre) + [0, half[1], 0], part)


def box(half: np.ndarray, centre=(0.0, 0.0, 0.0), part: int = 0) -> Mesh:
    """Axis-aligned box with separate vertices per side (flat shading), faces outwards."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    vertices, faces = [], []
    for q in quads:
        base = len(vertices)
        vertices.extend(corners[list(q)] * half + centre)
        faces.extend([(base, base + 1, base + 2), (base, base + 2, base + 3)])
    return orient_outward(Mesh(np.array(vertices), np.array(faces), np.full(len(faces), part)))


def cylinder(radius: float, height: float, segments: int = 24, part: int = 0) -> Mesh:
    """Mesh a closed cylinder along y, centred on the origin."""
    h = height / 2
    return lathe([[0, -h], [radius, -h], [radius, h], [0, h]], segments, part)


def _smooth_step(t: np.ndarray) -> np.ndarray:
    return t * t * (3 - 2 * t)


def _bottle(rng: np.random.Generator) -> Tuple[Mesh, Dict[str, float], Tuple[str, ...]]:
    p = {'width_ratio': rng.uniform(0.22, 0.45), 'body': rng.uniform(0.35, 0.65),
         'shoulder': rng.uniform(0.08, 0.3), 'neck_radius': rng.uniform(0.25, 0.5),
         'neck': rng.uniform(0.06, 0.2), 'shoulder_shape': rng.uniform(0.4, 2.5),
         'waist': rng.uniform(0.0, 0.12), 'cap': rng.uniform(0.0, 0.1),
         'cap_flare': rng.uniform(1.0, 1.25), 'base_bevel': rng.uniform(0.02, 0.12)}
    y_body, y_neck = p['body'], p['body'] + p['shoulder']
    y_top = y_neck + p['neck']
    radius = p['width_ratio'] * (y_top + p['cap']) / 2
    neck_r = radius * p['neck_radius']
    pts = [[0, 0], [radius * (1 - p['base_bevel']), 0]]
    for t in np.linspace(0, 1, 10)[1:]:
        waist = 1 - p['waist'] * np.sin(np.pi * t) ** 2
        pts.append([radius * waist if t > 0.05 else radius, y_body * t])
    for t in np.linspace(0, 1, 10)[1:]:
        s = _smooth_step(t) ** (1 / p['shoulder_shape'])
        pts.append([radius + (neck_r - radius) * s, y_body + p['shoulder'] * t])
    pts.append([neck_r, y_top])
    if p['cap'] > 0.02:
        cap_r = neck_r * p['cap_flare']
        pts += [[cap_r, y_top], [cap_r, y_top + p['cap']]]
        y_top += p['cap']
        neck_r = cap_r
    pts += [[neck_r * 0.9, y_top], [0, y_top]]
    return lathe(np.array(pts)), p, ('body',)


def _bowl(rng: np.random.Generator) -> Tuple[Mesh, Dict[str, float], Tuple[str, ...]]:
    p = {'height': rng.uniform(0.3, 0.6), 'base': rng.uniform(0.3, 0.6),
         'curve': rng.uniform(0.5, 2.0), 'thickness': rng.uniform(0.02, 0.05),
         'foot': rng.uniform(0.0, 0.06), 'rim': rng.uniform(0.0, 0.03)}
    radius, h, th = 0.5, p['height'], p['thickness']
    base_r = radius * p['base']
    t = np.linspace(0, 1, 14)
    wall_r = base_r + (radius - base_r) * np.sin(np.pi / 2 * t) ** p['curve']
    wall_y = p['foot'] + (h - p['foot']) * t
    pts = [[0, 0]]
    if p['foot'] > 0.01:
        pts += [[base_r * 0.8, 0], [base_r * 0.85, p['foot']]]
    outer = np.stack([wall_r, wall_y], 1)
    outer[0, 0] = max(outer[0, 0], base_r * 0.86)
    pts += outer.tolist()
    pts += [[radius + p['rim'], h], [radius + p['rim'], h + th * 0.6]]
    inner = np.stack([wall_r - th, wall_y + th], 1)[::-1]
    inner[:, 1] = np.clip(inner[:, 1], p['foot'] + th, h + th * 0.6)
    inner[0, 1] = h + th * 0.6
    pts += inner.tolist()
    pts.append([0, p['foot'] + th])
    return lathe(np.array(pts), SEGMENTS + 8), p, ('body',)


def _can(rng: np.random.Generator) -> Tuple[Mesh, Dict[str, float], Tuple[str, ...]]:
    p = {'radius': rng.uniform(0.22, 0.4), 'bottom_taper': rng.uniform(0.0, 0.15),
         'top_taper': rng.uniform(0.0, 0.15), 'taper_height': rng.uniform(0.03, 0.12),
         'recess': rng.uniform(0.005, 0.03)}
    r, h, th = p['radius'], 1.0, p['taper_height']
    rb, rt = r * (1 - p['bottom_taper']), r * (1 - p['top_taper'])
    pts = [[0, 0.01], [rb * 0.9, 0], [rb, 0.01], [r, th], [r, h - th], [rt, h - 0.01],
           [rt, h], [rt * 0.95, h], [rt * 0.93, h - p['recess']], [0, h - p['recess']]]
    return lathe(np.array(pts)), p, ('body',)


def _mug(rng: np.random.Generator) -> Tuple[Mesh, Dict[str, float], Tuple[str, ...]]:
    p = {'radius': rng.uniform(0.34, 0.55), 'taper': rng.uniform(0.8, 1.1),
         'thickness': rng.uniform(0.03, 0.06), 'bottom': rng.uniform(0.04, 0.1),
         'handle_height': rng.uniform(0.45, 0.75), 'handle_reach': rng.uniform(0.2, 0.4),
         'handle_centre': rng.uniform(0.45, 0.55), 'handle_tube': rng.uniform(0.035, 0.07),
         'handle_squareness': rng.uniform(0.35, 0.75), 'handle_flat': rng.uniform(0.5, 1.0)}
    r_top, r_bottom, h, th = p['radius'], p['radius'] * p['taper'], 1.0, p['thickness']
    pts = [[0, 0], [r_bottom * 0.92, 0], [r_bottom, 0.03], [r_top, h], [r_top - th, h],
           [r_bottom - th + 0.0, p['bottom']], [0, p['bottom']]]
    body = lathe(np.array(pts))

    def wall_mid(y: float) -> float:
        return r_bottom + (r_top - r_bottom) * (y - 0.03) / (h - 0.03) - th / 2

    half_h = p['handle_height'] * h / 2
    yc = p['handle_centre'] * h
    s = np.linspace(-np.pi / 2, np.pi / 2, 24)
    y_path = yc + half_h * np.sin(s)
    x_attach = np.array([wall_mid(y) for y in y_path])
    x_path = x_attach + p['handle_reach'] * np.cos(s).clip(0) ** p['handle_squareness']
    path = np.stack([x_path, y_path, np.zeros_like(s)], 1)
    return merge(body, _tube(path, p['handle_tube'], p['handle_tube'] * p['handle_flat'],
                             part=1)), p, ('body', 'handle')


def _tube(path: np.ndarray, radius_in_plane: float, radius_z: float, part: int,
          segments: int = 12) -> Mesh:
    """Sweep an elliptic cross-section along a path in the xy plane (open ends)."""
    tangent = np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.stack([tangent[:, 1], -tangent[:, 0], np.zeros(len(path))], 1)
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    rings = (path[:, None] + radius_in_plane * np.cos(phi)[None, :, None] * normal[:, None]
             + radius_z * np.sin(phi)[None, :, None] * np.array([0, 0, 1.0]))
    ring, nxt = np.arange(segments), (np.arange(segments) + 1) % segments
    faces = []
    for r in range(len(path) - 1):
        a, b = r * segments, (r + 1) * segments
        faces += [np.stack([a + ring, a + nxt, b + nxt], 1), np.stack([a + ring, b + nxt,
                                                                       b + ring], 1)]
    mesh = Mesh(rings.reshape(-1, 3), np.concatenate(faces), None)
    mesh.parts[:] = part
    v = mesh.vertices[mesh.faces[0]]
    outward = v.mean(0) - path[0]
    if np.dot(np.cross(v[1] - v[0], v[2] - v[0]), outward) < 0:
        mesh.faces = mesh.faces[:, ::-1].copy()
    return mesh


def _laptop(rng: np.random.Generator) -> Tuple[Mesh, Dict[str, float], Tuple[str, ...]]:
    p = {'depth': rng.uniform(0.62, 0.78), 'base_thickness': rng.uniform(0.035, 0.07),
         'lid_thickness': rng.uniform(0.015, 0.035), 'lid_angle': rng.uniform(60.0, 130.0),
         'lid_depth': rng.uniform(0.95, 1.0)}
    w, d, tb, tl = 1.0, p['depth'], p['base_thickness'], p['lid_thickness']
    base = box(np.array([w / 2, tb / 2, d / 2]), (0, tb / 2, 0), part=0)
    lid_len = d * p['lid_depth']
    lid = box(np.array([w / 2 * 0.995, lid_len / 2, tl / 2]), (0, lid_len / 2, tl / 2),
              part=1)
    # The lid rises from the hinge (back top edge of the base) at lid_angle from the base.
    lean = np.deg2rad(90.0 - p['lid_angle'])
    rot = np.array([[1, 0, 0], [0, np.cos(lean), -np.sin(lean)],
                    [0, np.sin(lean), np.cos(lean)]])
    lid = lid.transformed(rot, (0, tb, -d / 2))
    return merge(base, lid), p, ('base', 'lid')


def _camera(rng: np.random.Generator) -> Tuple[Mesh, Dict[str, float], Tuple[str, ...]]:
    p = {'height': rng.uniform(0.5, 0.8), 'depth': rng.uniform(0.3, 0.7),
         'roundness': rng.uniform(0.1, 0.5), 'lens_radius': rng.uniform(0.18, 0.35),
         'lens_length': rng.uniform(0.2, 0.9), 'lens_offset': rng.uniform(-0.2, 0.2),
         'lens_step': rng.uniform(0.0, 1.0), 'grip': rng.uniform(0.0, 1.0),
         'prism': rng.uniform(0.0, 1.0)}
    w, h, d = 1.0, p['height'], p['depth']
    lens_r = p['lens_radius'] * min(h, w)
    body = superellipsoid(np.array([w / 2, h / 2, d / 2]), (p['roundness'], p['roundness']))
    parts = [body]
    length = p['lens_length'] * d
    z0 = d / 2 * 0.8
    profile = [[0, z0], [lens_r, z0], [lens_r, z0 + length]]
    if p['lens_step'] > 0.5:
        profile += [[lens_r * 1.12, z0 + length], [lens_r * 1.12, z0 + length * 1.25]]
        length *= 1.25
    profile += [[lens_r * 0.8, z0 + length], [0, z0 + length - 0.02]]
    lens = lathe(np.array(profile), 32, part=1)
    y_to_z = np.array([[1, 0, 0], [0, 0, -1.0], [0, 1, 0]])
    parts.append(lens.transformed(y_to_z, (p['lens_offset'] * w, -0.05 * h, 0)))
    if p['grip'] > 0.4:
        parts.append(superellipsoid(np.array([0.1 * w, h / 2 * 0.95, d / 2 * 1.15]), (0.3, 0.3),
                                    (-w / 2 + 0.12 * w, 0, 0.04), part=0))
    if p['prism'] > 0.5:
        parts.append(superellipsoid(np.array([0.14 * w, 0.12 * h, d / 2 * 0.6]), (0.3, 0.3),
                                    (p['lens_offset'] * w, h / 2, -0.02), part=0))
    return merge(*parts), p, ('body', 'lens')


_BUILDERS: Dict[str, Callable] = {
    'bottle': _bottle, 'bowl': _bowl, 'can': _can, 'mug': _mug, 'laptop': _laptop,
    'camera': _camera,
}


def _normalise(mesh: Mesh) -> Tuple[np.ndarray, np.ndarray]:
    """Centre the tight box on the origin, scale its diagonal to 1; return vertices, extents."""
    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    diag = float(np.linalg.norm(hi - lo))
    return (mesh.vertices - (lo + hi) / 2) / diag, (hi - lo) / diag


def _reference_extent(extents: np.ndarray, which: str) -> float:
    return float(extents[1] if which == 'height' else extents[0])


def shape_seed(category: str, split: str, index: int) -> np.random.SeedSequence:
    """Return the seed that fully determines one library instance."""
    if split not in SPLIT_KEYS:
        raise ValueError('split must be one of %s, got %r' % (sorted(SPLIT_KEYS), split))
    return np.random.SeedSequence(
        (_ENTROPY, category_by_name(category).class_id, SPLIT_KEYS[split], int(index)))


@functools.lru_cache(maxsize=256)
def library_instance(category: str, split: str, index: int) -> ShapeInstance:
    """Build instance `index` of the train or test library of one category."""
    if not 0 <= index < LIBRARY_SIZE.get(split, 0):
        raise ValueError('index %r outside the %s library of size %s'
                         % (index, split, LIBRARY_SIZE.get(split)))
    rng = np.random.default_rng(shape_seed(category, split, index))
    mesh, params, part_names = _BUILDERS[category](rng)
    vertices, extents = _normalise(mesh)
    which, lo, hi = METRIC_RANGES[category]
    metric = rng.uniform(lo, hi)
    params = dict(params, metric=metric)
    size = extents * metric / _reference_extent(extents, which)
    return ShapeInstance(category, vertices, mesh.faces, size,
                         '%s-%s-%04d' % (category, split, index), mesh.parts, part_names,
                         params)


def sample_instance(category: str, rng: np.random.Generator,
                    split: str = 'train') -> ShapeInstance:
    """Draw one instance of a category from the library of the given split."""
    category_by_name(category)
    if split not in LIBRARY_SIZE:
        raise ValueError('split must be one of %s, got %r' % (sorted(LIBRARY_SIZE), split))
    return library_instance(category, split, int(rng.integers(LIBRARY_SIZE[split])))
