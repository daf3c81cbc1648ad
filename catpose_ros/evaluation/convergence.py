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

"""Validation accuracy against training steps, compared across training recipes.

The paper's convergence claim (pre-train, then joint training, reaches the accuracy of
training from scratch in fewer steps) is read from the validation entries that
`catpose train` writes to each run's `history.json`. A recipe of several stages (pre-train,
then joint) is a chain of run directories whose steps add up, so every recipe is compared at
the same number of optimiser steps.
"""

from dataclasses import dataclass
import json
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from catpose_ros.evaluation.plots import line_plot


@dataclass(frozen=True)
class TrainingCurve:
    """One recipe's validation metric at each evaluated step (steps counted across stages)."""

    name: str
    steps: np.ndarray
    values: np.ndarray
    lower_is_better: bool = False

    def best(self) -> Tuple[float, int]:
        """Return the best value and the first step that reached it."""
        if not len(self.values):
            return float('nan'), -1
        index = int(np.argmin(self.values) if self.lower_is_better else np.argmax(self.values))
        return float(self.values[index]), int(self.steps[index])

    def first_step_reaching(self, threshold: float) -> Optional[int]:
        """Return the first evaluated step at least as good as `threshold`, or None."""
        reached = np.flatnonzero(self.values <= threshold if self.lower_is_better
                                 else self.values >= threshold)
        return int(self.steps[reached[0]]) if len(reached) else None


def lower_is_better(metric: str) -> bool:
    """Errors (median degrees or centimetres) improve downwards; accuracies and mAP upwards."""
    return 'median' in metric


def parse_recipe(spec: str) -> Tuple[str, List[Path]]:
    """Split 'NAME=DIR[+DIR...]' into the recipe's name and its stages' run directories."""
    name, separator, dirs = spec.partition('=')
    if not separator or not name or not dirs:
        raise ValueError('a recipe is NAME=RUN_DIR[+RUN_DIR...], got %r' % spec)
    return name, [Path(d) for d in dirs.split('+')]


def _history(run_dir: Path) -> list:
    path = run_dir / 'history.json'
    if not path.is_file():
        raise FileNotFoundError('%s has no history.json (not a `catpose train` run)' % run_dir)
    return json.loads(path.read_text())


def load_curve(name: str, run_dirs: Sequence[Path], metric: str) -> TrainingCurve:
    """Chain the stages' histories; each stage's steps start where the previous one ended."""
    steps: List[int] = []
    values: List[float] = []
    offset = 0
    for run_dir in run_dirs:
        history = _history(Path(run_dir))
        for entry in history:
            if metric in entry:
                steps.append(offset + int(entry['step']))
                values.append(float(entry[metric]))
        offset += max((int(entry['step']) for entry in history), default=0)
    return TrainingCurve(name, np.asarray(steps, dtype=int), np.asarray(values, dtype=float),
                         lower_is_better(metric))


def convergence_table(curves: Sequence[TrainingCurve], baseline: str) -> str:
    """Markdown: each recipe's best value and when it first matched the baseline's best."""
    by_name = {curve.name: curve for curve in curves}
    if baseline not in by_name:
        raise ValueError('baseline %r is not one of %s' % (baseline, sorted(by_name)))
    target, _ = by_name[baseline].best()
    lines = ['| recipe | evaluated steps | best | at step | first step as good as %s best '
             '(%.1f) |' % (baseline, target), '|---|---|---|---|---|']
    for curve in curves:
        best, at = curve.best()
        first = curve.first_step_reaching(target)
        span = '%d-%d' % (curve.steps[0], curve.steps[-1]) if len(curve.steps) else 'none'
        lines.append('| %s | %s | %.1f | %d | %s |' % (
            curve.name, span, best, at, 'never' if first is None else str(first)))
    return '\n'.join(lines)


def convergence_figure(curves: Sequence[TrainingCurve], path: Path, metric: str) -> Path:
    """Plot every recipe's metric against the step (PNG)."""
    values = np.concatenate([c.values for c in curves] + [np.zeros(1)])
    top = 100.0 if values.max() <= 100.0 else float(np.ceil(values.max() / 10.0) * 10.0)
    return line_plot(path, {c.name: (c.steps, c.values) for c in curves},
                     'validation %s' % metric, 'training step (all stages)',
                     'mAP (%)' if '_map_' in metric else metric.rsplit('_', 1)[-1],
                     y_range=(0.0, top))
