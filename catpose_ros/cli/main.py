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

"""`catpose`: one entry point whose sub-commands live one per module in this package.

Each sub-command module exposes `register(subparsers)`, which adds its parser and sets
`func`; modules import heavy libraries (torch, rosbags) inside `func`, so `catpose --help`
stays fast. A failing command prints one line (`catpose <command>: error: ...`) and exits
with status 1; `--log-level DEBUG` adds the traceback.
"""

import argparse
import importlib
import logging
import sys
import traceback
from typing import List, Optional

COMMAND_MODULES = ('demo', 'data', 'train', 'segmentation', 'tune', 'eval', 'results', 'bag',
                   'benchmark', 'stability')


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog='catpose', description='Category-level 6D pose estimation and tracking.')
    parser.add_argument('--log-level', default='INFO', help='DEBUG, INFO, WARNING or ERROR')
    subparsers = parser.add_subparsers(dest='command', required=True)
    for name in COMMAND_MODULES:
        importlib.import_module('catpose_ros.cli.' + name).register(subparsers)
    return parser


class CommandError(RuntimeError):
    """A command failed for a reason its message states in full (printed as one line)."""


def main(argv: Optional[List[str]] = None) -> int:
    """Parse arguments and run the chosen sub-command; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    try:
        return int(args.func(args) or 0)
    except Exception as error:  # one line for the user; the traceback with DEBUG
        if args.log_level.upper() == 'DEBUG':
            traceback.print_exc()
        text = ' '.join(str(error).split())
        if not isinstance(error, CommandError):
            text = '%s: %s' % (type(error).__name__, text) if text else type(error).__name__
        print('catpose %s: error: %s' % (args.command, text), file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
