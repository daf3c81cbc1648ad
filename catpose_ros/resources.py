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

"""Find the files the package ships outside its Python modules (the default model).

The same lookup serves a colcon install (share/catpose_ros, given by the node as share_dir),
a pip install (<prefix>/share/catpose_ros from data_files) and a source checkout (the
repository root).
"""

from pathlib import Path
import sys
from typing import Optional, Tuple

DEFAULT_CHECKPOINT_NAME = 'catpose_default.pt'
# Parameters that name a model file -> the launch argument that sets them (launch/*.launch.py).
LAUNCH_ARGUMENTS = {'model.checkpoint': 'model', 'segmentation.weights': 'segmentation_weights'}


class ModelNotFoundError(FileNotFoundError):
    """Raised when no model checkpoint exists where the parameters point."""


def checkpoint_candidates(checkpoint: str, share_dir: Optional[str] = None,
                          default_name: str = DEFAULT_CHECKPOINT_NAME) -> Tuple[Path, ...]:
    """Return where a model file is looked for: the given path, else the installed defaults."""
    if checkpoint:
        return (Path(checkpoint).expanduser(),)
    package_dir = Path(__file__).resolve().parent
    roots = [Path(share_dir)] if share_dir else []
    roots.append(Path(sys.prefix) / 'share' / 'catpose_ros')
    if len(package_dir.parents) > 3:
        # <prefix>/lib/pythonX.Y/site-packages/catpose_ros -> <prefix>/share/catpose_ros
        roots.append(package_dir.parents[3] / 'share' / 'catpose_ros')
    roots.append(package_dir.parent)  # a source checkout: <repo>/models
    return tuple(dict.fromkeys(root / 'models' / default_name for root in roots))


def resolve_checkpoint(checkpoint: str, share_dir: Optional[str] = None,
                       default_name: str = DEFAULT_CHECKPOINT_NAME,
                       parameter: str = 'model.checkpoint') -> Path:
    """Return the model file to load, or raise ModelNotFoundError saying what to do."""
    candidates = checkpoint_candidates(checkpoint, share_dir, default_name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError('no model file found (looked at: %s); %s, or install one there'
                             % (', '.join(str(c) for c in candidates), how_to_set(parameter)))


def how_to_set(parameter: str) -> str:
    """Say how a user points a parameter (or CLI option) at a file, naming the launch argument."""
    if parameter.startswith('-'):
        return 'pass %s /path/to/file' % parameter
    if parameter in LAUNCH_ARGUMENTS:
        return ('pass %s:=/path/to/file to the launch file (it sets the %s parameter)'
                % (LAUNCH_ARGUMENTS[parameter], parameter))
    return 'set the %s parameter to /path/to/file' % parameter


def display_path(path) -> str:
    """Return a path as a report should show it: relative to the working directory if inside."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)
