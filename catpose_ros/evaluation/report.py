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

"""What `catpose eval` writes: report.json, report.md and plots, from one set of numbers.

report.json: ``mAP`` (NOCS keys 5deg2cm, 5deg5cm, 10deg2cm, 10deg5cm, iou25, iou50, iou75,
plus iou*_fixed; percent; mean over categories with ground truth), ``mAP_mean_of_six`` (the
official mean over all six categories), ``per_category`` (same keys and the ground-truth count),
``VUS`` and ``VUS_per_category`` (percent), ``errors`` (per-object median errors and the
fraction of ground-truth objects within each threshold, overall and per category),
``errors_by_confidence`` (the same for the paired objects in each band of pose confidence,
so a user can see on their own data whether the published score separates good poses from
bad), ``objects``, ``frames``, ``model``, ``settings``, ``dataset`` and ``latency_ms``.
"""

import json
import math
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from catpose_ros.evaluation.metrics import PoseErrors
from catpose_ros.evaluation.nocs_map import FIXED_IOU_KEYS, MAP_KEYS, NocsMap, POSE_THRESHOLDS
from catpose_ros.evaluation.vus import vus_by_category

# Bands of pose confidence (lower bound inclusive, upper exclusive; 1.0 belongs to the top).
# Two samples within about 0.75 deg of each other score >= 0.95, beyond about 4 deg < 0.75.
CONFIDENCE_BANDS = (('>= 0.95', 0.95, math.inf), ('0.75-0.95', 0.75, 0.95),
                    ('< 0.75', -math.inf, 0.75))


def _clean(value):
    """JSON-ready numbers: nan / inf become None, floats are rounded."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    return value


def error_summary(objects: Sequence) -> Dict[str, float]:
    """Median errors of paired objects and, in percent, ground truths within each threshold."""
    paired = [o for o in objects if o.paired]
    errors = PoseErrors(np.array([o.rotation_deg for o in objects], dtype=float),
                        np.array([o.translation_cm for o in objects], dtype=float))
    summary = {
        'objects': len(objects), 'paired': len(paired), 'missed': len(objects) - len(paired),
        'median_rotation_deg': float(np.median([o.rotation_deg for o in paired]))
        if paired else float('nan'),
        'median_translation_cm': float(np.median([o.translation_cm for o in paired]))
        if paired else float('nan'),
    }
    for key, (deg, cm) in POSE_THRESHOLDS.items():
        summary['accuracy_' + key] = 100.0 * errors.accuracy(deg, cm)
    return summary


def errors_by_confidence(objects: Sequence) -> Dict[str, Dict[str, float]]:
    """Error summary of the paired objects in each confidence band ({} without confidences)."""
    rated = [o for o in objects if o.paired and o.pose_confidence is not None]
    if not rated:
        return {}
    return {name: error_summary([o for o in rated if low <= o.pose_confidence < high])
            for name, low, high in CONFIDENCE_BANDS}


def build_report(nocs: NocsMap, objects: Sequence, frames: int, model: str,
                 settings: Mapping, dataset: str = '',
                 frame_ms: Optional[Sequence[float]] = None) -> Dict:
    """Assemble the report dict (see the module docstring)."""
    categories = sorted({o.category for o in objects})
    per_category = {name: dict(nocs.per_category[name],
                               ground_truths=nocs.ground_truths[name])
                    for name in nocs.per_category if nocs.ground_truths[name] > 0}
    vus = vus_by_category([o.rotation_deg for o in objects],
                          [o.translation_cm for o in objects], [o.category for o in objects])
    report = {
        'mAP': {key: nocs.mean[key] for key in MAP_KEYS + FIXED_IOU_KEYS},
        'mAP_mean_of_six': {key: nocs.mean_of_six[key] for key in MAP_KEYS},
        'per_category': per_category,
        'VUS': vus.pop('mean'),
        'VUS_per_category': vus,
        'errors': dict(error_summary(objects), per_category={
            name: error_summary([o for o in objects if o.category == name])
            for name in categories}),
        'errors_by_confidence': errors_by_confidence(objects),
        'objects': len(objects),
        'frames': int(frames),
        'model': str(model),
        'settings': dict(settings),
        'dataset': dataset,
        'latency_ms': {'median_per_frame': float(np.median(frame_ms)) if frame_ms else None},
    }
    return _clean(report)


def _cell(value) -> str:
    return '-' if value is None else '%.1f' % value


def markdown_table(report: Mapping) -> str:
    """Render the report as Markdown: NOCS mAP per category and mean, fixed IoU, VUS, errors."""
    keys = list(MAP_KEYS)
    lines = ['| category | GT | ' + ' | '.join(keys) + ' |',
             '|---|---|' + '---|' * len(keys)]
    for name, values in report['per_category'].items():
        lines.append('| %s | %d | %s |' % (name, values['ground_truths'],
                                           ' | '.join(_cell(values[k]) for k in keys)))
    lines.append('| **mean** | %d | %s |' % (report['objects'], ' | '.join(
        _cell(report['mAP'][k]) for k in keys)))
    fixed = ', '.join('%s %s' % (k, _cell(report['mAP'][k])) for k in FIXED_IOU_KEYS)
    vus = ', '.join('%s %s' % (k, _cell(v)) for k, v in report['VUS'].items())
    errors = report['errors']
    settings = ', '.join('%s=%s' % item for item in report['settings'].items())
    return '\n'.join([
        '# catpose eval', '',
        '%d frames, %d objects; model `%s`; %s' % (report['frames'], report['objects'],
                                                   report['model'], settings), '',
        report.get('dataset', ''), '',
        'NOCS mAP (percent; official 3D IoU):', '', *lines, '',
        'Official mean over all six categories (absent ones count 0): %s' % ', '.join(
            '%s %s' % (k, _cell(v)) for k, v in report['mAP_mean_of_six'].items()), '',
        '3D IoU with the corrected box overlap (CATRE): %s' % fixed, '',
        'Omni6DPose VUS (percent): %s' % vus, '',
        'Per object: %d paired, %d missed; median %s deg / %s cm; within 5deg2cm %s%%, '
        '10deg5cm %s%%' % (
            errors['paired'], errors['missed'], _cell(errors['median_rotation_deg']),
            _cell(errors['median_translation_cm']), _cell(errors['accuracy_5deg2cm']),
            _cell(errors['accuracy_10deg5cm'])),
        '', *confidence_lines(report.get('errors_by_confidence', {}))])


def confidence_lines(bands: Mapping) -> List[str]:
    """One sentence on the objects of each pose-confidence band, or nothing."""
    if not bands:
        return []
    parts = ['%s: %d, within 5deg2cm %s%%, 10deg5cm %s%%' % (
        name, band['objects'], _cell(band['accuracy_5deg2cm']),
        _cell(band['accuracy_10deg5cm'])) for name, band in bands.items()]
    return ['By pose confidence (paired objects): ' + '; '.join(parts), '']


def write_plots(out_dir: Path, objects: Sequence) -> List[Path]:
    """Accuracy-vs-threshold curves per category and error histograms."""
    from catpose_ros.evaluation.plots import histogram_plot, line_plot
    out_dir = Path(out_dir)
    by_category = {name: [o for o in objects if o.category == name]
                   for name in sorted({o.category for o in objects})}
    by_category['all'] = list(objects)
    degrees, centimetres = np.linspace(0, 45, 91), np.linspace(0, 10, 101)

    def curve(group, attribute, thresholds):
        values = np.array([getattr(o, attribute) for o in group], dtype=float)
        return thresholds, np.array([100.0 * np.mean(values <= t) for t in thresholds])
    return [
        line_plot(out_dir / 'accuracy_rotation.png',
                  {n: curve(g, 'rotation_deg', degrees) for n, g in by_category.items()},
                  'objects within a rotation error (any translation)', 'rotation error (deg)',
                  '%'),
        line_plot(out_dir / 'accuracy_translation.png',
                  {n: curve(g, 'translation_cm', centimetres) for n, g in by_category.items()},
                  'objects within a translation error (any rotation)',
                  'translation error (cm)', '%'),
        histogram_plot(out_dir / 'histogram_rotation.png',
                       np.array([o.rotation_deg for o in objects], dtype=float),
                       np.linspace(0, 180, 37), 'rotation error (last bin: >= 175 deg, missed)',
                       'rotation error (deg)'),
        histogram_plot(out_dir / 'histogram_translation.png',
                       np.array([o.translation_cm for o in objects], dtype=float),
                       np.linspace(0, 20, 41), 'translation error (last bin: >= 19.5 cm, missed)',
                       'translation error (cm)'),
    ]


def write_report(out_dir: Path, report: Mapping, objects: Sequence,
                 plots: bool = True) -> List[Path]:
    """Write report.json, report.md and (optionally) the plots; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / 'report.json').write_text(json.dumps(report, indent=2) + '\n')
    (out_dir / 'report.md').write_text(markdown_table(report))
    paths = [out_dir / 'report.json', out_dir / 'report.md']
    return paths + (write_plots(out_dir, objects) if plots else [])
