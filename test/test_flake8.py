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

"""flake8 with ament's settings: ament_flake8 inside a ROS workspace, plain flake8 elsewhere."""

from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    try:
        from ament_flake8.main import main_with_errors
    except ImportError:
        result = subprocess.run(
            [sys.executable, '-m', 'flake8', '--config', str(ROOT / 'setup.cfg'), str(ROOT)],
            capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 0, 'flake8 found problems:\n' + result.stdout + result.stderr
        return
    rc, errors = main_with_errors(argv=[])
    assert rc == 0, 'Found %d code style errors / warnings:\n' % len(errors) + '\n'.join(errors)
