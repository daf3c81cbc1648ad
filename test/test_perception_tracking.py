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

"""Multi-object tracker: stable ids, warm starts, misses, jumps, resets."""

from dataclasses import dataclass
import logging
from typing import Dict, List, Optional, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.perception.instances import Instance
from catpose_ros.perception.tracking import (
    box_iou, mask_iou, MultiObjectTracker, Observation, TrackingConfig, TrackingPlan,
    TrackingUpdate)

CAMERA = CameraIntrinsics(fx=200.0, fy=200.0, cx=80.0, cy=60.0, width=160, height=120)
SECOND = 1_000_000_000
FRAME = SECOND // 10


@dataclass
class Thing:
    """A simulated object: what the segmenter and the estimator would report for it."""

    category: str
    translation: np.ndarray
    rotation: np.ndarray
    radius_m: float = 0.04

    def observation(self, instance_id: int) -> Observation:
        """Project the object to a square mask around its image position."""
        x, y, z = self.translation
        u, v = CAMERA.fx * x / z + CAMERA.cx, CAMERA.fy * y / z + CAMERA.cy
        half = CAMERA.fx * self.radius_m / z
        x1, y1 = int(max(0, round(u - half))), int(max(0, round(v - half)))
        x2 = int(min(CAMERA.width, round(u + half)))
        y2 = int(min(CAMERA.height, round(v + half)))
        mask = np.zeros((CAMERA.height, CAMERA.width), dtype=bool)
        mask[y1:y2, x1:x2] = True
        instance = Instance(instance_id, self.category, mask, 0.9, (x1, y1, x2, y2))
        return Observation(instance, self.translation)

    def estimate(self):
        return self.rotation, self.translation, np.array([0.06, 0.1, 0.06])


def _thing(category: str, x: float, y: float = 0.0, z: float = 0.7) -> Thing:
    return Thing(category, np.array([x, y, z]), np.eye(3))


def _step(tracker: MultiObjectTracker, stamp_ns: int, things: Sequence[Thing],
          fail: Sequence[int] = ()) -> (TrackingPlan, TrackingUpdate):
    """Run one frame; things listed in `fail` (indices) get no estimate."""
    observations = [t.observation(i + 1) for i, t in enumerate(things)]
    plan = tracker.plan(stamp_ns, observations)
    estimates = {i: t.estimate() for i, t in enumerate(things) if i not in fail}
    return plan, tracker.update(stamp_ns, plan, estimates)


def _ids(plan: TrackingPlan) -> List[int]:
    return [a.track_id for a in plan.assignments]


def test_ids_stay_stable_and_warm_start_from_the_previous_pose():
    tracker = MultiObjectTracker()
    things = [_thing('mug', -0.15), _thing('can', 0.0), _thing('mug', 0.15, z=0.8)]
    plan, report = _step(tracker, 0, things)
    first_ids = _ids(plan)
    assert [a.start for a in plan.assignments] == ['new'] * 3
    assert sorted(report.created) == sorted(first_ids) and len(set(first_ids)) == 3
    for frame in range(1, 10):
        previous = [t.translation.copy() for t in things]
        for thing in things:
            thing.translation = thing.translation + np.array([0.01, -0.005, 0.004])
        plan, report = _step(tracker, frame * FRAME, things)
        assert _ids(plan) == first_ids
        assert [a.start for a in plan.assignments] == ['warm'] * 3
        for assignment, before in zip(plan.assignments, previous):
            np.testing.assert_allclose(assignment.init_pose[:3, 3], before)
        assert report.jumps == [] and report.missed == [] and report.deleted == []
    assert all(t.age == 10 and t.state == 'tracking' for t in tracker.tracks)


def test_same_category_objects_crossing_keep_ids_by_centroid_gate():
    tracker = MultiObjectTracker()
    # Equal sizes in the image: the masks of the two cans look alike when they pass.
    near = Thing('can', np.array([-0.15, 0.0, 0.6]), np.eye(3), radius_m=0.04)
    far = Thing('can', np.array([0.15, 0.0, 0.8]), np.eye(3), radius_m=0.04 * 0.8 / 0.6)
    rng = np.random.default_rng(1)
    ids_by_object: Dict[str, int] = {}
    largest_overlap = 0.0
    for frame in range(11):
        near.translation[0] = -0.15 + 0.03 * frame
        far.translation[0] = 0.15 - 0.03 * frame
        named = [('near', near), ('far', far)]
        named = [named[i] for i in rng.permutation(2)]
        plan, _ = _step(tracker, frame * FRAME, [thing for _, thing in named])
        for (name, _), track_id in zip(named, _ids(plan)):
            assert ids_by_object.setdefault(name, track_id) == track_id
        near_obs, far_obs = near.observation(1), far.observation(2)
        largest_overlap = max(largest_overlap, mask_iou(
            near_obs.instance.mask, far_obs.instance.mask, near_obs.box, far_obs.box))
    # The masks overlapped in the image while passing: only the 3D centroids told them apart.
    assert largest_overlap > 0.9
    assert len(set(ids_by_object.values())) == 2


def test_track_survives_fewer_than_n_misses_and_is_deleted_at_n():
    config = TrackingConfig(lost_after_frames=3)
    tracker = MultiObjectTracker(config)
    mug, can = _thing('mug', -0.1), _thing('can', 0.1)
    plan, _ = _step(tracker, 0, [mug, can])
    mug_id, can_id = _ids(plan)
    for frame in (1, 2):
        _, report = _step(tracker, frame * FRAME, [can])
        assert report.missed == [mug_id]
    assert tracker.track(mug_id).state == 'lost' and tracker.track(mug_id).missed_frames == 2
    plan, report = _step(tracker, 3 * FRAME, [mug, can])
    assert _ids(plan) == [mug_id, can_id]
    assert [a.start for a in plan.assignments] == ['lost', 'warm']
    assert plan.assignments[0].init_pose is None
    assert tracker.track(mug_id).state == 'tracking'
    for frame in (4, 5, 6):
        _, report = _step(tracker, frame * FRAME, [can])
    assert report.deleted == [mug_id]
    assert [t.track_id for t in tracker.tracks] == [can_id]
    plan, _ = _step(tracker, 7 * FRAME, [mug, can])
    assert plan.assignments[0].is_new and plan.assignments[0].track_id > can_id


def test_implausible_translation_jump_forces_a_cold_start_next_frame():
    tracker = MultiObjectTracker()
    mug = _thing('mug', 0.0)
    plan, _ = _step(tracker, 0, [mug])
    track_id = _ids(plan)[0]
    observation = mug.observation(1)
    plan = tracker.plan(FRAME, [observation])
    assert plan.assignments[0].start == 'warm'
    jumped = (mug.rotation, mug.translation + np.array([0.0, 0.0, 0.2]), np.ones(3))
    report = tracker.update(FRAME, plan, {0: jumped})
    assert [j.track_id for j in report.jumps] == [track_id]
    assert report.jumps[0].translation_m == pytest.approx(0.2)
    assert tracker.track(track_id).state == 'lost'
    plan, report = _step(tracker, 2 * FRAME, [mug])
    assert plan.assignments[0].start == 'reinit' and plan.assignments[0].init_pose is None
    assert report.jumps == []  # cold results are never judged as jumps
    plan, _ = _step(tracker, 3 * FRAME, [mug])
    assert plan.assignments[0].start == 'warm' and _ids(plan) == [track_id]


def _turned(thing: Thing, axis: str, degrees: float):
    rotation = thing.rotation @ Rotation.from_euler(axis, degrees, degrees=True).as_matrix()
    return rotation, thing.translation, np.ones(3)


@pytest.mark.parametrize('category, axis, degrees, is_jump', [
    ('can', 'y', 90.0, False),
    ('bottle', 'y', 170.0, False),
    ('can', 'x', 60.0, True),
    ('camera', 'y', 90.0, True),
    ('camera', 'x', 30.0, False),
])
def test_rotation_jump_ignores_the_symmetry_axis(category, axis, degrees, is_jump):
    tracker = MultiObjectTracker()
    thing = _thing(category, 0.0)
    _step(tracker, 0, [thing])
    plan = tracker.plan(FRAME, [thing.observation(1)])
    report = tracker.update(FRAME, plan, {0: _turned(thing, axis, degrees)})
    assert bool(report.jumps) == is_jump
    if is_jump:
        assert report.jumps[0].rotation_deg == pytest.approx(degrees, abs=1e-6)


def test_failed_estimate_counts_as_a_miss_without_disturbing_others():
    tracker = MultiObjectTracker()
    mug, laptop = _thing('mug', -0.1), _thing('laptop', 0.1)
    plan, _ = _step(tracker, 0, [mug, laptop])
    mug_id, laptop_id = _ids(plan)
    mug_pose = tracker.track(mug_id).pose.copy()
    mug.translation = mug.translation + 0.01
    laptop.translation = laptop.translation + 0.01
    plan = tracker.plan(FRAME, [mug.observation(1), laptop.observation(2)])
    nan_estimate = (np.full((3, 3), np.nan), np.zeros(3), np.ones(3))
    report = tracker.update(FRAME, plan, {0: nan_estimate, 1: laptop.estimate()})
    assert report.failed == [0] and report.missed == [mug_id] and report.updated == [laptop_id]
    np.testing.assert_array_equal(tracker.track(mug_id).pose, mug_pose)
    np.testing.assert_allclose(tracker.track(laptop_id).translation, laptop.translation)
    plan, report = _step(tracker, 2 * FRAME, [mug, laptop], fail=[1])
    assert [a.start for a in plan.assignments] == ['lost', 'warm']
    assert report.updated == [mug_id] and report.missed == [laptop_id]
    assert tracker.track(laptop_id).missed_frames == 1


def test_failed_new_observation_creates_no_track():
    tracker = MultiObjectTracker()
    plan, report = _step(tracker, 0, [_thing('bowl', 0.0)], fail=[0])
    assert plan.assignments[0].is_new and report.created == [] and tracker.tracks == ()


def test_time_going_backwards_resets(caplog):
    tracker = MultiObjectTracker()
    bowl = _thing('bowl', 0.0)
    plan, _ = _step(tracker, 5 * SECOND, [bowl])
    old_id = _ids(plan)[0]
    with caplog.at_level(logging.WARNING, logger='catpose_ros.perception.tracking'):
        plan, report = _step(tracker, 1 * SECOND, [bowl])
    assert plan.reset and 'backwards' in caplog.text
    assert plan.assignments[0].is_new and _ids(plan)[0] != old_id
    assert [t.track_id for t in tracker.tracks] == report.created


def test_reset_clears_tracks_and_makes_pending_plans_stale():
    tracker = MultiObjectTracker()
    bowl = _thing('bowl', 0.0)
    _step(tracker, 0, [bowl])
    plan = tracker.plan(FRAME, [bowl.observation(1)])
    tracker.reset()
    assert tracker.tracks == ()
    assert tracker.update(FRAME, plan, {0: bowl.estimate()}).stale
    assert tracker.tracks == ()
    plan, _ = _step(tracker, 0, [bowl])  # earlier stamps are fine after a reset
    assert plan.assignments[0].is_new and not plan.reset


def test_estimation_mode_is_cold_with_stable_ids():
    tracker = MultiObjectTracker(TrackingConfig(warm_start=False))
    things = [_thing('mug', -0.1), _thing('mug', 0.1)]
    plan, _ = _step(tracker, 0, things)
    ids = _ids(plan)
    for frame in range(1, 4):
        things[0].translation[2] += 0.01
        plan, report = _step(tracker, frame * FRAME, things[::-1])
        assert _ids(plan) == ids[::-1]
        assert all(a.start == 'estimation' and a.init_pose is None for a in plan.assignments)


def test_periodic_reinitialisation():
    tracker = MultiObjectTracker(TrackingConfig(reinit_period_s=0.3))
    mug = _thing('mug', 0.0)
    starts = [_step(tracker, frame * FRAME, [mug])[0].assignments[0].start
              for frame in range(8)]
    assert starts == ['new', 'warm', 'warm', 'periodic', 'warm', 'warm', 'periodic', 'warm']


def test_categories_never_associate():
    tracker = MultiObjectTracker()
    plan, _ = _step(tracker, 0, [_thing('mug', 0.0)])
    plan, report = _step(tracker, FRAME, [_thing('can', 0.0)])
    assert plan.assignments[0].is_new and report.missed == [1]


@pytest.mark.parametrize('config, keeps_track', [
    (TrackingConfig(max_centroid_distance_m=0.05, min_iou=0.9), False),
    (TrackingConfig(max_centroid_distance_m=0.05), True),
    (TrackingConfig(min_iou=0.9), True)])
def test_a_move_is_rejected_only_when_both_gates_fail(config, keeps_track):
    tracker = MultiObjectTracker(config)
    mug = _thing('mug', 0.0)
    _step(tracker, 0, [mug])
    mug.translation = mug.translation + np.array([0.06, 0.0, 0.0])
    plan, _ = _step(tracker, FRAME, [mug])
    assert plan.assignments[0].is_new != keeps_track


def test_update_validates_before_changing_anything():
    tracker = MultiObjectTracker()
    mug = _thing('mug', 0.0)
    _step(tracker, 0, [mug])
    before = tracker.track(1).pose.copy()
    plan = tracker.plan(FRAME, [mug.observation(1)])
    with pytest.raises(ValueError, match='indices'):
        tracker.update(FRAME, plan, {3: mug.estimate()})
    with pytest.raises(ValueError, match='shapes'):
        tracker.update(FRAME, plan, {0: (np.eye(4), np.zeros(3), np.ones(3))})
    with pytest.raises(ValueError, match='latest plan'):
        tracker.update(2 * FRAME, plan, {0: mug.estimate()})
    np.testing.assert_array_equal(tracker.track(1).pose, before)
    tracker.plan(2 * FRAME, [mug.observation(1)])
    with pytest.raises(ValueError, match='latest plan'):
        tracker.update(FRAME, plan, {0: mug.estimate()})


def test_config_validation():
    with pytest.raises(ValueError, match='lost_after_frames'):
        TrackingConfig(lost_after_frames=0)
    with pytest.raises(ValueError, match='min_iou'):
        TrackingConfig(min_iou=1.5)
    with pytest.raises(ValueError, match='reinit_period_s'):
        TrackingConfig(reinit_period_s=-1.0)
    with pytest.raises(ValueError, match='centroid'):
        Observation(_thing('mug', 0.0).observation(1).instance, [0.0, np.nan, 1.0])


def test_plan_lookups_by_instance_id():
    tracker = MultiObjectTracker()
    mug, can = _thing('mug', -0.1), _thing('can', 0.1)
    _step(tracker, 0, [mug, can])
    plan = tracker.plan(FRAME, [can.observation(7), mug.observation(4)])
    assert plan.track_ids == {7: 2, 4: 1}
    np.testing.assert_allclose(plan.init_poses[4][:3, 3], mug.translation)

    @dataclass
    class PoseEstimate:
        instance_id: int
        rotation: np.ndarray
        translation: np.ndarray
        size: np.ndarray

    by_index = plan.by_observation([PoseEstimate(4, *mug.estimate())])
    assert list(by_index) == [1]
    estimates = {i: (e.rotation, e.translation, e.size) for i, e in by_index.items()}
    report = tracker.update(FRAME, plan, estimates)
    assert report.updated == [1] and report.missed == [2]
    with pytest.raises(ValueError, match='instance ids'):
        plan.by_observation([PoseEstimate(9, *mug.estimate())])


def test_observe_centres_on_valid_depth():
    tracker = MultiObjectTracker(TrackingConfig(min_points=10))
    depth = np.zeros((CAMERA.height, CAMERA.width), dtype=np.float32)
    depth[50:70, 70:90] = 0.5
    full = np.zeros_like(depth, dtype=bool)
    full[50:70, 70:90] = True
    empty = np.zeros_like(full)
    empty[0:5, 0:5] = True
    instances = [Instance(1, 'mug', full), Instance(2, 'can', empty)]
    observations, skipped = tracker.observe(depth, CAMERA, instances)
    assert [o.instance.instance_id for o in observations] == [1]
    expected = [0.5 * (79.5 - CAMERA.cx) / CAMERA.fx, 0.5 * (59.5 - CAMERA.cy) / CAMERA.fy, 0.5]
    np.testing.assert_allclose(observations[0].centroid, expected, atol=1e-6)
    assert skipped[0][0] == 2 and 'valid depth points' in skipped[0][1]


def test_iou_helpers():
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
    a = np.zeros((4, 4), dtype=bool)
    a[:2] = True
    b = np.zeros((4, 4), dtype=bool)
    b[1:3] = True
    assert mask_iou(a, b, (0, 0, 4, 2), (0, 1, 4, 3)) == pytest.approx(4 / 12)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 5), st.integers(0, 2 ** 32 - 1))
def test_ids_follow_objects_in_any_order(count, seed):
    rng = np.random.default_rng(seed)
    categories = ['mug', 'can']
    things = [_thing(categories[i % 2], -0.2 + 0.1 * i, z=0.7 + 0.05 * (i % 3))
              for i in range(count)]
    tracker = MultiObjectTracker()
    first: Optional[List[int]] = None
    for frame in range(5):
        for thing in things:
            thing.translation = thing.translation + rng.uniform(-0.01, 0.01, 3)
        order = rng.permutation(count)
        plan, _ = _step(tracker, frame * FRAME, [things[i] for i in order])
        ids = dict(zip(order.tolist(), _ids(plan)))
        first = first or [ids[i] for i in range(count)]
        assert [ids[i] for i in range(count)] == first


def _estimate_turned(thing: Thing, degrees: float, axis=(1.0, 0.0, 0.0)):
    """Return thing's estimate turned by `degrees` about an object axis."""
    rotation, translation, size = thing.estimate()
    turn = Rotation.from_rotvec(np.radians(degrees) * np.asarray(axis)).as_matrix()
    return rotation @ turn, translation, size


def _relock_step(tracker, stamp_ns, thing, warm, check):
    """One frame of one object with its warm estimate and cold check."""
    plan = tracker.plan(stamp_ns, [thing.observation(1)])
    return plan, tracker.update(stamp_ns, plan, {0: warm}, {0: check})


def test_track_relocks_after_consecutive_agreeing_cold_checks():
    thing = _thing('camera', 0.0)
    tracker = MultiObjectTracker(TrackingConfig(relock_after_frames=3))
    wrong = _estimate_turned(thing, 90.0)
    tracker.update(0, tracker.plan(0, [thing.observation(1)]), {0: wrong})   # locked wrong
    relocked = []
    for frame in range(1, 5):
        warm = wrong if frame < 4 else thing.estimate()   # after re-locking, warm is right
        plan, update = _relock_step(tracker, frame * FRAME, thing, warm, thing.estimate())
        assert plan.assignments[0].start == 'warm'
        relocked.append(update.relocked)
        assert not update.jumps
    assert relocked == [[], [], [0], []]
    np.testing.assert_allclose(tracker.tracks[0].rotation, thing.rotation, atol=1e-9)


def test_cold_checks_that_disagree_with_each_other_never_relock():
    thing = _thing('camera', 0.0)
    tracker = MultiObjectTracker(TrackingConfig(relock_after_frames=2))
    tracker.update(0, tracker.plan(0, [thing.observation(1)]), {0: thing.estimate()})
    for frame, degrees in enumerate((90.0, 180.0, 90.0, 180.0, 90.0), start=1):
        axis = (0.0, 0.0, 1.0) if frame % 2 else (1.0, 0.0, 0.0)
        check = _estimate_turned(thing, degrees, axis=axis)
        _, update = _relock_step(tracker, frame * FRAME, thing, thing.estimate(), check)
        assert update.relocked == []
    np.testing.assert_allclose(tracker.tracks[0].rotation, thing.rotation, atol=1e-9)


def test_an_agreeing_cold_check_restarts_the_count():
    thing = _thing('laptop', 0.0)
    tracker = MultiObjectTracker(TrackingConfig(relock_after_frames=3))
    tracker.update(0, tracker.plan(0, [thing.observation(1)]), {0: thing.estimate()})
    flipped = _estimate_turned(thing, 120.0)
    checks = [flipped, flipped, thing.estimate(), flipped, flipped, flipped]
    relocked = [_relock_step(tracker, (i + 1) * FRAME, thing, thing.estimate(), c)[1].relocked
                for i, c in enumerate(checks)]
    assert relocked == [[], [], [], [], [], [0]]


def test_cold_checks_are_compared_after_the_tracks_motion():
    """An object that turns 20 deg a frame: the warm track follows it 90 deg off."""
    thing = _thing('camera', 0.0)
    tracker = MultiObjectTracker(TrackingConfig(relock_after_frames=3,
                                                max_rotation_jump_deg=60.0))
    offset = Rotation.from_rotvec([np.pi / 2, 0.0, 0.0]).as_matrix()
    results = []
    for frame in range(5):
        turn = Rotation.from_rotvec([0.0, np.radians(20.0 * frame), 0.0]).as_matrix()
        moved = Thing('camera', thing.translation, turn)
        truth = moved.estimate()
        warm = (turn @ offset, truth[1], truth[2])
        if frame == 0:
            tracker.update(0, tracker.plan(0, [moved.observation(1)]), {0: warm})
            continue
        results.append(_relock_step(tracker, frame * FRAME, moved, warm, truth)[1].relocked)
    assert results == [[], [], [0], []]


def test_symmetric_objects_ignore_turns_about_their_axis_and_relock_can_be_off():
    bottle = _thing('bottle', 0.0)
    tracker = MultiObjectTracker(TrackingConfig(relock_after_frames=1))
    tracker.update(0, tracker.plan(0, [bottle.observation(1)]), {0: bottle.estimate()})
    spun = _estimate_turned(bottle, 150.0, axis=(0.0, 1.0, 0.0))
    assert _relock_step(tracker, FRAME, bottle, bottle.estimate(), spun)[1].relocked == []
    tipped = _estimate_turned(bottle, 150.0)
    assert _relock_step(tracker, 2 * FRAME, bottle, bottle.estimate(), tipped)[1].relocked \
        == [0]
    off = MultiObjectTracker(TrackingConfig(relock_after_frames=0))
    assert not off.config.cold_checks
    off.update(0, off.plan(0, [bottle.observation(1)]), {0: bottle.estimate()})
    for frame in range(1, 4):
        assert _relock_step(off, frame * FRAME, bottle, bottle.estimate(),
                            tipped)[1].relocked == []
    with pytest.raises(ValueError, match='relock_after_frames'):
        TrackingConfig(relock_after_frames=-1)
    assert not TrackingConfig(warm_start=False).cold_checks


@pytest.mark.parametrize('weight', [0.0, 0.5, 1.0])
def test_agreeing_cold_checks_are_blended_into_the_track(weight):
    thing = _thing('laptop', 0.0)
    tracker = MultiObjectTracker(TrackingConfig(cold_check_weight=weight))
    tracker.update(0, tracker.plan(0, [thing.observation(1)]), {0: thing.estimate()})
    warm = _estimate_turned(thing, 10.0)
    warm = (warm[0], warm[1] + [0.01, 0.0, 0.0], warm[2] * 1.1)
    _, update = _relock_step(tracker, FRAME, thing, warm, thing.estimate())
    rotation, translation, size = update.poses[0]
    turned = np.degrees(Rotation.from_matrix(rotation.T @ thing.rotation).magnitude())
    assert turned == pytest.approx(10.0 * (1.0 - weight), abs=1e-6)
    np.testing.assert_allclose(translation, thing.translation + [0.01 * (1 - weight), 0, 0])
    np.testing.assert_allclose(size, thing.estimate()[2] * (1.1 - 0.1 * weight))
    np.testing.assert_allclose(tracker.tracks[0].rotation, rotation)
    assert update.relocked == []
    with pytest.raises(ValueError, match='cold_check_weight'):
        TrackingConfig(cold_check_weight=1.5)


def test_a_symmetric_bodys_cold_check_moves_only_its_axis():
    bottle = _thing('bottle', 0.0)
    tracker = MultiObjectTracker(TrackingConfig(cold_check_weight=0.5))
    tracker.update(0, tracker.plan(0, [bottle.observation(1)]), {0: bottle.estimate()})
    spun_and_tipped = _estimate_turned(bottle, 10.0)
    spun_and_tipped = (Rotation.from_rotvec([0.0, 2.0, 0.0]).as_matrix()
                       @ spun_and_tipped[0],) + spun_and_tipped[1:]
    _, update = _relock_step(tracker, FRAME, bottle, bottle.estimate(), spun_and_tipped)
    rotation = update.poses[0][0]
    axis_moved = np.degrees(np.arccos(np.clip(rotation[:, 1] @ bottle.rotation[:, 1], -1, 1)))
    assert axis_moved == pytest.approx(5.0, abs=0.5)
    assert np.degrees(Rotation.from_matrix(rotation.T @ bottle.rotation).magnitude()) < 6.0
