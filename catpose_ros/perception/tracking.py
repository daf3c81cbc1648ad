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

"""Multi-object tracking for the pose node: association, warm starts, loss, re-initialisation.

Each frame runs in two steps around the pose estimator:
1. `plan` matches the frame's observations (segmented instances with the centroid of their
   back-projected points) to tracks of the same category, gated by mask/box IoU and
   centroid distance, solved with the Hungarian method. It says which observation keeps
   which track id and whether to warm start it from the track's pose (GenPose's tracking)
   or to estimate it cold (new, lost, flagged or periodically re-initialised tracks).
2. `update` applies the estimates. A warm-started result that jumped further than the
   configured limits flags its track for a cold re-initialisation on the next frame;
   tracks without a match or an estimate count a missed frame and are deleted after
   `lost_after_frames` misses.
A warm start cannot leave a wrong pose it was given: the sampler starts near it and returns
near it. With `relock_after_frames`, each warm-started object also gets a cold check (a pose
sampled from noise from the same features). A check close to the warm estimate is blended
into it; when the checks of that many consecutive frames agree with each other (after the
track's own motion between them) and all disagree with the track, the track re-locks onto
the latest check.
In estimation mode (`warm_start=False`) every estimate is cold, and association still keeps
track ids stable.
"""

from dataclasses import dataclass, field
import logging
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.transform import Rotation
import torch

from catpose_ros.categories import NOCS_CATEGORIES
from catpose_ros.geometry.backprojection import backproject
from catpose_ros.geometry.camera import CameraIntrinsics, MAX_DEPTH_M, MIN_DEPTH_M
from catpose_ros.geometry.rotation import symmetry_aware_angle
from catpose_ros.geometry.symmetry import closest_about_y
from catpose_ros.geometry.transforms import invert_transform, make_transform
from catpose_ros.perception.instances import Instance

_LOG = logging.getLogger(__name__)

Box = Tuple[int, int, int, int]
Estimate = Tuple[np.ndarray, np.ndarray, np.ndarray]
_INADMISSIBLE = 1e6
_NS_PER_S = 1e9


def _y_symmetric_nocs_categories() -> Tuple[str, ...]:
    return tuple(c.name for c in NOCS_CATEGORIES if c.symmetric_about_y)


def _handle_nocs_categories() -> Tuple[str, ...]:
    return tuple(c.name for c in NOCS_CATEGORIES if c.symmetric_unless_handle_visible)


@dataclass
class TrackingConfig:
    """Tracking parameters (the pose node's tracking parameters map onto these).

    A pair (observation, track) is admissible when the categories agree and either the mask
    IoU (box IoU when masks are not comparable) is at least `min_iou` or the centroids are at
    most `max_centroid_distance_m` apart: a small object that moved further than its own
    width between processed frames has no overlap left but is still close by. Among
    admissible pairs the cost (distance / gate + 1 - IoU) picks the closest, most overlapping.
    An instance needs `min_points` valid depth points to become an observation. Rotation
    jumps of categories in `y_symmetric_categories` ignore rotation about the object y axis.
    With `stable_symmetric_rotation`, the pipeline publishes for those categories (and for
    `handle_categories` while no handle shows) the turn about y nearest the track's previous
    rotation, and on a new track the canonical one (geometry/symmetry.py).
    `relock_after_frames` (0 = no cold checks) is how many consecutive frames a track's cold
    checks must disagree with it, and agree with each other, before it re-locks onto them;
    two poses disagree when they differ by more than `relock_rotation_deg` (symmetry aware)
    or `relock_translation_m`. A cold check that agrees is blended into the warm estimate
    with weight `cold_check_weight` (0 keeps the warm estimate), so small errors of a warm
    start fade instead of persisting. Defaults chosen on the validation sequences
    (models/README.md).
    """

    warm_start: bool = True
    lost_after_frames: int = 5
    max_translation_jump_m: float = 0.10
    max_rotation_jump_deg: float = 45.0
    min_iou: float = 0.1
    max_centroid_distance_m: float = 0.15
    reinit_period_s: float = 0.0
    min_points: int = 1
    y_symmetric_categories: Tuple[str, ...] = field(
        default_factory=_y_symmetric_nocs_categories)
    handle_categories: Tuple[str, ...] = field(default_factory=_handle_nocs_categories)
    stable_symmetric_rotation: bool = True
    relock_after_frames: int = 3
    relock_rotation_deg: float = 15.0
    relock_translation_m: float = 0.05
    cold_check_weight: float = 0.7

    @property
    def cold_checks(self) -> bool:
        """Whether warm-started objects need a cold check beside their warm estimate."""
        return self.warm_start and self.relock_after_frames > 0

    def __post_init__(self):
        if not 0.0 <= self.cold_check_weight <= 1.0:
            raise ValueError('cold_check_weight must lie in [0, 1], got %r'
                             % self.cold_check_weight)
        if int(self.relock_after_frames) < 0:
            raise ValueError('relock_after_frames must be >= 0 (0 = off), got %r'
                             % self.relock_after_frames)
        if int(self.lost_after_frames) < 1:
            raise ValueError('lost_after_frames must be >= 1, got %r' % self.lost_after_frames)
        for name in ('max_translation_jump_m', 'max_rotation_jump_deg',
                     'max_centroid_distance_m', 'relock_rotation_deg', 'relock_translation_m'):
            if not getattr(self, name) > 0:
                raise ValueError('%s must be > 0, got %r' % (name, getattr(self, name)))
        if not 0.0 <= self.min_iou <= 1.0:
            raise ValueError('min_iou must lie in [0, 1], got %r' % self.min_iou)
        if int(self.min_points) < 1:
            raise ValueError('min_points must be >= 1, got %r' % self.min_points)
        if not self.reinit_period_s >= 0:
            raise ValueError('reinit_period_s must be >= 0 (0 = off), got %r'
                             % self.reinit_period_s)


@dataclass
class Observation:
    """One segmented instance in the current frame, as the tracker sees it.

    `centroid` is the camera-frame centroid (metres) of the instance's back-projected
    points; `box` defaults to the instance's box.
    """

    instance: Instance
    centroid: np.ndarray
    box: Optional[Box] = None

    def __post_init__(self):
        self.centroid = np.asarray(self.centroid, dtype=np.float64).reshape(-1)
        if self.centroid.shape != (3,) or not np.all(np.isfinite(self.centroid)):
            raise ValueError('observation centroid must be 3 finite numbers, got %r'
                             % (self.centroid,))
        if self.box is None:
            self.box = tuple(int(v) for v in self.instance.box)

    @property
    def category(self) -> str:
        """Category of the observed instance."""
        return self.instance.category


@dataclass
class Track:
    """One tracked object: its stable id, last pose and size, and its loss bookkeeping."""

    track_id: int
    category: str
    pose: np.ndarray
    size: np.ndarray
    stamp_ns: int
    centroid: np.ndarray
    box: Box
    mask: Optional[np.ndarray] = None
    missed_frames: int = 0
    age: int = 1
    needs_reinit: bool = False
    last_cold_stamp_ns: int = 0
    cold_check: Optional[np.ndarray] = None
    disagreements: int = 0

    @property
    def state(self) -> str:
        """Return 'tracking', or 'lost' when the next estimate must start cold."""
        return 'lost' if self.missed_frames > 0 or self.needs_reinit else 'tracking'

    @property
    def rotation(self) -> np.ndarray:
        """Rotation of the last pose (object -> camera)."""
        return self.pose[:3, :3]

    @property
    def translation(self) -> np.ndarray:
        """Translation of the last pose (object centre in the camera frame)."""
        return self.pose[:3, 3]


@dataclass(frozen=True)
class PlannedObservation:
    """What to do with one observation: its track id and the warm-start pose, if any.

    `start` is 'warm' (init_pose set), or why the estimate is cold: 'new', 'lost',
    'reinit' (flagged jump), 'periodic' or 'estimation' (estimation mode). A published
    pose whose warm estimate was replaced by its cold check says 'relock' (never planned).
    """

    track_id: int
    init_pose: Optional[np.ndarray]
    start: str

    @property
    def is_new(self) -> bool:
        """Whether this observation starts a new track."""
        return self.start == 'new'


@dataclass
class TrackingPlan:
    """The association for one frame; `assignments[i]` belongs to `observations[i]`."""

    stamp_ns: int
    observations: List[Observation]
    assignments: List[PlannedObservation]
    unmatched_track_ids: List[int]
    reset: bool = False
    generation: int = 0

    @property
    def init_poses(self) -> Dict[int, np.ndarray]:
        """Warm-start poses by instance id (only the observations to warm start)."""
        return {o.instance.instance_id: a.init_pose
                for o, a in zip(self.observations, self.assignments) if a.init_pose is not None}

    @property
    def track_ids(self) -> Dict[int, int]:
        """Track id planned for each observation, by instance id."""
        return {o.instance.instance_id: a.track_id
                for o, a in zip(self.observations, self.assignments)}

    def by_observation(self, estimates: Sequence[Any]) -> Dict[int, Any]:
        """Key estimates (anything with an instance_id) by the index of their observation."""
        index_of = {o.instance.instance_id: i for i, o in enumerate(self.observations)}
        unknown = [e.instance_id for e in estimates if e.instance_id not in index_of]
        if unknown:
            raise ValueError('estimates for instance ids %s that the plan does not hold'
                             % unknown)
        return {index_of[e.instance_id]: e for e in estimates}


@dataclass(frozen=True)
class JumpReport:
    """A warm-started estimate that moved further than plausible from its previous pose."""

    track_id: int
    translation_m: float
    rotation_deg: float


@dataclass
class TrackingUpdate:
    """What `update` changed: track ids updated, created, missed, deleted and jumps found.

    `failed` lists observation indices without a usable estimate; `relocked` those whose
    track took the cold check instead of the warm estimate; `poses` what each observation's
    track took (its estimate, blended with or replaced by its cold check); `stale` means the
    plan predates a reset and nothing was applied.
    """

    updated: List[int] = field(default_factory=list)
    created: List[int] = field(default_factory=list)
    missed: List[int] = field(default_factory=list)
    deleted: List[int] = field(default_factory=list)
    jumps: List[JumpReport] = field(default_factory=list)
    failed: List[int] = field(default_factory=list)
    relocked: List[int] = field(default_factory=list)
    poses: Dict[int, Estimate] = field(default_factory=dict)
    stale: bool = False


def box_iou(a: Box, b: Box) -> float:
    """Return the IoU of two (x1, y1, x2, y2) pixel boxes; 0 when either is empty."""
    inter_w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (max(0, a[2] - a[0]) * max(0, a[3] - a[1])
             + max(0, b[2] - b[0]) * max(0, b[3] - b[1]) - inter)
    return inter / union if union > 0 else 0.0


def mask_iou(a: np.ndarray, b: np.ndarray, box_a: Box, box_b: Box) -> float:
    """Return the IoU of two boolean masks of one shape, counted inside the boxes' overlap."""
    x1, y1 = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
    x2, y2 = min(box_a[2], box_b[2]), min(box_a[3], box_b[3])
    area_a, area_b = int(np.count_nonzero(a)), int(np.count_nonzero(b))
    inter = 0
    if x2 > x1 and y2 > y1:
        inter = int(np.count_nonzero(a[y1:y2, x1:x2] & b[y1:y2, x1:x2]))
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


class MultiObjectTracker:
    """Keep stable ids and warm-start poses for several objects across frames (ROS-free)."""

    def __init__(self, config: Optional[TrackingConfig] = None):
        self.config = config or TrackingConfig()
        self._tracks: Dict[int, Track] = {}
        self._next_id = 1
        self._last_stamp_ns: Optional[int] = None
        self._pending: Optional[TrackingPlan] = None
        self._generation = 0

    @property
    def tracks(self) -> Tuple[Track, ...]:
        """Live tracks, by id."""
        return tuple(self._tracks[k] for k in sorted(self._tracks))

    def track(self, track_id: int) -> Track:
        """Return the live track with this id (KeyError when deleted or never made)."""
        return self._tracks[track_id]

    def previous_rotation(self, track_id: int) -> Optional[np.ndarray]:
        """Rotation of a live track's last pose, or None for a new (or deleted) track."""
        track = self._tracks.get(track_id)
        return None if track is None else track.rotation.copy()

    def reset(self) -> None:
        """Forget every track (the ~/reset service); ids keep counting up."""
        self._tracks.clear()
        self._last_stamp_ns = None
        self._pending = None
        self._generation += 1

    def observe(self, depth_m: np.ndarray, intrinsics: CameraIntrinsics,
                instances: Sequence[Instance], min_depth: float = MIN_DEPTH_M,
                max_depth: float = MAX_DEPTH_M) -> Tuple[List[Observation], List[Tuple[int, str]]]:
        """Turn instances into observations centred on their valid masked depth points.

        Returns the observations and (instance id, reason) for instances left out.
        """
        clouds = {instance.instance_id: backproject(depth_m, instance.mask, intrinsics,
                                                    min_depth, max_depth)
                  for instance in instances}
        return self.observe_clouds(instances, clouds)

    def observe_clouds(self, instances: Sequence[Instance], clouds: Mapping[int, np.ndarray]
                       ) -> Tuple[List[Observation], List[Tuple[int, str]]]:
        """Like observe, from points already back-projected (instance id -> (M, 3)).

        Instances without a cloud are left out without a reason (their caller gave one).
        """
        observations, skipped = [], []
        for instance in instances:
            points = clouds.get(instance.instance_id)
            if points is None:
                continue
            if len(points) < self.config.min_points:
                skipped.append((instance.instance_id, '%d valid depth points, tracking needs %d'
                                % (len(points), self.config.min_points)))
                continue
            observations.append(Observation(instance, points.mean(axis=0)))
        return observations, skipped

    # ----------------------------------------------------------------------------- plan

    def plan(self, stamp_ns: int,
             observations: Sequence[Union[Observation, tuple]]) -> TrackingPlan:
        """Associate this frame's observations with tracks and choose warm or cold starts."""
        stamp_ns = int(stamp_ns)
        observations = [o if isinstance(o, Observation) else Observation(*o)
                        for o in observations]
        went_back = self._reset_if_time_went_back(stamp_ns)
        tracks = list(self.tracks)
        matches = self._associate(observations, tracks)
        assignments = []
        for index in range(len(observations)):
            track = matches.get(index)
            if track is None:
                assignments.append(PlannedObservation(self._next_id, None, 'new'))
                self._next_id += 1
                continue
            start = self._start_for(track, stamp_ns)
            init = track.pose.copy() if start == 'warm' else None
            assignments.append(PlannedObservation(track.track_id, init, start))
        matched_ids = {t.track_id for t in matches.values()}
        plan = TrackingPlan(
            stamp_ns=stamp_ns, observations=observations, assignments=assignments,
            unmatched_track_ids=[t.track_id for t in tracks if t.track_id not in matched_ids],
            reset=went_back, generation=self._generation)
        self._pending = plan
        return plan

    def _reset_if_time_went_back(self, stamp_ns: int) -> bool:
        last = self._last_stamp_ns
        went_back = last is not None and stamp_ns < last
        if went_back:
            _LOG.warning('time went backwards (%.3f s -> %.3f s: bag loop or sim time reset); '
                         'dropping %d tracks', last / _NS_PER_S, stamp_ns / _NS_PER_S,
                         len(self._tracks))
            self.reset()
        self._last_stamp_ns = stamp_ns
        return went_back

    def _start_for(self, track: Track, stamp_ns: int) -> str:
        period_ns = self.config.reinit_period_s * _NS_PER_S
        if not self.config.warm_start:
            return 'estimation'
        if track.needs_reinit:
            return 'reinit'
        if track.missed_frames > 0:
            return 'lost'
        if period_ns > 0 and stamp_ns - track.last_cold_stamp_ns >= period_ns:
            return 'periodic'
        return 'warm'

    def _associate(self, observations: List[Observation],
                   tracks: List[Track]) -> Dict[int, Track]:
        """Match observations to tracks by minimum total cost over admissible pairs."""
        if not observations or not tracks:
            return {}
        cost = np.array([[self._pair_cost(o, t) for t in tracks] for o in observations])
        rows, cols = linear_sum_assignment(cost)
        return {int(r): tracks[c] for r, c in zip(rows, cols) if cost[r, c] < _INADMISSIBLE}

    def _pair_cost(self, observation: Observation, track: Track) -> float:
        """Return centroid distance (in gate units) + (1 - IoU), or _INADMISSIBLE."""
        if observation.category != track.category:
            return _INADMISSIBLE
        distance = float(np.linalg.norm(observation.centroid - track.centroid))
        overlap = self._overlap(observation, track)
        gate = self.config.max_centroid_distance_m
        if distance > gate and overlap < self.config.min_iou:
            return _INADMISSIBLE
        scaled = min(distance / gate, 2.0) if math.isfinite(gate) else 0.0
        return scaled + (1.0 - overlap)

    @staticmethod
    def _overlap(observation: Observation, track: Track) -> float:
        mask = observation.instance.mask
        if track.mask is not None and mask is not None and mask.shape == track.mask.shape \
                and mask.any() and track.mask.any():
            return mask_iou(mask.astype(bool, copy=False), track.mask,
                            observation.box, track.box)
        return box_iou(observation.box, track.box)

    # --------------------------------------------------------------------------- update

    def update(self, stamp_ns: int, plan: TrackingPlan,
               estimates: Mapping[int, Optional[Estimate]],
               cold_checks: Optional[Mapping[int, Optional[Estimate]]] = None
               ) -> TrackingUpdate:
        """Apply estimates {observation index: (R 3x3, t (3,), size (3,))} of a plan.

        An observation without an estimate (missing key, None or non-finite values) counts
        as a missed frame for its track; every other track updates normally. cold_checks
        holds, in the same form, cold estimates of warm-started observations (re-locking).
        """
        if plan.generation != self._generation:
            _LOG.info('tracking plan for %.3f s predates a reset; ignoring its estimates',
                      plan.stamp_ns / _NS_PER_S)
            return TrackingUpdate(stale=True)
        if plan is not self._pending or int(stamp_ns) != plan.stamp_ns:
            raise ValueError('update() takes the plan (and stamp) of the latest plan() call')
        parsed = self._parse_estimates(estimates, len(plan.assignments))
        checks = self._parse_estimates(cold_checks or {}, len(plan.assignments))
        self._pending = None
        report = TrackingUpdate()
        for index, (observation, planned) in enumerate(zip(plan.observations,
                                                           plan.assignments)):
            estimate = parsed.get(index)
            track = self._tracks.get(planned.track_id)
            if estimate is None:
                report.failed.append(index)
                if track is not None:
                    self._miss(track, report)
            elif track is None:
                self._create(planned.track_id, observation, estimate, plan.stamp_ns, report)
                report.poses[index] = estimate
            else:
                estimate, relocked = self._reconcile(track, planned, estimate,
                                                     checks.get(index))
                if relocked:
                    report.relocked.append(index)
                report.poses[index] = estimate
                self._apply(track, planned, observation, estimate, plan.stamp_ns, report,
                            relocked)
        for track_id in plan.unmatched_track_ids:
            if track_id in self._tracks:
                self._miss(self._tracks[track_id], report)
        self._delete_lost(report)
        return report

    @staticmethod
    def _parse_estimates(estimates: Mapping[int, Optional[Estimate]],
                         count: int) -> Dict[int, Estimate]:
        """Check every estimate before anything changes; drop non-finite ones."""
        unknown = [k for k in estimates if not 0 <= int(k) < count]
        if unknown:
            raise ValueError('estimates for observation indices %s, plan has %d observations'
                             % (unknown, count))
        parsed = {}
        for index, estimate in estimates.items():
            if estimate is None:
                continue
            rotation, translation, size = (np.asarray(v, dtype=np.float64) for v in estimate)
            if rotation.shape != (3, 3) or translation.shape != (3,) or size.shape != (3,):
                raise ValueError('estimate %d must be (R 3x3, t (3,), size (3,)), got shapes '
                                 '%s %s %s' % (index, rotation.shape, translation.shape,
                                               size.shape))
            if all(np.all(np.isfinite(v)) for v in (rotation, translation, size)):
                parsed[int(index)] = (rotation, translation, size)
        return parsed

    def _create(self, track_id: int, observation: Observation, estimate: Estimate,
                stamp_ns: int, report: TrackingUpdate) -> None:
        rotation, translation, size = estimate
        self._tracks[track_id] = Track(
            track_id=track_id, category=observation.category,
            pose=make_transform(rotation, translation), size=size, stamp_ns=stamp_ns,
            centroid=observation.centroid, box=observation.box,
            mask=_bool_mask(observation.instance.mask), last_cold_stamp_ns=stamp_ns,
            cold_check=make_transform(rotation, translation))
        report.created.append(track_id)

    def _reconcile(self, track: Track, planned: PlannedObservation, estimate: Estimate,
                   check: Optional[Estimate]) -> Tuple[Estimate, bool]:
        """Return the estimate the track takes, and whether it re-locked onto its cold check.

        A cold check that agrees with the warm estimate is blended in with weight
        `cold_check_weight`; one that disagrees counts a frame towards re-locking, and
        continues the count when it agrees with the previous check carried along by the
        track's motion since then. A cold estimate is its own check.
        """
        config = self.config
        if planned.start != 'warm':
            track.cold_check = make_transform(estimate[0], estimate[1])
            track.disagreements = 0
            return estimate, False
        if not config.cold_checks or check is None:
            track.cold_check, track.disagreements = None, 0
            return estimate, False
        warm = make_transform(estimate[0], estimate[1])
        cold = make_transform(check[0], check[1])
        previous, track.cold_check = track.cold_check, cold
        if not self._differ(track.category, warm, cold):
            track.disagreements = 0
            return self._blend(track.category, estimate, check), False
        if previous is not None:
            previous = warm @ invert_transform(track.pose) @ previous
        agrees = previous is not None and not self._differ(track.category, previous, cold)
        track.disagreements = track.disagreements + 1 if agrees else 1
        if track.disagreements < config.relock_after_frames:
            return estimate, False
        _LOG.debug('track %d re-locks onto its cold estimate (%d frames of disagreement)',
                   track.track_id, track.disagreements)
        track.disagreements = 0
        return check, True

    def _blend(self, category: str, warm: Estimate, cold: Estimate) -> Estimate:
        """Blend a cold check into the warm estimate; symmetric bodies first turn it about y.

        Turned to the warm estimate's turn about the symmetry axis, the check only moves
        what it can observe (the axis and the position).
        """
        weight = self.config.cold_check_weight
        if weight <= 0.0:
            return warm
        if category in self.config.y_symmetric_categories:
            aligned = closest_about_y(cold[0], warm[0])
            cold = cold if aligned is None else (aligned, cold[1], cold[2])
        return _blend(warm, cold, weight)

    def _differ(self, category: str, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether two poses differ by more than the re-lock limits."""
        moved = float(np.linalg.norm(a[:3, 3] - b[:3, 3]))
        turned = math.degrees(self._angle(category, a[:3, :3], b[:3, :3]))
        return moved > self.config.relock_translation_m or \
            turned > self.config.relock_rotation_deg

    def _angle(self, category: str, a: np.ndarray, b: np.ndarray) -> float:
        """Rotation angle (radians) between two rotations, about y ignored where symmetric."""
        symmetric = category in self.config.y_symmetric_categories
        return float(symmetry_aware_angle(torch.from_numpy(np.ascontiguousarray(a)),
                                          torch.from_numpy(np.ascontiguousarray(b)),
                                          symmetric))

    def _apply(self, track: Track, planned: PlannedObservation, observation: Observation,
               estimate: Estimate, stamp_ns: int, report: TrackingUpdate,
               relocked: bool = False) -> None:
        """Move a track to its new estimate; a warm one that jumped is flagged."""
        rotation, translation, size = estimate
        warm = planned.start == 'warm' and not relocked
        jump = self._implausible_jump(track, rotation, translation) if warm else None
        track.pose = make_transform(rotation, translation)
        track.size = size
        track.stamp_ns = stamp_ns
        track.centroid = observation.centroid
        track.box = observation.box
        track.mask = _bool_mask(observation.instance.mask)
        track.missed_frames = 0
        track.age += 1
        track.needs_reinit = jump is not None
        if not warm:
            track.last_cold_stamp_ns = stamp_ns
        if jump is not None:
            report.jumps.append(jump)
        report.updated.append(track.track_id)

    def _implausible_jump(self, track: Track, rotation: np.ndarray,
                          translation: np.ndarray) -> Optional[JumpReport]:
        """Report the jump from the track's pose when it exceeds a configured limit."""
        moved = float(np.linalg.norm(translation - track.translation))
        turned = math.degrees(self._angle(track.category, track.rotation, rotation))
        if moved > self.config.max_translation_jump_m or \
                turned > self.config.max_rotation_jump_deg:
            return JumpReport(track.track_id, moved, turned)
        return None

    def _miss(self, track: Track, report: TrackingUpdate) -> None:
        track.missed_frames += 1
        track.age += 1
        report.missed.append(track.track_id)

    def _delete_lost(self, report: TrackingUpdate) -> None:
        for track in self.tracks:
            if track.missed_frames >= self.config.lost_after_frames:
                del self._tracks[track.track_id]
                report.deleted.append(track.track_id)


def _bool_mask(mask: Optional[np.ndarray]) -> Optional[np.ndarray]:
    return None if mask is None else np.asarray(mask).astype(bool, copy=False)


def _blend(warm: Estimate, cold: Estimate, weight: float) -> Estimate:
    """Move `weight` of the way from the warm estimate to the cold one (rotation on SO(3))."""
    turn = Rotation.from_matrix(warm[0].T @ cold[0]).as_rotvec() * weight
    rotation = warm[0] @ Rotation.from_rotvec(turn).as_matrix()
    return (rotation, (1.0 - weight) * warm[1] + weight * cold[1],
            (1.0 - weight) * warm[2] + weight * cold[2])
