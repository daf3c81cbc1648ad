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

"""One depth frame in, tracked metric poses out: the tracker and the estimator joined.

This is the whole perception step without any ROS type: the pose node, the offline bag
processor and `catpose demo` all call `FramePipeline.process`.
In tracking mode each matched object warm-starts from its track's last pose; new, lost and
jumped objects are estimated cold; all of them go through the sampler in one batch, with a
cold check beside each warm start when the tracker asks for them (tracking.py).
For objects symmetric about y (and mugs whose handle does not show) the published turn about
y is the one closest to the track's previous rotation, so their frames do not spin.
"""

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.geometry.symmetry import canonical_about_y, closest_about_y, handle_visible
from catpose_ros.perception.estimator import (backproject_instances, PoseEstimate,
                                              PoseEstimator)
from catpose_ros.perception.instances import Instance
from catpose_ros.perception.tracking import MultiObjectTracker, TrackingConfig, TrackingPlan
from catpose_ros.timing import timed


@dataclass
class TrackedPose:
    """A pose estimate with the id of the track it belongs to and how it was started."""

    track_id: int
    estimate: PoseEstimate
    start: str


@dataclass
class FrameResult:
    """Everything one frame produced: tracked poses, skipped objects, stage latencies.

    latency_ms: associate, estimate (with its parts backproject, encode, sample, size),
    track_update and frame_total. clouds: by instance id, the points the network read.
    """

    stamp_ns: int
    poses: List[TrackedPose] = field(default_factory=list)
    skipped: List[Tuple[int, str]] = field(default_factory=list)
    latency_ms: Dict[str, float] = field(default_factory=dict)
    tracks_reset: bool = False
    jumps: List[int] = field(default_factory=list)
    clouds: Dict[int, np.ndarray] = field(default_factory=dict)


class FramePipeline:
    """Associate, estimate (one batch) and update tracks for each incoming frame.

    Each mask is back-projected once per frame; the tracker reads the points' centroid and
    the estimator resamples the same points. The depth range defaults to the estimator's
    and must agree with it.
    """

    def __init__(self, estimator: PoseEstimator, tracking: Optional[TrackingConfig] = None,
                 min_depth: Optional[float] = None, max_depth: Optional[float] = None):
        self.estimator = estimator
        self.tracker = MultiObjectTracker(tracking or TrackingConfig())
        own = (getattr(estimator, 'min_depth', None), getattr(estimator, 'max_depth', None))
        self.min_depth = own[0] if min_depth is None else min_depth
        self.max_depth = own[1] if max_depth is None else max_depth
        if None in (self.min_depth, self.max_depth):
            raise ValueError('give min_depth and max_depth (the estimator has none)')
        if None not in own and own != (self.min_depth, self.max_depth):
            raise ValueError("depth range %s differs from the estimator's %s: one "
                             'back-projection serves both' % ((self.min_depth,
                                                               self.max_depth), own))

    def reset(self) -> None:
        """Forget every track (the next frame is estimated cold)."""
        self.tracker.reset()

    def process(self, stamp_ns: int, depth_m: np.ndarray, intrinsics: CameraIntrinsics,
                instances: Sequence[Instance]) -> FrameResult:
        """Estimate the poses of this frame's instances; bad instances are skipped, not fatal.

        depth_m is metric depth (0 where invalid) on the same grid as the instance masks.
        """
        result = FrameResult(int(stamp_ns))
        latency = result.latency_ms
        with timed(latency, 'frame_total'):
            intrinsics.check_image(depth_m)
            with timed(latency, 'backproject'):
                clouds, skipped = backproject_instances(depth_m, intrinsics, instances,
                                                        self.min_depth, self.max_depth)
            with timed(latency, 'associate'):
                observations, too_few = self.tracker.observe_clouds(instances, clouds)
                result.skipped.extend(skipped + too_few)
                plan = self.tracker.plan(result.stamp_ns, observations)
                result.tracks_reset = bool(plan.reset)
            estimation = self.estimator.estimate_from_clouds(
                [o.instance for o in plan.observations], clouds, init_poses=plan.init_poses,
                cold_checks=self.tracker.config.cold_checks)
            result.skipped.extend(estimation.skipped)
            result.clouds = estimation.clouds
            # The estimator's stages, its total as 'estimate' (which includes back-projection
            # here); the clouds were back-projected above, not by the estimator.
            latency.update({'estimate' if stage == 'total' else stage: ms
                            for stage, ms in estimation.timings_ms.items()
                            if stage != 'backproject'})
            latency['estimate'] = latency.get('estimate', 0.0) + latency['backproject']
            with timed(latency, 'track_update'):
                self._update_tracks(result, plan, estimation.estimates,
                                    list(estimation.cold_checks.values()), clouds)
        return result

    def _update_tracks(self, result: FrameResult, plan: TrackingPlan,
                       estimates: Sequence[PoseEstimate], checks: Sequence[PoseEstimate],
                       clouds: Dict[int, np.ndarray]) -> None:
        """Feed the estimates to the tracker; the frame's poses are those it accepted.

        A re-locked object publishes its cold check, a warm one its estimate blended with its
        cold check (what its track took).
        """
        by_index = self._resolved(plan, estimates, clouds)
        checks_by_index = self._resolved(plan, checks, clouds)
        update = self.tracker.update(result.stamp_ns, plan, _as_tracker_input(by_index),
                                     _as_tracker_input(checks_by_index))
        result.jumps = [jump.track_id for jump in update.jumps]
        if update.stale:
            return
        failed, relocked = set(update.failed), set(update.relocked)
        result.poses = [
            TrackedPose(plan.assignments[index].track_id, checks_by_index[index], 'relock')
            if index in relocked else
            TrackedPose(plan.assignments[index].track_id,
                        _taken(estimate, update.poses[index]), plan.assignments[index].start)
            for index, estimate in sorted(by_index.items()) if index not in failed]

    def _resolved(self, plan: TrackingPlan, estimates: Sequence[PoseEstimate],
                  clouds: Dict[int, np.ndarray]) -> Dict[int, PoseEstimate]:
        """Key estimates by observation index, symmetric turns resolved against the tracks."""
        by_index = plan.by_observation(estimates)
        return {index: self._resolve_symmetry(estimate, plan.assignments[index].track_id,
                                              clouds[estimate.instance_id])
                for index, estimate in by_index.items()}

    def _resolve_symmetry(self, estimate: PoseEstimate, track_id: int,
                          cloud: np.ndarray) -> PoseEstimate:
        """Turn a symmetric object's estimate about y to the track's previous rotation.

        A new track of a body of revolution gets the canonical turn (x towards the camera);
        a mug without a visible handle keeps the network's turn until it has a history.
        """
        config = self.tracker.config
        category = estimate.category
        if not config.stable_symmetric_rotation:
            return estimate
        previous = self.tracker.previous_rotation(track_id)
        if category in config.handle_categories and category not in \
                config.y_symmetric_categories:
            if previous is None or handle_visible(cloud, estimate.rotation):
                return estimate
        elif category not in config.y_symmetric_categories:
            return estimate
        rotation = None if previous is None else closest_about_y(estimate.rotation, previous)
        if rotation is None:
            rotation = canonical_about_y(estimate.rotation, estimate.translation)
        return replace(estimate, rotation=rotation)


def _as_tracker_input(estimates: Dict[int, PoseEstimate]):
    """Return {observation index: (R, t, size)}, the form the tracker takes."""
    return {index: (e.rotation, e.translation, e.size) for index, e in estimates.items()}


def _taken(estimate: PoseEstimate, taken) -> PoseEstimate:
    """Return the estimate with the (R, t, size) its track took."""
    rotation, translation, size = taken
    if rotation is estimate.rotation and translation is estimate.translation:
        return estimate
    return replace(estimate, rotation=rotation, translation=translation, size=size)
