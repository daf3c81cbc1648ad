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

"""Load dataset pickles without letting them run code.

A plain `pickle.load` calls whatever the file names, so a downloaded or shared dataset file
could run arbitrary code. `safe_load` resolves only the globals the NOCS, SPD and HouseCat6D
label formats use: NumPy arrays, dtypes and scalars, and a few harmless builtins. Anything
else raises `UnsafePickleError` naming the global it refused.
"""

import io
import pickle
from typing import Any, BinaryIO, FrozenSet, Tuple

# (module, name) pairs a dataset pickle may reference. NumPy moved its internals from
# numpy.core to numpy._core in 2.0; files written by either must load. Protocol 0-2 pickles
# name builtins '__builtin__' (Python 2's name), which find_class sees unmapped.
ALLOWED_GLOBALS: FrozenSet[Tuple[str, str]] = frozenset(
    [('numpy', 'ndarray'), ('numpy', 'dtype')]
    + [(module, name) for module in ('numpy.core.multiarray', 'numpy._core.multiarray')
       for name in ('_reconstruct', 'scalar')]
    + [(module, '_frombuffer') for module in ('numpy.core.numeric', 'numpy._core.numeric')]
    + [(module, name) for module in ('builtins', '__builtin__')
       for name in ('set', 'frozenset', 'slice', 'complex', 'bytearray', 'range')]
    + [('collections', 'OrderedDict'), ('_codecs', 'encode')])


class UnsafePickleError(pickle.UnpicklingError):
    """Raised when a pickle references a global outside ALLOWED_GLOBALS."""


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose find_class resolves ALLOWED_GLOBALS only."""

    def find_class(self, module: str, name: str) -> Any:
        """Resolve an allowed global; refuse everything else before it is imported."""
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError('refused global %s.%s: dataset pickles may only hold '
                                    'NumPy arrays, scalars and builtin containers'
                                    % (module, name))
        return super().find_class(module, name)


def safe_load(stream: BinaryIO, encoding: str = 'latin1') -> Any:
    """Unpickle from a binary stream with the allow-list (latin1 reads Python 2 files)."""
    return RestrictedUnpickler(stream, encoding=encoding).load()


def safe_loads(data: bytes, encoding: str = 'latin1') -> Any:
    """Unpickle bytes with the allow-list."""
    return safe_load(io.BytesIO(data), encoding)
