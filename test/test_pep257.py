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

"""Docstring style (pep257, ament convention): ament_pep257 or pydocstyle with its settings."""

from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257():
    try:
        from ament_pep257.main import main
    except ImportError:
        result = subprocess.run(
            [sys.executable, '-m', 'pydocstyle', '--config', str(ROOT / 'setup.cfg'),
             'catpose_ros', 'test', 'launch'],
            capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 0, 'pydocstyle found problems:\n' + result.stdout
        return
    assert main(argv=['.', 'test']) == 0, 'Found code style errors / warnings'
