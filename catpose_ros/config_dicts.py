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

"""Config dataclasses to and from plain dicts (checkpoints, YAML, argparse namespaces)."""

from dataclasses import fields
from typing import Any, Dict, Mapping


def known_fields(cls: type, values: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the entries of values that name a field of the dataclass cls."""
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in values.items() if key in names}


def strict_fields(cls: type, values: Mapping[str, Any], what: str) -> Dict[str, Any]:
    """Return values unchanged; a key that is not a field of cls raises ValueError.

    Stored configs (checkpoints) use this: a misspelt or foreign key means the file is not
    what it claims to be, and silently dropping it would change behaviour.
    """
    unknown = sorted(set(values) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError('unknown %s: %s' % (what, ', '.join(unknown)))
    return dict(values)
