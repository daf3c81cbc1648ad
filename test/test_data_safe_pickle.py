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

"""Dataset pickles load through an allow-list: NOCS content loads, code never runs."""

import collections
import os
import pickle

import numpy as np
import pytest

from catpose_ros.data.nocs import DatasetError, read_pickle
from catpose_ros.data.safe_pickle import safe_loads, UnsafePickleError

NOCS_LABEL = {
    'class_ids': [1, 6], 'bboxes': np.zeros((2, 4), np.int32),
    'scales': np.ones((2, 3), np.float32), 'rotations': np.stack([np.eye(3)] * 2),
    'translations': np.zeros((2, 3)), 'instance_ids': [1, 2],
    'model_list': ['bottle_a', 'mug_b'], 'size': np.float64(0.5), 'count': np.int64(2),
    'ids': {1, 2}, 'names': np.array(['a', 'bb']), 'raw': b'\x00\xff',
    'order': collections.OrderedDict(a=1), 'nested': (None, True, 1.5, complex(1, 2)),
}


class RunsCode:

    def __reduce__(self):
        return (os.system, ('echo pwned',))


def assert_same(loaded, expected):
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(loaded[key], value)
            assert loaded[key].dtype == value.dtype
        else:
            assert loaded[key] == value and type(loaded[key]) is type(value)


@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_nocs_label_content_round_trips_at_every_protocol(protocol):
    assert_same(safe_loads(pickle.dumps(NOCS_LABEL, protocol=protocol)), NOCS_LABEL)


@pytest.mark.parametrize('payload', [RunsCode(), pickle.Pickler, collections.Counter(a=1)])
def test_anything_beyond_the_allow_list_is_refused_before_it_runs(payload):
    with pytest.raises(UnsafePickleError, match='refused global'):
        safe_loads(pickle.dumps({'label': payload}, protocol=2))


def test_read_pickle_names_the_file_and_the_refused_global(tmp_path):
    path = tmp_path / '0000_label.pkl'
    path.write_bytes(pickle.dumps(RunsCode()))
    with pytest.raises(DatasetError, match='unsafe pickle .*0000_label.pkl.*posix.system'):
        read_pickle(path)
    path.write_bytes(pickle.dumps(NOCS_LABEL, protocol=2))
    assert_same(read_pickle(path), NOCS_LABEL)
