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

"""Choose the sampler settings of a trained model on the validation split.

The encoder runs once per validation object; every candidate setting then costs only the
score network's evaluations, so a coordinate search over the update rule, step count, start
time and the score-scaling schedule (w_min, w_max, beta) takes seconds to minutes on a CPU.
The winner is written into the exported checkpoint, so the node, the bag processor, the demo
and `catpose eval` all sample with it. Only the validation split may be used here: the
test split is for the final figures.
"""

from dataclasses import dataclass, replace
import logging
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader

from catpose_ros.data.dataset import PosePointDataset
from catpose_ros.evaluation.metrics import pose_errors
from catpose_ros.geometry.rotation import rotation_6d_to_matrix
from catpose_ros.model.guidance import GuidanceConfig
from catpose_ros.model.pose_sampler import (cold_centres, GENPOSE_T0, PoseSampler,
                                            SamplerConfig)
from catpose_ros.model.posenet import CatPoseNet

LOG = logging.getLogger(__name__)
SELECTION_KEYS = ('5deg2cm', '5deg5cm', '10deg2cm', '10deg5cm')


@dataclass
class EncodedSet:
    """Validation objects encoded once: features, centroids and ground truth."""

    features: torch.Tensor
    centroid: torch.Tensor
    rotation: np.ndarray
    translation: np.ndarray
    symmetric: np.ndarray
    category: np.ndarray


@torch.inference_mode()
def encode_validation(model: CatPoseNet, cache: str, count: int, device: torch.device,
                      seed: int = 0, batch_size: int = 64) -> EncodedSet:
    """Encode the first `count` objects of a validation cache (no augmentation)."""
    dataset = PosePointDataset(cache, num_points=model.config.num_points, augment=None,
                               seed=seed)
    count = min(count, len(dataset))
    keys = ('features', 'centroid', 'rotation', 'translation', 'symmetric', 'category')
    parts: Dict[str, List] = {k: [] for k in keys}
    model.eval()
    for batch in DataLoader(torch.utils.data.Subset(dataset, range(count)),
                            batch_size=batch_size):
        points = batch['points'].to(device)
        parts['features'].append(model.encode(points))
        parts['centroid'].append(points.mean(1))
        for key in ('rotation', 'translation', 'symmetric', 'category'):
            parts[key].append(batch[key].numpy())
    return EncodedSet(torch.cat(parts['features']), torch.cat(parts['centroid']),
                      *(np.concatenate(parts[k]) for k in keys[2:]))


@torch.inference_mode()
def score_sampler(model: CatPoseNet, encoded: EncodedSet, config: Optional[SamplerConfig],
                  seed: int = 0) -> Dict[str, float]:
    """Sample one pose per object (config None: the regression head) and summarise errors."""
    device = encoded.features.device
    start = time.perf_counter()
    if config is None:
        poses, nfe = model.regress(encoded.features), 0
    else:
        generator = torch.Generator(device).manual_seed(seed)
        samples = PoseSampler(model.sde, config).sample(
            model.score, encoded.features, generator=generator,
            cold_centre=cold_centres(model, config, encoded.features))
        poses, nfe = samples.poses, samples.nfe
    seconds = time.perf_counter() - start
    errors = pose_errors(rotation_6d_to_matrix(poses[:, :6]).cpu().numpy(),
                         (poses[:, 6:] + encoded.centroid).cpu().numpy(),
                         encoded.rotation, encoded.translation, encoded.symmetric)
    summary = errors.summary()
    summary['selection'] = float(np.mean([summary[k] for k in SELECTION_KEYS]))
    summary['nfe'] = float(nfe)
    summary['ms_per_object'] = 1000.0 * seconds / max(1, len(poses))
    for category in np.unique(encoded.category):
        rows = encoded.category == category
        part = pose_errors(rotation_6d_to_matrix(poses[rows, :6]).cpu().numpy(),
                           (poses[rows, 6:] + encoded.centroid[rows]).cpu().numpy(),
                           encoded.rotation[rows], encoded.translation[rows],
                           encoded.symmetric[rows]).summary()
        summary['cat%d_10deg5cm' % int(category)] = part['10deg5cm']
    return summary


def _guided(config: SamplerConfig, **changes) -> SamplerConfig:
    return replace(config, guidance=replace(config.guidance, **changes))


def _candidates(config: SamplerConfig, axis: str) -> Iterable[SamplerConfig]:
    """Variations of one setting around `config`."""
    if axis == 'update':
        for update in ('exact', 'euler'):
            for final in (False, True):
                yield replace(config, update=update, final_denoise=final)
    elif axis == 'steps':
        for steps in (5, 10, 20, 30):
            yield replace(config, steps=steps)
    elif axis == 't0':
        for t0 in (0.15, 0.25, 0.35, 0.45, 0.55, 0.7, 0.85, 1.0):
            yield replace(config, t0=t0)
    elif axis == 'cold_start':
        for t0 in (0.45, GENPOSE_T0, 0.7):  # from noise around zero: the paper's start
            yield replace(config, cold_start='noise', t0=t0)
        for t0 in (0.15, 0.25, 0.35, 0.45):  # a regressed start needs little noise
            yield replace(config, cold_start='regression', t0=t0)
    elif axis == 'w_max':
        for w_max in (1.0, 2.0, 3.0, 5.0, 10.0, 20.0):
            yield _guided(config, kind='exponential', w_max=w_max)
    elif axis == 'beta':
        for beta in (1.0, 3.0, 6.0, 10.0, 20.0):
            yield _guided(config, kind='exponential', beta=beta)
    elif axis == 'w_min':
        for w_min in (0.5, 1.0, 1.5, 2.0):
            yield _guided(config, kind='exponential',
                          w_min=min(w_min, config.guidance.w_max))
    else:
        raise ValueError('unknown search axis %r' % axis)


# cold_start twice: which start is best depends on the guidance found in between.
AXES = ('update', 'cold_start', 'w_max', 'beta', 'w_min', 'cold_start', 't0', 'steps',
        'update')


def coordinate_search(model: CatPoseNet, encoded: EncodedSet,
                      start: Optional[SamplerConfig] = None, axes: Sequence[str] = AXES,
                      seed: int = 0) -> Tuple[SamplerConfig, List[Tuple[str, Dict]]]:
    """Improve one setting at a time on the selection score; return the best and the log."""
    from tqdm import tqdm

    best = start or SamplerConfig()
    best_score = score_sampler(model, encoded, best, seed)
    log: List[Tuple[str, Dict]] = [(describe(best), best_score)]
    progress = tqdm(desc='sampler search', unit='setting')
    for axis in axes:
        for candidate in _candidates(best, axis):
            result = score_sampler(model, encoded, candidate, seed)
            progress.update()
            log.append((describe(candidate), result))
            if result['selection'] > best_score['selection'] + 1e-9:
                best, best_score = candidate, result
        LOG.info('after %s: %s -> selection %.3f, 5deg2cm %.3f, 10deg5cm %.3f', axis,
                 describe(best), best_score['selection'], best_score['5deg2cm'],
                 best_score['10deg5cm'])
    progress.close()
    return best, log


def describe(config: Optional[SamplerConfig]) -> str:
    """Return a short name of a sampler setting, e.g. 'DDIM10 K=1 guided exp(1,10,10)'."""
    if config is None:
        return 'regression head'
    guidance = config.guidance
    schedule = {'none': 'unguided', 'constant': 'const(%g)' % guidance.w,
                'linear': 'linear(%g,%g)' % (guidance.w_min, guidance.w_max),
                'exponential': 'exp(%g,%g,%g)' % (
                    guidance.w_min, guidance.w_max, guidance.beta)}[guidance.kind]
    method = 'DDIM%d' % config.steps if config.method == 'ddim' else 'PF-ODE'
    extras = ''.join((' %s' % config.update if config.method == 'ddim' else '',
                      ' +denoise' if config.final_denoise else '',
                      ' from regression' if config.cold_start == 'regression' else ''))
    return '%s K=%d %s %s t0=%g%s' % (method, config.num_candidates, config.aggregation,
                                      schedule, config.t0, extras)


def sampling_table(model: CatPoseNet, encoded: EncodedSet, best: SamplerConfig,
                   seed: int = 0) -> List[Tuple[str, Dict]]:
    """Return the paper's sampling comparison around the chosen setting (one split)."""
    unguided = replace(best, guidance=GuidanceConfig(kind='none'))
    from_noise = replace(best, cold_start='noise', t0=GENPOSE_T0)  # the paper's start
    rows: List[Optional[SamplerConfig]] = [
        None, replace(from_noise, guidance=GuidanceConfig(kind='none')), from_noise, unguided,
        replace(best, guidance=GuidanceConfig(kind='constant', w=3.0)),
        replace(best, guidance=GuidanceConfig(kind='linear', w_min=best.guidance.w_min,
                                              w_max=best.guidance.w_max)),
        best,
        replace(unguided, num_candidates=50, aggregation='mean'),
        replace(best, num_candidates=50, aggregation='mean'),
        replace(best, method='pf_ode'),
    ] + [replace(best, steps=n) for n in (5, 10, 20, 50) if n != best.steps]
    return [(describe(c), score_sampler(model, encoded, c, seed)) for c in rows]


def format_rows(rows: Sequence[Tuple[str, Dict]]) -> str:
    """Markdown table of (setting, summary) rows."""
    lines = ['| setting | median rot (deg) | median trans (cm) | 5deg2cm | 5deg5cm | 10deg2cm '
             '| 10deg5cm | NFE | ms/object |', '|---|---|---|---|---|---|---|---|---|']
    for name, s in rows:
        lines.append('| %s | %.1f | %.2f | %.3f | %.3f | %.3f | %.3f | %d | %.2f |' % (
            name, s['median_rotation_deg'], s['median_translation_cm'], s['5deg2cm'],
            s['5deg5cm'], s['10deg2cm'], s['10deg5cm'], s['nfe'], s['ms_per_object']))
    return '\n'.join(lines)
