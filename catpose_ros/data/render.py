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

"""Z-buffer triangle rasteriser (torch on CPU, no OpenGL): depth, ids, coordinates and RGB.

Rasterisation: every triangle is expanded into the pixels of its screen bounding box; pixel
centres sit on integer coordinates (OpenCV). Barycentrics and 1/z are affine in screen space,
so each face stores nine coefficients and a pixel's inside test and inverse depth are three
dot products. The z-buffer is one `scatter_reduce(amin)` over int64 keys that pack the
quantised depth above the face index, so the nearest face wins and is known in one pass; a
second pass recomputes exact (float64) perspective-correct barycentrics for winners only.
Infinite or rectangular planes (table, floor) are intersected analytically per pixel.

Shading: Lambertian plus Blinn-Phong highlight from one directional light, procedural albedo
(stripes, noise, label bands, checkers) evaluated on each item's texture coordinates, a
random background, and Gaussian image noise.
"""

from dataclasses import dataclass, field
import functools
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

from catpose_ros.geometry.camera import CameraIntrinsics

NEAR_M = 0.05
_FACE_BITS = 24
_DEPTH_UNITS_PER_M = 1e5
_PAIRS_PER_CHUNK = 3_000_000
PATTERNS = ('plain', 'stripes', 'noise', 'band', 'checker')


@dataclass
class Appearance:
    """Procedural surface colour: two colours mixed by a pattern, per-part overrides."""

    colors: np.ndarray
    pattern: str = 'plain'
    frequency: float = 4.0
    direction: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))
    band: Tuple[float, float] = (0.3, 0.7)
    specular: float = 0.2
    part_colors: Optional[np.ndarray] = None


@dataclass
class RenderItem:
    """A mesh to draw: vertices in its own frame (metres), its pose item -> camera."""

    vertices: np.ndarray
    faces: np.ndarray
    pose: np.ndarray
    texcoords: np.ndarray
    appearance: Appearance
    parts: Optional[np.ndarray] = None


@dataclass
class Plane:
    """A plane in the camera frame: origin, two in-plane unit axes and half extents (inf ok)."""

    origin: np.ndarray
    axis_u: np.ndarray
    axis_v: np.ndarray
    appearance: Appearance
    half_extent: Tuple[float, float] = (np.inf, np.inf)

    @property
    def normal(self) -> np.ndarray:
        """Unit normal u x v."""
        n = np.cross(self.axis_u, self.axis_v)
        return n / np.linalg.norm(n)


@dataclass
class Light:
    """One directional light (direction towards the light, camera frame) plus ambient."""

    direction: np.ndarray = field(default_factory=lambda: np.array([0.3, -1.0, -0.5]))
    intensity: float = 0.8
    ambient: float = 0.3
    color: np.ndarray = field(default_factory=lambda: np.ones(3))


@dataclass
class RenderOutput:
    """Per-pixel render results; -1 in item / plane / part where nothing of that kind is hit."""

    depth: np.ndarray
    item: np.ndarray
    plane: np.ndarray
    part: np.ndarray
    coords: np.ndarray
    normal: np.ndarray
    color: Optional[np.ndarray] = None


def random_color(rng: np.random.Generator, value: Tuple[float, float] = (0.15, 0.95)
                 ) -> np.ndarray:
    """Draw a colour with varied hue, saturation and brightness."""
    hue, sat, val = rng.uniform(0, 1), rng.uniform(0.0, 0.9), rng.uniform(*value)
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6) % 6
    return val - val * sat * np.clip(np.minimum(k, 4 - k), 0, 1)


def random_appearance(rng: np.random.Generator, num_parts: int = 1,
                      frequency: Tuple[float, float] = (2.0, 12.0)) -> Appearance:
    """Draw a varied appearance; parts beyond the first get their own colour."""
    direction = rng.normal(size=3)
    lo = rng.uniform(0.1, 0.5)
    part_colors = None
    if num_parts > 1:
        part_colors = np.stack([random_color(rng, (0.03, 0.6)) for _ in range(num_parts - 1)])
    return Appearance(np.stack([random_color(rng), random_color(rng)]),
                      PATTERNS[rng.integers(len(PATTERNS))], rng.uniform(*frequency),
                      direction / np.linalg.norm(direction), (lo, lo + rng.uniform(0.2, 0.5)),
                      rng.uniform(0.0, 0.6), part_colors)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (for smooth shading)."""
    v = vertices[faces]
    face_n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    normals = np.zeros_like(vertices, dtype=np.float64)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_n)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


@dataclass
class _Scene:
    vertices: torch.Tensor
    faces: torch.Tensor
    attributes: torch.Tensor
    face_item: torch.Tensor
    face_part: torch.Tensor


def _assemble(items: Sequence[RenderItem]) -> _Scene:
    vertices, faces, attrs, face_item, face_part, offset = [], [], [], [], [], 0
    for index, it in enumerate(items):
        rotation, translation = it.pose[:3, :3], it.pose[:3, 3]
        vertices.append(it.vertices @ rotation.T + translation)
        normals = vertex_normals(it.vertices, it.faces) @ rotation.T
        attrs.append(np.concatenate([it.texcoords, normals], 1))
        faces.append(it.faces + offset)
        face_item.append(np.full(len(it.faces), index))
        face_part.append(np.zeros(len(it.faces), int) if it.parts is None else it.parts)
        offset += len(it.vertices)
    if not items:
        empty = torch.zeros((0, 3), dtype=torch.float64)
        return _Scene(empty, torch.zeros((0, 3), dtype=torch.long), torch.zeros((0, 6)),
                      torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    return _Scene(torch.from_numpy(np.concatenate(vertices)),
                  torch.from_numpy(np.concatenate(faces).astype(np.int64)),
                  torch.from_numpy(np.concatenate(attrs)),
                  torch.from_numpy(np.concatenate(face_item).astype(np.int64)),
                  torch.from_numpy(np.concatenate(face_part).astype(np.int64)))


def _face_setup(vertices: torch.Tensor, faces: torch.Tensor, intr: CameraIntrinsics,
                cull_back_faces: bool):
    """Per-face screen boxes and affine coefficients of (b0, b1, 1/z) over (x, y) in pixels."""
    tri = vertices[faces]
    z = tri[..., 2]
    keep = (z > NEAR_M).all(1)
    if cull_back_faces:
        normal = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        keep &= (normal * tri[:, 0]).sum(-1) < 0
    zs = z.clamp(min=NEAR_M)
    x = intr.fx * tri[..., 0] / zs + intr.cx
    y = intr.fy * tri[..., 1] / zs + intr.cy
    x0 = x.min(1).values.ceil().clamp(min=0)
    x1 = x.max(1).values.floor().clamp(max=intr.width - 1)
    y0 = y.min(1).values.ceil().clamp(min=0)
    y1 = y.max(1).values.floor().clamp(max=intr.height - 1)
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    keep &= (x1 >= x0) & (y1 >= y0) & (area.abs() > 1e-10)
    idx = keep.nonzero().squeeze(1)
    x, y, z, area = x[idx], y[idx], zs[idx], area[idx, None]
    # b_i = (A_i x + B_i y + C_i) / area with edges opposite vertex i.
    a_coef = torch.stack([y[:, 1] - y[:, 2], y[:, 2] - y[:, 0]], 1) / area
    b_coef = torch.stack([x[:, 2] - x[:, 1], x[:, 0] - x[:, 2]], 1) / area
    c_coef = torch.stack([x[:, 1] * y[:, 2] - x[:, 2] * y[:, 1],
                          x[:, 2] * y[:, 0] - x[:, 0] * y[:, 2]], 1) / area
    inv_z = 1.0 / z
    # 1/z = b0/z0 + b1/z1 + (1 - b0 - b1)/z2.
    d0, d1 = (inv_z[:, 0] - inv_z[:, 2])[:, None], (inv_z[:, 1] - inv_z[:, 2])[:, None]
    coef = torch.cat([
        torch.stack([a_coef[:, 0], b_coef[:, 0], c_coef[:, 0]], 1),
        torch.stack([a_coef[:, 1], b_coef[:, 1], c_coef[:, 1]], 1),
        torch.stack([a_coef[:, 0:1] * d0 + a_coef[:, 1:2] * d1,
                     b_coef[:, 0:1] * d0 + b_coef[:, 1:2] * d1,
                     c_coef[:, 0:1] * d0 + c_coef[:, 1:2] * d1 + inv_z[:, 2:3]], 2)
        .squeeze(1)], 1)
    return idx, x0.long()[idx], y0.long()[idx], (x1 - x0 + 1).long()[idx], \
        (y1 - y0 + 1).long()[idx], coef


def _local_coef(coef: torch.Tensor, x0: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    """Re-express the affine coefficients around each face's box corner (float32-safe)."""
    local = coef.clone().view(-1, 3, 3)
    local[:, :, 2] += local[:, :, 0] * x0[:, None] + local[:, :, 1] * y0[:, None]
    return local.view(-1, 9).float()


def rasterise(vertices: torch.Tensor, faces: torch.Tensor, intr: CameraIntrinsics,
              cull_back_faces: bool = True) -> torch.Tensor:
    """Return the winning face index per pixel (H*W, long; -1 where no face)."""
    num_pixels = intr.width * intr.height
    if len(faces) >= 2 ** _FACE_BITS:
        raise ValueError('too many faces to rasterise: %d' % len(faces))
    best = torch.full((num_pixels,), torch.iinfo(torch.int64).max, dtype=torch.int64)
    idx, x0, y0, w, h, coef = _face_setup(vertices, faces, intr, cull_back_faces)
    if len(idx) == 0:
        return torch.full((num_pixels,), -1, dtype=torch.long)
    local = _local_coef(coef, x0.double(), y0.double())
    counts = w * h
    ends = counts.cumsum(0)
    start = 0
    while start < len(idx):
        base = int(ends[start - 1]) if start else 0
        stop = int(torch.searchsorted(ends, base + _PAIRS_PER_CHUNK, right=True))
        stop = max(stop, start + 1)
        _scatter_chunk(best, slice(start, stop), idx, x0, y0, w, counts, local, intr.width)
        start = stop
    face = best & (2 ** _FACE_BITS - 1)
    return torch.where(best == torch.iinfo(torch.int64).max, -1, face)


def _scatter_chunk(best, chunk, idx, x0, y0, w, counts, local, width):
    cnt = counts[chunk]
    pair_face = torch.repeat_interleave(torch.arange(len(cnt)), cnt)
    offsets = torch.cumsum(cnt, 0) - cnt
    k = torch.arange(int(cnt.sum())) - offsets[pair_face]
    wf = w[chunk][pair_face]
    lx, ly = k % wf, torch.div(k, wf, rounding_mode='floor')
    c = local[chunk][pair_face]
    fx, fy = lx.float(), ly.float()
    b0 = c[:, 0] * fx + c[:, 1] * fy + c[:, 2]
    b1 = c[:, 3] * fx + c[:, 4] * fy + c[:, 5]
    inv_z = c[:, 6] * fx + c[:, 7] * fy + c[:, 8]
    eps = -1e-5
    inside = (b0 >= eps) & (b1 >= eps) & (1.0 - b0 - b1 >= eps) & (inv_z > 0)
    sel = inside.nonzero().squeeze(1)
    pixel = (y0[chunk][pair_face[sel]] + ly[sel]) * width + x0[chunk][pair_face[sel]] + lx[sel]
    depth_key = (_DEPTH_UNITS_PER_M / inv_z[sel].double()).long() << _FACE_BITS
    key = depth_key | idx[chunk][pair_face[sel]]
    best.scatter_reduce_(0, pixel, key, reduce='amin')


@functools.lru_cache(maxsize=8)
def _pixel_rays(intr: CameraIntrinsics) -> np.ndarray:
    """Per-pixel viewing rays (x, y, 1) of the camera, (H*W, 3) float64, read-only."""
    v, u = np.mgrid[0:intr.height, 0:intr.width]
    rays = np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy,
                     np.ones(u.shape)], -1).reshape(-1, 3)
    rays.setflags(write=False)
    return rays


@functools.lru_cache(maxsize=8)
def _unit_rays(intr: CameraIntrinsics) -> np.ndarray:
    rays = _pixel_rays(intr)
    unit = (rays / np.linalg.norm(rays, axis=1, keepdims=True)).astype(np.float32)
    unit.setflags(write=False)
    return unit


def _interpolate(scene: _Scene, face: torch.Tensor, rays: np.ndarray):
    """Perspective-correct depth and attributes of the winning faces at their pixels."""
    tri = scene.vertices[scene.faces[face]].float()
    ray = torch.from_numpy(rays).float()
    # Ray-triangle intersection (Cramer's rule) gives exact barycentrics and depth.
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    pvec = torch.linalg.cross(ray, e2)
    det = (e1 * pvec).sum(-1)
    det = torch.where(det.abs() < 1e-15, torch.full_like(det, 1e-15), det)
    tvec = -tri[:, 0]
    b1 = (tvec * pvec).sum(-1) / det
    qvec = torch.linalg.cross(tvec, e1)
    b2 = (ray * qvec).sum(-1) / det
    depth = (e2 * qvec).sum(-1) / det
    b1, b2 = b1.clamp(0, 1), b2.clamp(0, 1)
    b0 = (1 - b1 - b2).clamp(0, 1)
    bary = torch.stack([b0, b1, b2], 1)
    bary = bary / bary.sum(1, keepdim=True).clamp(min=1e-12)
    attrs = torch.einsum('nkc,nk->nc', scene.attributes[scene.faces[face]].float(), bary)
    face_normal = torch.nn.functional.normalize(torch.linalg.cross(e1, e2), dim=1)
    return depth, attrs, face_normal


def _intersect_plane(plane: Plane, rays: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Depth of each pixel ray on the plane (inf where missed) and in-plane (u, v) metres."""
    x, y = rays[:, 0].astype(np.float32), rays[:, 1].astype(np.float32)

    def along(direction: np.ndarray) -> np.ndarray:
        d = direction.astype(np.float32)
        return x * d[0] + y * d[1] + d[2]

    n = plane.normal
    denom = along(n)
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.float32(np.dot(plane.origin, n)) / denom
    u = depth * along(plane.axis_u) - np.float32(np.dot(plane.origin, plane.axis_u))
    v = depth * along(plane.axis_v) - np.float32(np.dot(plane.origin, plane.axis_v))
    inside = (np.abs(u) <= plane.half_extent[0]) & (np.abs(v) <= plane.half_extent[1])
    depth = np.where((depth > NEAR_M) & inside & np.isfinite(depth), depth, np.inf)
    return depth.astype(np.float64), np.stack([u, v], 1)


def render(items: Sequence[RenderItem], intr: CameraIntrinsics, planes: Sequence[Plane] = (),
           light: Optional[Light] = None, rng: Optional[np.random.Generator] = None,
           cull_back_faces: bool = True, shade: bool = True) -> RenderOutput:
    """Render posed meshes and planes; depth is metric z (0 = no hit), RGB when shade is on."""
    scene = _assemble(items)
    rays = _pixel_rays(intr)
    num = len(rays)
    depth = np.full(num, np.inf)
    plane_hits = [_intersect_plane(plane, rays) for plane in planes]
    for plane_depth, _ in plane_hits:
        depth = np.minimum(depth, plane_depth)
    face = rasterise(scene.vertices, scene.faces, intr, cull_back_faces) if len(items) else \
        torch.full((num,), -1, dtype=torch.long)
    coords = np.zeros((num, 3), np.float32)
    shade_normal = np.zeros((num, 3), np.float32)
    normal = np.zeros((num, 3), np.float32)
    item = np.full(num, -1, np.int32)
    part = np.full(num, -1, np.int32)
    plane_id = np.full(num, -1, np.int32)
    for index, plane in enumerate(planes):
        plane_depth, uv = plane_hits[index]
        on_plane = np.flatnonzero((plane_depth == depth) & np.isfinite(plane_depth))
        plane_id[on_plane] = index
        coords[on_plane, :2] = uv[on_plane]
        normal[on_plane] = plane.normal
    shade_normal[:] = normal
    hit = (face >= 0).nonzero().squeeze(1)
    if len(hit):
        d, attrs, face_n = _interpolate(scene, face[hit], rays[hit.numpy()])
        nearer = (d.numpy() < depth[hit.numpy()])
        hit = hit[torch.from_numpy(nearer)]
        f = face[hit]
        hit_np = hit.numpy()
        depth[hit_np] = d.numpy()[nearer]
        coords[hit_np] = attrs[nearer, :3].numpy()
        shade_normal[hit_np] = attrs[nearer, 3:].numpy()
        normal[hit_np] = face_n[nearer].numpy()
        item[hit_np] = scene.face_item[f].numpy()
        part[hit_np] = scene.face_part[f].numpy()
        plane_id[hit_np] = -1
    depth[~np.isfinite(depth)] = 0.0
    shape = (intr.height, intr.width)
    out = RenderOutput(depth.reshape(shape).astype(np.float32), item.reshape(shape),
                       plane_id.reshape(shape), part.reshape(shape),
                       coords.reshape(shape + (3,)), normal.reshape(shape + (3,)))
    if shade:
        rng = rng if rng is not None else np.random.default_rng(0)
        out.color = _shade(out, shade_normal, _unit_rays(intr), items, planes, light or Light(),
                           rng)
    return out


def albedo(appearance: Appearance, coords: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Evaluate the procedural surface colour at texture coordinates, one RGB row per point."""
    coords = coords.astype(np.float32)
    t = coords @ appearance.direction.astype(np.float32) * np.float32(appearance.frequency)
    if appearance.pattern == 'stripes':
        mix = 0.5 + 0.5 * np.tanh(4 * np.sin(2 * np.pi * t))
    elif appearance.pattern == 'noise':
        f = np.float32(appearance.frequency)
        mix = 0.5 + 0.25 * (np.sin(f * coords[:, 0] * 6.1 + 2 * np.sin(f * coords[:, 1] * 3.7))
                            + np.sin(f * coords[:, 2] * 5.3 + t))
    elif appearance.pattern == 'band':
        lo, hi = appearance.band
        mix = ((coords[:, 1] > lo) & (coords[:, 1] < hi)).astype(np.float32)
    elif appearance.pattern == 'checker':
        cells = np.floor(coords * np.float32(appearance.frequency)).sum(1)
        mix = (cells % 2).astype(np.float32)
    else:
        mix = np.zeros(len(coords), np.float32)
    colors = appearance.colors.astype(np.float32)
    color = colors[0] + (colors[1] - colors[0]) * mix[:, None]
    if appearance.part_colors is not None:
        for p, part_color in enumerate(appearance.part_colors.astype(np.float32), start=1):
            on_part = parts == p
            color[on_part] = part_color * (0.85 + 0.15 * mix[on_part, None])
    return color


def _background(shape: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    top, bottom = rng.uniform(0.1, 0.9, 3), rng.uniform(0.1, 0.9, 3)
    ramp = np.linspace(0, 1, shape[0])[:, None]
    rows = (top * (1 - ramp) + bottom * ramp).astype(np.float32)
    return np.repeat(rows[:, None], shape[1], axis=1).reshape(-1, 3)


def _shade(out: RenderOutput, shade_normal: np.ndarray, view: np.ndarray,
           items: Sequence[RenderItem], planes: Sequence[Plane], light: Light,
           rng: np.random.Generator) -> np.ndarray:
    """Shade every hit pixel at once; albedo is evaluated per surface on its pixels only."""
    shape = out.depth.shape
    image = _background(shape, rng)
    base = np.zeros_like(image)
    specular = np.zeros(len(image), np.float32)
    item, plane = out.item.reshape(-1), out.plane.reshape(-1)
    coords, part = out.coords.reshape(-1, 3), out.part.reshape(-1)
    surfaces = [(item, i, it.appearance) for i, it in enumerate(items)]
    surfaces += [(plane, i, p.appearance) for i, p in enumerate(planes)]
    for ids, index, appearance in surfaces:
        sel = np.flatnonzero(ids == index)
        if len(sel):
            base[sel] = albedo(appearance, coords[sel], part[sel])
            specular[sel] = appearance.specular
    n, v = shade_normal, view
    n /= np.maximum(np.sqrt(np.einsum('ij,ij->i', n, n)), 1e-12)[:, None]
    n *= np.where(np.einsum('ij,ij->i', n, v) > 0, np.float32(-1), np.float32(1))[:, None]
    to_light = (light.direction / np.linalg.norm(light.direction)).astype(np.float32)
    diffuse = np.clip(n @ to_light, 0, None)
    half = to_light - v
    half /= np.sqrt(np.einsum('ij,ij->i', half, half)).clip(1e-12)[:, None]
    spec = np.clip(np.einsum('ij,ij->i', n, half), 0, None)
    for _ in range(5):  # cos^32 by squaring, much cheaper than a float power
        spec *= spec
    spec *= specular
    gain = np.float32(light.ambient) + np.float32(light.intensity) * diffuse
    lit = (base * gain[:, None] + spec[:, None]) * light.color.astype(np.float32)
    image = np.where((out.depth.reshape(-1) > 0)[:, None], lit, image)
    # Sensor noise: mostly luminance, as in real colour cameras.
    image += rng.standard_normal((len(image), 1), dtype=np.float32) * np.float32(
        rng.uniform(0.004, 0.02))
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8).reshape(shape + (3,))
