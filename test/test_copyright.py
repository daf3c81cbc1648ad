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

"""Every source file carries the copyright notice and the Apache-2.0 license header."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {'.venv', 'build', 'install', 'log', '.git', '.hypothesis'}


def _source_files():
    for path in sorted(ROOT.rglob('*.py')):
        relative = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.startswith(('.', '_')) and part != '__init__.py'
               for part in relative.parts):
            continue
        yield path


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    try:
        from ament_copyright.main import main
    except ImportError:
        missing = []
        for path in _source_files():
            head = path.read_text(encoding='utf-8')[:1500]
            if 'Copyright' not in head or 'Apache License, Version 2.0' not in head:
                missing.append(str(path.relative_to(ROOT)))
        assert not missing, 'files without copyright/license header: %s' % missing
        return
    assert main(argv=['.', 'test']) == 0, 'Found errors'
