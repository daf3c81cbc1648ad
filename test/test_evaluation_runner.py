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

"""`catpose eval` end to end on a tiny NOCS split, and the frame runner's parts."""

import glob
import json
from pathlib import Path
import pickle

import numpy as np
import pytest
from support import TINY
import torch

from catpose_ros.cli.main import main
from catpose_ros.data import nocs
from catpose_ros.data.frame import Frame, ObjectAnnotation
from catpose_ros.evaluation import report as report_module
from catpose_ros.evaluation import runner
from catpose_ros.evaluation.nocs_map import nocs_map
from catpose_ros.geometry.camera import CameraIntrinsics
from catpose_ros.model.checkpoint import save_checkpoint
from catpose_ros.model.pose_sampler import SamplerConfig
from catpose_ros.model.posenet import CatPoseNet
from catpose_ros.perception.estimator import PoseEstimator
from catpose_ros.perception.pipeline import FramePipeline
from catpose_ros.perception.tracking import TrackingConfig


K = CameraIntrinsics(200.0, 200.0, 80.0, 60.0, 160, 120)


def patches_frame(seed: int) -> Frame:
    """Two flat patches (a can and a laptop) with their poses; a teapot the model cannot know."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((120, 160), np.uint8)
    mask[30:60, 20:50] = 1
    mask[50:90, 90:130] = 2
    mask[100:110, 5:15] = 3
    depth = np.where(mask == 1, 0.6, np.where(mask > 1, 0.8, 0.0)).astype(np.float32)
    objects = [
        ObjectAnnotation(1, 'can', np.eye(3), np.array([-0.1, -0.03, 0.62]),
                         np.array([0.07, 0.12, 0.07])),
        ObjectAnnotation(2, 'laptop', np.eye(3), np.array([0.12, 0.05, 0.85]),
                         np.array([0.3, 0.02, 0.22])),
        ObjectAnnotation(3, 'teapot', np.eye(3), np.array([-0.3, 0.2, 0.8]),
                         np.array([0.1, 0.1, 0.1])),
    ]
    return Frame(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), depth, mask, K, objects,
                 frame_id='patches_%d' % seed)


@pytest.fixture()
def pipeline() -> FramePipeline:
    torch.manual_seed(0)
    estimator = PoseEstimator(CatPoseNet(TINY).eval(), SamplerConfig(steps=2), seed=0,
                              min_points=20)
    return FramePipeline(estimator, TrackingConfig(warm_start=True))


def eval_frames(count: int = 3):
    return [runner.EvalFrame('results_test_scene_%d_%04d.pkl' % (i // 2, i), 'scene_%d' % (i // 2),
                             (lambda i=i: patches_frame(i))) for i in range(count)]


@pytest.mark.parametrize('mode', runner.MODES)
def test_runner_collects_nocs_results_and_paired_objects(pipeline, mode):
    outcome = runner.evaluate_frames(eval_frames(), pipeline, 'gt', mode, progress=False)
    assert sorted(outcome.results) == [f.name for f in eval_frames()]
    result = outcome.results['results_test_scene_0_0000.pkl']
    assert result['gt_class_ids'].tolist() == [4, 5]
    assert result['pred_class_ids'].tolist() == [4, 5]
    np.testing.assert_allclose(np.linalg.det(result['gt_RTs'][:, :3, :3]) ** (1 / 3),
                               [np.linalg.norm([0.07, 0.12, 0.07]),
                                np.linalg.norm([0.3, 0.02, 0.22])])
    assert result['pred_bboxes'].tolist()[0] == [30, 20, 60, 50]
    assert len(outcome.objects) == 6 and all(o.paired for o in outcome.objects)
    assert outcome.ignored_objects == 3
    assert np.isfinite([o.rotation_deg for o in outcome.objects]).all()


class OneMaskSegmenter:
    """Returns only the can, slightly eroded, with a score: a segmenter that misses the laptop."""

    def segment(self, rgb, depth=None):
        from catpose_ros.perception.instances import Instance, mask_box
        mask = np.zeros((120, 160), bool)
        mask[31:59, 21:49] = True
        return [Instance(1, 'can', mask, 0.8, mask_box(mask))]


def test_predicted_masks_pair_by_overlap_and_count_misses(pipeline):
    pipeline.estimator.confidence_check = False     # the segmenter's score alone
    outcome = runner.evaluate_frames(eval_frames(1), pipeline, 'predicted', 'single',
                                     OneMaskSegmenter(), progress=False)
    pairs = [(o.category, o.paired) for o in outcome.objects]
    assert pairs == [('can', True), ('laptop', False)]
    assert outcome.results['results_test_scene_0_0000.pkl']['pred_scores'].tolist() == \
        pytest.approx([0.8])
    with pytest.raises(ValueError, match='segmenter'):
        runner.evaluate_frames(eval_frames(1), pipeline, 'predicted', 'single')


class DepthRecordingSegmenter(OneMaskSegmenter):
    """Remembers the depth images it was given (an RGB-D model needs them)."""

    def __init__(self):
        self.depths = []

    def segment(self, rgb, depth=None):
        self.depths.append(depth)
        return super().segment(rgb, depth)


def test_predicted_masks_hand_the_segmenter_the_frame_depth(pipeline):
    segmenter = DepthRecordingSegmenter()
    frames = eval_frames(1)
    runner.evaluate_frames(frames, pipeline, 'predicted', 'single', segmenter, progress=False)
    assert len(segmenter.depths) == 1
    np.testing.assert_array_equal(segmenter.depths[0], frames[0].load().depth)


@pytest.mark.slow
def test_eval_default_segmenter_is_the_shipped_rgbd_maskrcnn():
    from catpose_ros.ros.params import CatposeParams
    from catpose_ros.ros.segmentation_pipeline import load_segmenter

    segmenter = load_segmenter(CatposeParams.from_dict({'model.device': 'cpu'}))
    assert segmenter.uses_depth


def write_archive_split(root: Path, count: int = 3) -> None:
    for i in range(count):
        frame = patches_frame(i)
        frame.objects = frame.objects[:2]  # NOCS files hold NOCS categories only
        frame.mask[frame.mask == 3] = 0
        nocs.write_frame(root / 'real_test' / 'scene_1', i, frame, 'real')


def test_catpose_eval_writes_report_plots_and_official_pickles(tmp_path, capsys):
    model = tmp_path / 'tiny.pt'
    save_checkpoint(model, CatPoseNet(TINY), TINY)
    write_archive_split(tmp_path / 'data')
    out, export = tmp_path / 'out', tmp_path / 'nocs'
    assert main(['eval', '--data', str(tmp_path / 'data'), '--split', 'real_test', '--out',
                 str(out), '--model', str(model), '--steps', '2', '--device', 'cpu',
                 '--threads', '1', '--export-nocs', str(export), '--mode', 'track']) == 0
    printed = capsys.readouterr().out
    assert 'released-archive layout' in printed and '| **mean** |' in printed
    report = json.loads((out / 'report.json').read_text())
    assert set(report['mAP']) >= {'5deg2cm', '5deg5cm', '10deg2cm', '10deg5cm', 'iou25',
                                  'iou50', 'iou75'}
    assert report['objects'] == 6 and report['frames'] == 3
    assert report['model'] == str(model) and report['settings']['mode'] == 'track'
    assert set(report['per_category']) == {'can', 'laptop'}
    assert (out / 'report.md').read_text().startswith('# catpose eval')
    bands = report['errors_by_confidence']
    assert sum(band['objects'] for band in bands.values()) == 6     # every paired object
    assert 'By pose confidence' in (out / 'report.md').read_text()
    for name in ('accuracy_rotation', 'accuracy_translation', 'histogram_rotation',
                 'histogram_translation'):
        assert (out / (name + '.png')).stat().st_size > 1000
    pickles = sorted(glob.glob(str(export / 'results_real_test_scene_1_*.pkl')))
    assert len(pickles) == 3
    results = []
    for path in pickles:
        with open(path, 'rb') as handle:
            results.append(pickle.load(handle))
    assert {'gt_class_ids', 'gt_bboxes', 'gt_RTs', 'gt_scales', 'gt_handle_visibility',
            'pred_class_ids', 'pred_bboxes', 'pred_scores', 'pred_RTs',
            'pred_scales'} <= set(results[0])
    rescored = nocs_map(results).mean
    for key, value in report['mAP'].items():
        assert value == pytest.approx(rescored[key], abs=1e-3)


def test_catpose_eval_runs_and_records_a_half_width_encoder(tmp_path):
    model = tmp_path / 'tiny.pt'
    save_checkpoint(model, CatPoseNet(TINY), TINY)
    write_archive_split(tmp_path / 'data', 1)
    out = tmp_path / 'out'
    assert main(['eval', '--data', str(tmp_path / 'data'), '--split', 'real_test', '--out',
                 str(out), '--model', str(model), '--steps', '2', '--device', 'cpu',
                 '--threads', '1', '--no-plots', '--precision', 'bf16']) == 0
    report = json.loads((out / 'report.json').read_text())
    assert report['settings']['precision'] == 'bf16' and report['objects'] == 2


def test_predicted_masks_without_weights_say_where_they_looked(tmp_path, capsys):
    model = tmp_path / 'tiny.pt'
    save_checkpoint(model, CatPoseNet(TINY), TINY)
    write_archive_split(tmp_path / 'data', 1)
    status = main(['eval', '--data', str(tmp_path / 'data'), '--split', 'real_test', '--out',
                   str(tmp_path / 'out'), '--model', str(model), '--masks', 'predicted',
                   '--segmentation-weights', str(tmp_path / 'missing.pt'), '--device', 'cpu'])
    error = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and len(error) == 1
    assert error[0].startswith('catpose eval: error: ModelNotFoundError: ')
    assert str(tmp_path / 'missing.pt') in error[0] and 'weights' in error[0]


def test_open_dataset_rejects_unknown_splits(tmp_path):
    with pytest.raises(ValueError, match='ROPE/SOPE'):
        runner.open_dataset(tmp_path, 'nonsense')
    with pytest.raises(FileNotFoundError):
        runner.open_dataset(tmp_path / 'absent', 'real_test')


def test_housecat6d_split_scores_cups_as_mugs(tmp_path, pipeline):
    from catpose_ros.data.housecat6d import write_housecat6d_scene
    frame = patches_frame(0)
    frame.objects = frame.objects[:2]
    frame.objects[0].category = 'mug'  # written as HouseCat6D's cup
    frame.mask[frame.mask == 3] = 0
    write_housecat6d_scene(tmp_path / 'test_scene1', [frame, frame],
                           {'mug': 'cup', 'laptop': 'box'})
    dataset = runner.open_dataset(tmp_path, 'test')
    assert dataset.kind == 'housecat6d' and 'HouseCat6D test: 2 frames' in dataset.description
    assert [f.name for f in dataset.frames] == [
        'results_housecat6d_test_scene1_000000.pkl', 'results_housecat6d_test_scene1_000001.pkl']
    assert dataset.frames[0].load().objects[0].category == 'cup'
    outcome = runner.evaluate_frames(dataset.frames, pipeline, progress=False)
    assert [o.category for o in outcome.objects] == ['mug', 'mug']
    assert outcome.ignored_objects == 2  # the box is no NOCS category
    assert outcome.results[dataset.frames[0].name]['gt_class_ids'].tolist() == [6]


def test_errors_by_confidence_band_the_rated_paired_objects():
    def record(confidence, rotation_deg, paired=True):
        return runner.ObjectRecord('f', 'mug', True, rotation_deg, 1.0, paired, confidence)

    objects = [record(1.0, 2.0), record(0.96, 30.0), record(0.8, 3.0), record(0.1, 40.0),
               record(0.1, 4.0), record(None, 1.0), record(0.99, float('inf'), False)]
    bands = report_module.errors_by_confidence(objects)
    assert list(bands) == [name for name, _, _ in report_module.CONFIDENCE_BANDS]
    assert [band['objects'] for band in bands.values()] == [2, 1, 2]
    assert [band['accuracy_10deg5cm'] for band in bands.values()] == [50.0, 100.0, 50.0]
    assert report_module.errors_by_confidence([record(None, 1.0)]) == {}
