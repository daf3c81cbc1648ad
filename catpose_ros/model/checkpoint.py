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

"""Self-describing checkpoints: weights, model config, categories and versions in one file.

Files are read with `torch.load(weights_only=True)`, so a checkpoint cannot run code;
everything stored is tensors, numbers, strings, lists and dicts. Writes are atomic (a
temporary file in the same folder, then a rename), so a crash never leaves half a file
under the real name.
"""

import os
from pathlib import Path
import pickle
import tempfile
from typing import Any, Dict, Optional, Tuple, Union
import zipfile

import torch

import catpose_ros
from catpose_ros.model.posenet import CatPoseNet, ModelConfig

FORMAT_NAME = 'catpose_ros.checkpoint'
FORMAT_VERSION = 1
# The oldest format this package still reads.
MIN_FORMAT_VERSION = 1

PathLike = Union[str, os.PathLike]


class CheckpointError(RuntimeError):
    """Raised when a checkpoint is missing, unreadable, foreign, too new or does not fit."""


def save_checkpoint(path: PathLike, model: CatPoseNet, config: ModelConfig,
                    extra: Optional[Dict[str, Any]] = None) -> Path:
    """Write model weights and config, plus training metadata in `extra`.

    `extra` holds e.g. stage, epoch, step, optimizer and EMA state dicts; it must contain
    only tensors, numbers, strings, lists and dicts.
    """
    path = Path(path)
    payload = {
        'format': FORMAT_NAME,
        'format_version': FORMAT_VERSION,
        'package_version': catpose_ros.__version__,
        'config': config.to_dict(),
        'categories': list(config.categories),
        'state_dict': model.state_dict(),
        'metadata': dict(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix='.' + path.name + '.', suffix='.tmp',
                                         dir=path.parent)
    try:
        with os.fdopen(handle, 'wb') as stream:
            torch.save(payload, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: PathLike, map_location: Union[str, torch.device] = 'cpu'
                    ) -> Tuple[CatPoseNet, ModelConfig, Dict[str, Any]]:
    """Return (model in eval mode on map_location, its config, metadata).

    Metadata holds 'extra' (the dict given at save time), 'package_version',
    'format_version' and 'categories'. Weights that are not all finite are refused: such a
    model would turn every object into a non-finite pose.
    """
    payload = read_payload(path, map_location)
    try:
        config = ModelConfig.from_dict(payload['config'])
    except (TypeError, ValueError) as error:
        raise CheckpointError('%s: invalid model config: %s' % (path, error)) from error
    _check_finite_weights(path, payload['state_dict'])
    model = CatPoseNet(config)
    try:
        model.load_state_dict(payload['state_dict'])
    except (RuntimeError, TypeError, AttributeError) as error:
        raise CheckpointError('%s: weights do not fit the stored model config: %s'
                              % (path, ' '.join(str(error).split()))) from error
    model.to(map_location).eval()
    metadata = {'extra': dict(payload['metadata']),
                'package_version': payload['package_version'],
                'format_version': payload['format_version'],
                'categories': list(payload['categories'])}
    return model, config, metadata


def read_payload(path: PathLike, map_location: Union[str, torch.device] = 'cpu'
                 ) -> Dict[str, Any]:
    """Read and validate the raw checkpoint dict (for resuming training).

    The error says which of three causes applies: content refused for safety (anything
    beyond tensors and plain data), a corrupt or truncated file, or a wrong format version.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError('checkpoint not found: %s' % path)
    if path.stat().st_size == 0:
        raise CheckpointError('cannot read checkpoint %s: the file is empty (0 bytes)' % path)
    if not zipfile.is_zipfile(path):
        raise CheckpointError('cannot read checkpoint %s: truncated or corrupt (not a torch '
                              'zip archive)' % path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if _is_weights_only_refusal(error):
            raise CheckpointError(
                'refused checkpoint %s: it holds objects beyond tensors and plain data (%s); '
                'catpose_ros never runs code stored in a checkpoint, re-export the model with '
                'catpose_ros' % (path, _refusal_detail(error))) from None
        raise CheckpointError('cannot read checkpoint %s: corrupt (%s)'
                              % (path, _first_line(error))) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError,
            AttributeError, zipfile.BadZipFile) as error:
        raise CheckpointError('cannot read checkpoint %s: truncated or corrupt (%s: %s)'
                              % (path, type(error).__name__, _first_line(error))) from None
    _validate(path, payload)
    return payload


def _is_weights_only_refusal(error: BaseException) -> bool:
    return 'weights only load failed' in str(error).lower()


def _refusal_detail(error: BaseException) -> str:
    """Pick torch's one line that names what was refused, dropping its advice."""
    for line in str(error).splitlines():
        line = line.strip()
        if line.startswith(('Trying to load unsupported', 'Unsupported', 'Unsupported global')):
            return line.rstrip('.')
        if 'WeightsUnpickler error:' in line:
            return line.split('WeightsUnpickler error:', 1)[1].strip() or 'unsupported content'
    return 'unsupported content'


def _first_line(error: BaseException) -> str:
    """Return the first non-empty line of an error, or its type when it has no text."""
    for line in str(error).splitlines():
        if line.strip():
            return line.strip().rstrip('.')
    return 'no detail given'


def _check_finite_weights(path: PathLike, state_dict: Dict[str, Any]) -> None:
    bad = [name for name, tensor in state_dict.items()
           if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if bad:
        raise CheckpointError('%s: %d of %d weight tensors hold NaN or inf (first: %s); the '
                              'model would give non-finite poses' % (
                                  path, len(bad), len(state_dict), bad[0]))


def _validate(path: Path, payload: Any):
    """Check the format marker, the version, the required keys and their types."""
    if not isinstance(payload, dict) or payload.get('format') != FORMAT_NAME:
        raise CheckpointError('%s is not a catpose_ros checkpoint' % path)
    version = payload.get('format_version')
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError('%s has an invalid checkpoint format version %r (expected an '
                              'integer)' % (path, version))
    if version > FORMAT_VERSION:
        raise CheckpointError('%s has checkpoint format version %r; this catpose_ros %s '
                              'reads up to version %d; upgrade the package'
                              % (path, version, catpose_ros.__version__, FORMAT_VERSION))
    if version < MIN_FORMAT_VERSION:
        raise CheckpointError('%s has checkpoint format version %r; this catpose_ros %s '
                              'reads versions %d to %d' % (
                                  path, version, catpose_ros.__version__, MIN_FORMAT_VERSION,
                                  FORMAT_VERSION))
    missing = [key for key in _ENTRY_TYPES if key not in payload]
    if missing:
        raise CheckpointError('%s lacks checkpoint entries: %s' % (path, ', '.join(missing)))
    for key, (kinds, expected) in _ENTRY_TYPES.items():
        if not isinstance(payload[key], kinds):
            raise CheckpointError('%s: checkpoint entry %r must be %s, got %s' % (
                path, key, expected, type(payload[key]).__name__))
    if not all(isinstance(name, str) for name in payload['categories']):
        raise CheckpointError("%s: checkpoint entry 'categories' must hold names (strings)"
                              % path)
    bad = [key for key, value in payload['state_dict'].items()
           if not (isinstance(key, str) and isinstance(value, torch.Tensor))]
    if bad:
        raise CheckpointError('%s: checkpoint state_dict entry %r is not a named tensor'
                              % (path, bad[0]))


# Entry -> (accepted types, what the error says).
_ENTRY_TYPES = {
    'config': (dict, 'a dict'),
    'categories': ((list, tuple), 'a list of category names'),
    'state_dict': (dict, 'a dict of tensors'),
    'metadata': (dict, 'a dict'),
    'package_version': (str, 'a version string'),
}
