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

"""Which parameter changes a running node accepts (`ros2 param set`), decided without ROS.

A configured node has built its model, segmenter and subscriptions from its parameters.
Parameters marked live in params.py apply at once; any other change is refused with the
reason "requires reconfigure", never accepted silently. An unconfigured node accepts every
valid change: it reads its parameters when it configures.
"""

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from catpose_ros.ros.params import (CatposeParams, InvalidParameterError, parameter_specs,
                                    ParamSpec)

REQUIRES_RECONFIGURE = 'requires reconfigure'
START_ONLY = ('autostart',)


@dataclass(frozen=True)
class ParameterReview:
    """The answer to one `set parameters` request.

    `params` holds every value after the change (accepted requests only); `live_names` the
    changed parameters the running core must take now.
    """

    accepted: bool
    reason: str = ''
    params: Optional[CatposeParams] = None
    live_names: Tuple[str, ...] = ()


def change_note(spec: ParamSpec, node: str) -> str:
    """Say how a change of this parameter takes effect (for `ros2 param describe`)."""
    if spec.name in START_ONLY:
        return 'read only when the node starts'
    if node in spec.live:
        return 'changes apply at once, also while active'
    return 'a change %s (cleanup, set, configure)' % REQUIRES_RECONFIGURE


def review_parameter_changes(node: str, current: Mapping[str, Any],
                             changes: Mapping[str, Any], configured: bool) -> ParameterReview:
    """Accept or refuse changes {name: value} of one node's parameters, all or none.

    current holds the node's present values; names the node does not declare here (e.g.
    use_sim_time) are left to rclpy. Setting a parameter to its present value is always
    accepted, so reloading a params file does not fail on parameters that did not change.
    """
    specs = {spec.name: spec for spec in parameter_specs(node)}
    changed = {name: value for name, value in changes.items()
               if name in specs and (name not in current or current[name] != value)}
    if not changed:
        return ParameterReview(True)
    start_only = sorted(name for name in changed if name in START_ONLY)
    if start_only:
        return ParameterReview(False, '%s: read only when the node starts'
                               % ', '.join(start_only))
    fixed = sorted(name for name in changed if configured and node not in specs[name].live)
    if fixed:
        return ParameterReview(False, '%s %s: cleanup the node, set it, then configure and '
                               'activate' % (', '.join(fixed), REQUIRES_RECONFIGURE))
    try:
        params = CatposeParams.from_dict({**current, **changed})
    except InvalidParameterError as error:
        return ParameterReview(False, str(error))
    live = tuple(sorted(changed)) if configured else ()
    return ParameterReview(True, '', params, live)
