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

"""The `catpose` command line."""

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show each flag's default, unless its help already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if 'default' in (action.help or ''):
            return action.help
        return super()._get_help_string(action)


class DescriptionHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """HelpFormatter that keeps the layout of a command's long description."""
