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
    'format_version' and 'categories'.
    """
    payload = read_payload(path, map_location)
    try:
        config = ModelConfig.from_dict(payload['config'])
    except (TypeError, ValueError) as error:
        raise CheckpointError('%s: invalid model config: %s' % (path, error)) from error
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
    """Read and validate the raw checkpoint dict (for resuming training)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError('checkpoint not found: %s' % path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError,
            zipfile.BadZipFile) as error:
        raise CheckpointError('cannot read checkpoint %s (truncated or corrupt?): %s'
                              % (path, error)) from error
    _validate(path, payload)
    return payload


def _validate(path: Path, payload: Any):
    """Check the format marker, the version and the required keys."""
    if not isinstance(payload, dict) or payload.get('format') != FORMAT_NAME:
        raise CheckpointError('%s is not a catpose_ros checkpoint' % path)
    version = payload.get('format_version')
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError('%s has checkpoint format version %r; this catpose_ros %s '
                              'reads up to version %d; upgrade the package'
                              % (path, version, catpose_ros.__version__, FORMAT_VERSION))
    missing = [key for key in ('config', 'categories', 'state_dict', 'metadata',
                               'package_version') if key not in payload]
    if missing:
        raise CheckpointError('%s lacks checkpoint entries: %s' % (path, ', '.join(missing)))
