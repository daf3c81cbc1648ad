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

"""Find files the package ships outside its Python modules (models/, config/, launch/).

The same lookup serves a colcon install (share/catpose_ros via ament_index), a pip install
(<prefix>/share/catpose_ros from data_files) and a source checkout (the repository root).
"""

from pathlib import Path
import sys
from typing import List

PACKAGE = 'catpose_ros'
DEFAULT_MODEL = 'models/catpose_default.pt'


def _share_candidates() -> List[Path]:
    candidates = [Path(__file__).resolve().parents[1]]
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.insert(0, Path(get_package_share_directory(PACKAGE)))
    except (ImportError, LookupError):
        pass
    candidates.append(Path(sys.prefix) / 'share' / PACKAGE)
    return candidates


def find_share_file(relative: str) -> Path:
    """Return the first existing copy of a shipped file; FileNotFoundError lists the places."""
    tried = [root / relative for root in _share_candidates()]
    for path in tried:
        if path.is_file():
            return path
    raise FileNotFoundError('%s not found; looked in: %s' % (relative, ', '.join(map(str, tried))))


def default_model_path() -> Path:
    """Return the path of the shipped default model checkpoint."""
    return find_share_file(DEFAULT_MODEL)
