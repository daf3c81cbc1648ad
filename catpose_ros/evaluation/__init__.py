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

"""The one home of accuracy: per-object errors, NOCS mAP, Omni6DPose VUS, `catpose eval`.

metrics.py (the symmetry rule and per-object errors), nocs_map.py (NOCS mAP as the official
evaluation computes it), vus.py (Omni6DPose VUS), runner.py (a model over a dataset split),
report.py and plots.py (what `catpose eval` writes). See docs/evaluation.md.
"""
