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


"""Objects in a depth frame -> metric 6D poses and sizes, all objects in one batch.

Per object: back-project its mask to exactly `num_points` camera-frame points, encode them
once, sample a pose with the guided diffusion sampler (cold start from noise, or warm start
from a previous pose when tracking), add the points' centroid back to the translation and
read the box size from the points in the estimated object frame. Each estimate's score is
its detection score times its pose confidence (perception/confidence.py): how well an
independent cold sample from the same features agrees with it.
"""

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from catpose_ros.categories import Category, category_by_name, UnknownCategoryError
from catpose_ros.geometry.backprojection import (backproject, depth_to_metres,
                                                 MaskShapeError, points_centroid,
                                                 resample_points, TooFewPointsError)
from catpose_ros.geometry.camera import CameraIntrinsics, MAX_DEPTH_M, MIN_DEPTH_M
from catpose_ros.geometry.rotation import matrix_to_quaternion_xyzw, rotation_6d_to_matrix
from catpose_ros.geometry.size import estimate_size
from catpose_ros.geometry.symmetry import handle_visible
from catpose_ros.geometry.transforms import make_transform
from catpose_ros.model.checkpoint import CheckpointError, load_checkpoint
from catpose_ros.model.device import autocast, check_precision
from catpose_ros.model.pose_sampler import cold_centres, PoseSampler, SamplerConfig
from catpose_ros.model.posenet import CatPoseNet
from catpose_ros.perception.confidence import agreement_confidence
from catpose_ros.perception.instances import Instance
from catpose_ros.timing import timed

TIMING_KEYS = ('backproject', 'encode', 'sample', 'size', 'total')
# Which head gives the pose: the guided diffusion sampler (the method) or the regression head.
HEADS = ('diffusion', 'regression')
# Skip reason of an object whose model output is not finite (callers log it as an error).
NON_FINITE_OUTPUT = 'model output is not finite'


class NonFiniteModelError(CheckpointError):
    """Raised when a loaded model turns a plain probe cloud into NaN or inf."""


class InvalidInitPoseError(ValueError):
    """Raised for a warm-start pose that is not a finite 4x4 rigid transform."""


class InvalidCloudError(ValueError):
    """Raised for an object's given cloud that is not a finite (M, 3) array."""


@dataclass
class PoseEstimate:
    """One object's pose (object -> camera, OpenCV optical frame) and metric box size.

    score is detection_score * pose_confidence; pose_confidence is None where none was
    measured (the regression head, or the estimator's confidence check turned off).
    """

    instance_id: int
    category: str
    rotation: np.ndarray            # (3, 3) object -> camera
    translation: np.ndarray         # (3,) metres, camera optical frame
    size: np.ndarray                # (3,) metric box extents along object x, y, z
    covariance: Optional[np.ndarray]  # (6, 6) ROS order x, y, z, rotX, rotY, rotZ
    score: float
    num_points: int                 # valid depth points the object had
    warm_started: bool
    detection_score: float = 1.0    # the segmenter's score of the object's mask
    pose_confidence: Optional[float] = None

    def pose(self) -> np.ndarray:
        """Return the 4x4 object -> camera transform."""
        return make_transform(self.rotation, self.translation)

    def quaternion_xyzw(self) -> np.ndarray:
        """Return the rotation as a ROS (x, y, z, w) quaternion."""
        return matrix_to_quaternion_xyzw(self.rotation)


@dataclass
class EstimationResult:
    """Estimates of one frame, the instances left out and why, and stage timings (ms).

    clouds holds, by instance id, the `num_points` points the network read for each
    estimated object (for a debug point cloud); cold_checks, when asked for, a cold estimate
    of each warm-started object from the same features (the tracker's re-locking).
    """

    estimates: List[PoseEstimate]
    skipped: List[Tuple[int, str]] = field(default_factory=list)
    timings_ms: Dict[str, float] = field(default_factory=dict)
    clouds: Dict[int, np.ndarray] = field(default_factory=dict)
    cold_checks: Dict[int, PoseEstimate] = field(default_factory=dict)


class PoseEstimator:
    """Run the model on point clouds or on depth + instance masks.

    The model is moved to `device` and put in eval mode. `seed` makes point resampling and
    the sampler's noise reproducible. `precision` is the encoder's (fp32, bf16 or fp16; see
    model.device.autocast); the heads and the sampler always run in float32. With
    `confidence_check`, the diffusion head rates every pose by its agreement with one more
    cold sample per object (K = 1) or with its K candidates (K > 1).
    """

    def __init__(self, model: CatPoseNet, sampler_config: Optional[SamplerConfig] = None,
                 device: Union[str, torch.device] = 'cpu', seed: Optional[int] = None,
                 min_points: int = 50, min_depth: float = MIN_DEPTH_M,
                 max_depth: float = MAX_DEPTH_M, head: str = 'diffusion',
                 precision: str = 'fp32', confidence_check: bool = True):
        if head not in HEADS:
            raise ValueError('head must be one of %s, got %r' % (HEADS, head))
        self.head, self.precision = head, check_precision(precision)
        self.confidence_check = bool(confidence_check)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.sampler_config = sampler_config or SamplerConfig()
        self.sampler = PoseSampler(model.sde, self.sampler_config)
        self.num_points = model.config.num_points
        self.categories = tuple(model.config.categories)
        self.min_points, self.min_depth, self.max_depth = min_points, min_depth, max_depth
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator(device=self.device)
        self._synchronize = (lambda: torch.cuda.synchronize(self.device)) \
            if self.device.type == 'cuda' else None
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(seed)

    @classmethod
    def from_checkpoint(cls, path, device: Union[str, torch.device] = 'cpu',
                        sampler_config: Optional[SamplerConfig] = None,
                        seed: Optional[int] = None, **kwargs) -> 'PoseEstimator':
        """Load a checkpoint (CheckpointError if it is unusable) and wrap it.

        Without a sampler_config, the sampler settings stored in the checkpoint (chosen on
        the validation split when the model was exported) are used, else the defaults.
        """
        model, _, meta = load_checkpoint(path, map_location=device)
        if sampler_config is None:
            sampler_config = stored_sampler_config(meta, path)
        estimator = cls(model, sampler_config, device, seed, **kwargs)
        estimator.probe(str(path))
        return estimator

    def probe(self, source: str = 'the model') -> None:
        """Run one plain cloud through the model; NonFiniteModelError if the output is not finite.

        Catches what weight checks cannot (overflowing activations, a broken export) at load
        time instead of as silently missing objects on every frame. Uses its own noise
        generator, so the estimator's seeded results are unchanged.
        """
        grid = np.linspace(-0.04, 0.04, 16)
        corners = np.stack(np.meshgrid(grid, grid, grid[:4], indexing='ij'), -1).reshape(-1, 3)
        cloud = resample_points(corners + np.array([0.0, 0.0, 0.6]), self.num_points,
                                np.random.default_rng(0)).astype(np.float32)
        generator, rng = self.generator, self.rng
        self.generator = torch.Generator(device=self.device).manual_seed(0)
        self.rng = np.random.default_rng(0)
        try:
            estimate, _ = self._estimate([cloud], [self.categories[0]], None, None, None, None,
                                         {})
        finally:
            self.generator, self.rng = generator, rng
        reason = _non_finite(estimate[0])
        if reason is not None:
            raise NonFiniteModelError('%s gives a non-finite %s for a plain test cloud; the '
                                      'weights are broken' % (source, reason))

    def override_sampler(self, **changes) -> SamplerConfig:
        """Replace some sampler settings (e.g. method, steps) and keep the others."""
        if changes:
            self.sampler_config = replace(self.sampler_config, **changes)
            self.sampler = PoseSampler(self.model.sde, self.sampler_config)
        return self.sampler_config

    def reconfigure(self, sampler_config: SamplerConfig, min_points: int, min_depth: float,
                    max_depth: float) -> None:
        """Change the sampler and the depth / mask limits of a loaded model (live tuning)."""
        sampler = PoseSampler(self.model.sde, sampler_config)
        self.sampler_config, self.sampler = sampler_config, sampler
        self.min_points, self.min_depth, self.max_depth = min_points, min_depth, max_depth

    def category(self, name: str) -> Category:
        """Return the category, UnknownCategoryError if the model was not trained on it."""
        if name not in self.categories:
            raise UnknownCategoryError('unknown category %r; the model knows: %s'
                                       % (name, ', '.join(self.categories)))
        return category_by_name(name)

    def estimate_points(self, points: Sequence[np.ndarray], categories: Sequence[str],
                        init_poses: Optional[Sequence[Optional[np.ndarray]]] = None,
                        instance_ids: Optional[Sequence[int]] = None,
                        scores: Optional[Sequence[float]] = None) -> List[PoseEstimate]:
        """Estimate all objects in one batch from camera-frame clouds (N_i, 3).

        Clouds of another size than `num_points` are resampled. An init pose (4x4) warm
        starts its object (tracking); None starts it from noise.
        """
        return self._estimate(points, categories, init_poses, instance_ids, scores, None, {})[0]

    def estimate_from_depth(self, depth: np.ndarray, intrinsics: CameraIntrinsics,
                            instances: Sequence[Instance], depth_scale: float = 0.001,
                            init_poses: Optional[Dict[int, np.ndarray]] = None
                            ) -> EstimationResult:
        """Estimate every instance of a frame; bad instances are skipped with a reason.

        Depth is raw (integers times depth_scale) or metres (floats). Only frame-level
        errors raise (a depth image that does not fit the intrinsics).
        """
        latency: Dict[str, float] = {}
        with timed(latency, 'backproject'):
            depth_m = depth_to_metres(depth, depth_scale)
            intrinsics.check_image(depth_m)
            clouds, skipped = backproject_instances(depth_m, intrinsics, instances,
                                                    self.min_depth, self.max_depth)
        result = self.estimate_from_clouds(
            [i for i in instances if i.instance_id in clouds], clouds, init_poses)
        order = {instance.instance_id: i for i, instance in enumerate(instances)}
        result.skipped = sorted(skipped + result.skipped, key=lambda s: order.get(s[0], 0))
        result.timings_ms['backproject'] = latency['backproject']
        result.timings_ms['total'] += latency['backproject']
        return result

    def estimate_from_clouds(self, instances: Sequence[Instance],
                             clouds: Dict[int, np.ndarray],
                             init_poses: Optional[Dict[int, np.ndarray]] = None,
                             cold_checks: bool = False) -> EstimationResult:
        """Estimate instances from their back-projected points (instance id -> (M, 3)).

        This is estimate_from_depth after back-projection, for a caller that already has
        the points (the frame pipeline back-projects each mask once for tracking and
        estimation). Instances without a cloud are skipped; `backproject` stays 0. With
        cold_checks, each warm-started object also gets a cold estimate, sampled in the
        same batch from the same features.
        """
        timings = dict.fromkeys(TIMING_KEYS, 0.0)
        init_poses = init_poses or {}
        estimates, checks = [], []
        with timed(timings, 'total'):
            kept, skipped = self._resample(instances, clouds, init_poses)
            if kept:
                estimates, checks = self._estimate(
                    [k[1] for k in kept], [k[0].category for k in kept],
                    [init_poses.get(k[0].instance_id) for k in kept],
                    [k[0].instance_id for k in kept], [k[0].score for k in kept],
                    [k[2] for k in kept], timings, cold_checks)
        finite = []
        for estimate in estimates:
            reason = _non_finite(estimate)
            if reason is None:
                finite.append(estimate)
            else:
                skipped.append((estimate.instance_id, '%s (%s)' % (NON_FINITE_OUTPUT, reason)))
        published = {estimate.instance_id for estimate in finite}
        clouds_used = {k[0].instance_id: k[1] for k in kept if k[0].instance_id in published}
        finite_checks = {check.instance_id: check for check in checks
                         if check.instance_id in published and _non_finite(check) is None}
        return EstimationResult(finite, skipped, timings, clouds_used, finite_checks)

    def _resample(self, instances: Sequence[Instance], clouds: Dict[int, np.ndarray],
                  init_poses: Dict[int, np.ndarray]):
        """Return ([(instance, num_points points, num_valid)], [(instance_id, reason)])."""
        kept, skipped = [], []
        for instance in instances:
            points = clouds.get(instance.instance_id)
            try:
                self.category(instance.category)
                _check_init_pose(init_poses.get(instance.instance_id))
                if points is None:
                    raise TooFewPointsError(0, max(self.min_points, 1))
                points = _checked_cloud(points)
                if len(points) < max(self.min_points, 1):
                    raise TooFewPointsError(len(points), max(self.min_points, 1))
            except UnknownCategoryError as error:
                skipped.append((instance.instance_id, str(error.args[0])))
            except (TooFewPointsError, InvalidInitPoseError, InvalidCloudError) as error:
                skipped.append((instance.instance_id, str(error)))
            else:
                kept.append((instance, resample_points(points, self.num_points, self.rng),
                             len(points)))
        return kept, skipped

    def _estimate(self, points, categories, init_poses, instance_ids, scores, num_valid,
                  timings: Dict[str, float], cold_checks: bool = False
                  ) -> Tuple[List[PoseEstimate], List[PoseEstimate]]:
        """Run the batch; fills timings' encode, sample and size entries.

        Returns the estimates and, with cold_checks, one cold estimate per warm-started
        object: extra cold rows of the sampler's batch that reuse the objects' features.
        """
        count = len(points)
        init_poses = [None] * count if init_poses is None else list(init_poses)
        instance_ids = list(range(count)) if instance_ids is None else list(instance_ids)
        scores = [1.0] * count if scores is None else list(scores)
        if not all(len(v) == count for v in (categories, init_poses, instance_ids, scores)):
            raise ValueError('points, categories, init_poses, instance_ids and scores must '
                             'have one entry per object')
        if count == 0:
            return [], []
        kinds = [self.category(name) for name in categories]
        for pose in init_poses:
            _check_init_pose(pose)
        clouds = np.stack([self._fixed_size(p) for p in points])
        num_valid = [len(p) for p in points] if num_valid is None else list(num_valid)
        rows, returned_checks = self._sampler_rows(init_poses, cold_checks)
        with torch.inference_mode():
            cloud = torch.as_tensor(clouds, device=self.device)
            centroid = points_centroid(cloud)
            with timed(timings, 'encode', self._synchronize), \
                    autocast(self.precision, self.device.type):
                features = self.model.encode(cloud).float()
            if len(rows) > count:
                copies = torch.tensor(rows[count:], device=self.device)
                features = torch.cat((features, features[copies]))
                centroid = torch.cat((centroid, centroid[copies]))
            warm, init = self._init_vectors(init_poses + [None] * (len(rows) - count),
                                            centroid)
            with timed(timings, 'sample', self._synchronize):
                poses, covariance, candidates = self._poses(features, init, warm)
                row_rotations = rotation_6d_to_matrix(poses[:, :6])
                rotations = row_rotations.double().cpu().numpy()
                confidence = self._confidence(row_rotations, rotations, candidates, rows,
                                              kinds, clouds)
            translations = (poses[:, 6:] + centroid).double().cpu().numpy()
            covariance = None if covariance is None else covariance.double().cpu().numpy()
        with timed(timings, 'size'), np.errstate(invalid='ignore', over='ignore'):
            # A broken model's NaN poses are reported by _non_finite, not as warnings here.
            estimates = [PoseEstimate(
                instance_id=int(instance_ids[i]), category=kinds[i].name,
                rotation=rotations[row], translation=translations[row],
                size=estimate_size(clouds[i], rotations[row], translations[row],
                                   kinds[i].symmetric_about_y),
                covariance=None if covariance is None else covariance[row],
                score=float(scores[i]) * (1.0 if confidence is None else confidence[i]),
                num_points=int(num_valid[i]),
                warm_started=row < count and init_poses[i] is not None,
                detection_score=float(scores[i]),
                pose_confidence=None if confidence is None else confidence[i])
                for row, i in enumerate(rows[:count + returned_checks])]
        return estimates[:count], estimates[count:]

    def _sampler_rows(self, init_poses: Sequence[Optional[np.ndarray]], cold_checks: bool
                      ) -> Tuple[List[int], int]:
        """Return the object of each row of the sampler's batch, and how many checks return.

        Rows: every object; a cold copy of each warm one (with cold_checks: the tracker's
        checks, returned); then, for the confidence at K = 1, a cold copy of each object
        still without one (not returned).
        """
        count = len(init_poses)
        rows = list(range(count))
        if self.head != 'diffusion':
            return rows, 0
        if cold_checks:
            rows += [i for i in range(count) if init_poses[i] is not None]
        returned = len(rows) - count
        if self.confidence_check and self.sampler_config.num_candidates == 1:
            checked = set(rows[count:])
            rows += [i for i in range(count) if i not in checked]
        return rows, returned

    def _confidence(self, row_rotations: torch.Tensor, host_rotations: np.ndarray,
                    candidates: Optional[torch.Tensor], rows: Sequence[int],
                    kinds: Sequence[Category], clouds: np.ndarray) -> Optional[List[float]]:
        """Return each object's pose confidence, or None where it is not measured.

        row_rotations [R, 3, 3] are the sampler's rows (host_rotations the same on the host).
        At K = 1 an object's check is its cold row after the first `len(kinds)` rows; at
        K > 1 its checks are its own candidates. A non-finite check gives confidence 0.
        Checks are compared as the NOCS error compares poses: a mug whose handle does not
        show in its points (judged along the estimated axis) by its axis alone.
        """
        count = len(kinds)
        if not self.confidence_check or self.head != 'diffusion':
            return None
        device = row_rotations.device
        symmetric = torch.tensor([_symmetric_view(kind, clouds[i], host_rotations[i])
                                  for i, kind in enumerate(kinds)], device=device)
        if candidates is not None and candidates.shape[1] > 1:
            checks = rotation_6d_to_matrix(candidates[:count, :, :6])
        else:
            check_row = {i: row for row, i in enumerate(rows) if row >= count}
            order = torch.tensor([check_row[i] for i in range(count)], device=device)
            checks = row_rotations[order][:, None]
        confidence = agreement_confidence(row_rotations[:count], checks, symmetric)
        # A check that is not finite vouches for nothing.
        return torch.nan_to_num(confidence, nan=0.0).double().cpu().tolist()

    def _poses(self, features: torch.Tensor, init: Optional[torch.Tensor],
               warm: Optional[torch.Tensor]):
        """Return 9-d poses (translation relative to the centroid), covariance, candidates.

        The regression head ignores warm starts and gives no covariance or candidates.
        """
        if self.head == 'regression':
            return self.model.regress(features), None, None
        samples = self.sampler.sample(self.model.score, features, init, warm, self.generator,
                                      cold_centres(self.model, self.sampler_config, features))
        return samples.poses, samples.covariance, samples.candidates

    def _fixed_size(self, points: np.ndarray) -> np.ndarray:
        """Validate one cloud and bring it to `num_points` float32 points."""
        points = np.asarray(points, dtype=np.float32)
        if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
            raise ValueError('each cloud must be a non-empty (N, 3) array, got shape %s'
                             % (points.shape,))
        if not np.isfinite(points).all():
            raise ValueError('point clouds must be finite')
        if len(points) != self.num_points:
            points = resample_points(points, self.num_points, self.rng)
        return points

    def _init_vectors(self, init_poses: Sequence[Optional[np.ndarray]],
                      centroid: torch.Tensor):
        """Return (warm (B,) bool, init (B, 9) or None): [R[:, 0], R[:, 1], t - centroid]."""
        flags = [p is not None for p in init_poses]
        warm = torch.tensor(flags, device=self.device)
        if not any(flags):        # decided on the host: no wait for the device
            return warm, None
        poses = np.stack([np.eye(4) if p is None else np.asarray(p, np.float64)
                          for p in init_poses])
        poses = torch.as_tensor(poses, dtype=centroid.dtype, device=self.device)
        init = torch.cat((poses[:, :3, 0], poses[:, :3, 1], poses[:, :3, 3] - centroid), -1)
        return warm, init


def _symmetric_view(kind: Category, cloud: np.ndarray, rotation: np.ndarray) -> bool:
    """Whether this view of the object looks the same at every turn about its y axis."""
    if not kind.symmetric_unless_handle_visible:
        return kind.symmetric_about_y
    return bool(np.isfinite(rotation).all()) and kind.is_symmetric(
        handle_visible(cloud, rotation))


def _non_finite(estimate: PoseEstimate) -> Optional[str]:
    """Name what is not finite in an estimate; a bad covariance alone becomes unknown."""
    for name in ('rotation', 'translation', 'size'):
        if not np.all(np.isfinite(getattr(estimate, name))):
            return name
    if estimate.covariance is not None and not np.all(np.isfinite(estimate.covariance)):
        estimate.covariance = None
    return None


def stored_sampler_config(meta: Dict, path='checkpoint') -> SamplerConfig:
    """Return the sampler settings a checkpoint carries, or the defaults if it has none."""
    stored = meta.get('extra', {}).get('sampler')
    if stored is None:
        return SamplerConfig()
    try:
        return SamplerConfig.from_dict(dict(stored))
    except (TypeError, ValueError) as error:
        raise CheckpointError('%s: invalid stored sampler settings: %s' % (path, error)) \
            from error


def backproject_instances(depth_m: np.ndarray, intrinsics: CameraIntrinsics,
                          instances: Sequence[Instance], min_depth: float = MIN_DEPTH_M,
                          max_depth: float = MAX_DEPTH_M
                          ) -> Tuple[Dict[int, np.ndarray], List[Tuple[int, str]]]:
    """Back-project every instance's valid masked depth (metres) once.

    Returns {instance id: points (M, 3)} and (instance id, reason) for masks whose shape
    does not match the depth image.
    """
    clouds, skipped = {}, []
    for instance in instances:
        try:
            clouds[instance.instance_id] = backproject(depth_m, instance.mask, intrinsics,
                                                       min_depth, max_depth)
        except MaskShapeError as error:
            skipped.append((instance.instance_id, str(error)))
    return clouds, skipped


def _checked_cloud(points) -> np.ndarray:
    """Return a given per-object cloud as an array; InvalidCloudError if it is not (M, 3) finite.

    Clouds from backproject_instances always pass; a caller of estimate_from_clouds with
    its own clouds gets a skip for that object instead of a failed frame.
    """
    points = np.asarray(points)
    if not np.issubdtype(points.dtype, np.number) or np.iscomplexobj(points):
        raise InvalidCloudError('cloud must be a real numeric array, got dtype %s'
                                % points.dtype)
    if points.ndim != 2 or points.shape[1] != 3:
        raise InvalidCloudError('cloud must be an (M, 3) array, got shape %s' % (points.shape,))
    if not np.isfinite(points).all():
        raise InvalidCloudError('cloud has non-finite points')
    return points


def _check_init_pose(pose: Optional[np.ndarray]):
    """Accept None or a finite 4x4 matrix whose rotation block is orthonormal."""
    if pose is None:
        return
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (4, 4) or not np.isfinite(pose).all():
        raise InvalidInitPoseError('init pose must be a finite 4x4 matrix, got shape %s'
                                   % (pose.shape,))
    rotation = pose[:3, :3]
    if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-3):
        raise InvalidInitPoseError('init pose rotation block is not orthonormal')
