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

"""Stage latencies: one context manager that every frame path uses."""

from contextlib import contextmanager
import time
from typing import Callable, Dict, Iterator, Optional


@contextmanager
def timed(latency_ms: Dict[str, float], stage: str,
          synchronize: Optional[Callable[[], None]] = None) -> Iterator[None]:
    """Add the with-block's wall time in ms to latency_ms[stage].

    synchronize (e.g. torch.cuda.synchronize) runs before the clock stops, so that work
    queued on a GPU is counted in the stage that queued it.
    """
    started = time.perf_counter()
    try:
        yield
    finally:
        if synchronize is not None:
            synchronize()
        elapsed = 1000.0 * (time.perf_counter() - started)
        latency_ms[stage] = latency_ms.get(stage, 0.0) + elapsed
