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

"""A bag that fails part-way never leaves a complete-looking output; the CLI says why."""

from pathlib import Path
import sqlite3

import pytest
from support import FAST_PARAMS, STAMP_NS, synthetic_frame
import yaml

from catpose_ros.cli.main import main
from catpose_ros.ros import conversions as conv
from catpose_ros.ros.bag_io import (BagOutputError, BagTopicError, BagTopics, BagWriterHelper,
                                    sequence_to_bag, staged_bag_output, STATUS_KEY,
                                    SyntheticTopics)
from catpose_ros.ros.bag_processing import process_bag

FRAMES = 3


def _params(checkpoint):
    return dict(FAST_PARAMS, **{'model.checkpoint': str(checkpoint)})


def _corrupt_bag(path: Path) -> Path:
    """Write an sqlite3 bag whose second depth image is garbage on the wire."""
    sequence_to_bag([synthetic_frame(i) for i in range(FRAMES)], path, storage='sqlite3')
    database = next(path.glob('*.db3'))
    with sqlite3.connect(database) as db:
        (topic_id,) = db.execute('SELECT id FROM topics WHERE name = ?',
                                 (SyntheticTopics().depth,)).fetchone()
        rows = db.execute('SELECT id FROM messages WHERE topic_id = ? ORDER BY timestamp',
                          (topic_id,)).fetchall()
        db.execute('UPDATE messages SET data = ? WHERE id = ?', (b'\x00\x01\x00\x00\xff',
                                                                 rows[1][0]))
    return path


def _custom_data(bag: Path) -> dict:
    metadata = yaml.safe_load((bag / 'metadata.yaml').read_text())
    return metadata['rosbag2_bagfile_information'].get('custom_data') or {}


def _leftovers(folder: Path):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith('.'))


def _write_one(path: Path):
    with BagWriterHelper(path) as bag:
        header = conv.make_header(bag.factory, STAMP_NS, 'cam')
        bag.write('/diagnostics', conv.diagnostics_to_msg(bag.factory, header, 'x', {}, {}))


def test_staged_output_appears_only_when_complete(tmp_path):
    with staged_bag_output(tmp_path / 'out') as staged:
        _write_one(staged)
        assert not (tmp_path / 'out').exists()
    assert _custom_data(tmp_path / 'out')[STATUS_KEY] == 'complete'
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize('keep', [False, True])
def test_a_failure_removes_or_marks_the_partial_output(tmp_path, keep):
    with pytest.raises(BagOutputError, match='RuntimeError: disk on fire; partial output '
                       + ('kept at .*out.partial' if keep else 'removed')):
        with staged_bag_output(tmp_path / 'out', keep_partial=keep) as staged:
            with BagWriterHelper(staged) as bag:
                header = conv.make_header(bag.factory, STAMP_NS, 'cam')
                bag.write('/diagnostics', conv.diagnostics_to_msg(bag.factory, header, 'x',
                                                                  {}, {}))
                raise RuntimeError('disk on fire')
    assert not (tmp_path / 'out').exists() and _leftovers(tmp_path) == []
    assert (tmp_path / 'out.partial').exists() == keep
    if keep:
        assert _custom_data(tmp_path / 'out.partial')[STATUS_KEY] == \
            'partial: RuntimeError: disk on fire'


def test_a_missing_topic_leaves_no_output_behind(tmp_path, checkpoint):
    sequence_to_bag([synthetic_frame(0)], tmp_path / 'in')
    with pytest.raises(BagTopicError, match='has no topic /nope'):
        process_bag(tmp_path / 'in', tmp_path / 'out', {'depth.scale': 0.001},
                    progress=False, topics=BagTopics(
                        depth='/nope', camera_info=SyntheticTopics().depth_info,
                        instances=SyntheticTopics().instances,
                        detections2d=SyntheticTopics().detections2d))
    assert not (tmp_path / 'out').exists() and _leftovers(tmp_path) == []


@pytest.mark.slow
def test_a_corrupt_message_part_way_removes_the_partial_output(tmp_path, checkpoint):
    bag = _corrupt_bag(tmp_path / 'in')
    with pytest.raises(BagOutputError, match='partial output removed'):
        process_bag(bag, tmp_path / 'out', _params(checkpoint), progress=False)
    assert not (tmp_path / 'out').exists() and _leftovers(tmp_path) == []


@pytest.mark.slow
def test_keep_partial_sets_it_aside_clearly_marked(tmp_path, checkpoint):
    bag = _corrupt_bag(tmp_path / 'in')
    with pytest.raises(BagOutputError, match='kept at .*out.partial'):
        process_bag(bag, tmp_path / 'out', _params(checkpoint), progress=False,
                    keep_partial=True)
    assert not (tmp_path / 'out').exists()
    assert _custom_data(tmp_path / 'out.partial')[STATUS_KEY].startswith('partial: ')


def test_the_cli_prints_one_line_naming_the_file(tmp_path, checkpoint, capsys):
    bag = _corrupt_bag(tmp_path / 'in')
    argv = ['bag', 'process', str(bag), str(tmp_path / 'out'), '--checkpoint',
            str(checkpoint), '--device', 'cpu', '--set', 'model.num_points=128',
            '--set', 'sampler.steps=3', '--no-progress']
    assert main(argv) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert error[0].startswith('catpose bag: error: cannot process %s: ' % bag)
    assert 'partial output removed' in error[0]
    assert main(['--log-level', 'DEBUG'] + argv) == 1
    assert 'Traceback' in capsys.readouterr().err
