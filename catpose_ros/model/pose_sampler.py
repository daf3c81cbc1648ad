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

"""Pose sampling: K guided candidates per object, cold and warm starts in one batch.

The generic samplers (model/samplers.py) integrate the guided probability-flow ODE over
9-D pose vectors [R[:, 0], R[:, 1], t - centroid]. This module decides where each row starts
(cold: N(0, sigma(t0)^2) at t0; warm: previous pose + N(0, sigma(track_t0)^2) at
track_t0), repeats each object's feature for its K candidates, re-orthonormalises the rotation
afterwards, aggregates the candidates and, for K > 1, reports their spread as a ROS pose
covariance.
"""

from dataclasses import asdict, dataclass, field
import logging
from typing import Any, Callable, Dict, Optional

import torch

from catpose_ros.config_dicts import strict_fields
from catpose_ros.geometry.rotation import (average_rotations, matrix_to_rotation_6d,
                                           rotation_6d_to_matrix, rotation_log)
from catpose_ros.model.guidance import GuidanceConfig, make_guidance
from catpose_ros.model.samplers import ddim_sample, denoise, pf_ode_sample, UPDATES
from catpose_ros.model.sde import VESDE

_LOG = logging.getLogger(__name__)

POSE_DIM = 9
METHODS = ('ddim', 'pf_ode')
COLD_STARTS = ('noise', 'regression')
GENPOSE_T0 = 0.55  # GenPose's single-frame start time (noise of sigma ~1.1 around zero)


def tuned_guidance() -> GuidanceConfig:
    """Score scaling chosen by `catpose tune-sampler` on the validation split."""
    return GuidanceConfig(kind='exponential', w_min=1.0, w_max=10.0, beta=1.0)


AGGREGATIONS = ('first', 'mean')

ScoreModel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class SamplerConfig:
    """How poses are sampled.

    method: 'ddim' (fixed `steps`, geometric in sigma) or 'pf_ode' (adaptive RK45 with rtol,
    atol). The defaults of steps, t0, guidance, update and final_denoise are the shipped
    model's: the exact-update setting that scored best on the validation split (`catpose
    tune-sampler`, then `catpose eval`; the exact update holds at fewer steps, where Euler
    fails), track_t0 the warm start steadiest on static validation scenes (a later start
    can score higher on the validation sequences but turns held poses between frames;
    models/README.md; GenPose uses 0.15 and starts cold estimates at t0 = 0.55,
    GENPOSE_T0); checkpoints carry their own settings, which take precedence.
    aggregation: 'first' returns candidate 0 (the others only measure the spread); 'mean'
    is GenPose-style mean pooling (Markley quaternion mean, arithmetic mean translation).
    update: the DDIM step ('exact' guided VE update or 'euler', see samplers.ddim_sample).
    final_denoise: one more score evaluation at sigma_min that removes the noise left there.
    cold_start: where an untracked estimate starts at t0: 'noise' around zero (the paper,
    GenPose) or 'regression' around the jointly trained regression head's pose (ours: the
    same single guided sample, started near the regressed pose, typically from a smaller t0).
    cuda_graph: on CUDA, record the fixed-step DDIM loop once per batch size as a CUDA graph
    and replay it (one launch instead of a few hundred); ignored elsewhere and for the
    PF-ODE; falls back to eager execution when recording fails.
    """

    method: str = 'ddim'
    steps: int = 30
    t0: float = 0.55
    track_t0: float = 0.25
    guidance: GuidanceConfig = field(default_factory=tuned_guidance)
    num_candidates: int = 1
    aggregation: str = 'first'
    rtol: float = 1e-5
    atol: float = 1e-5
    max_ode_steps: int = 1000
    update: str = 'exact'
    final_denoise: bool = False
    cuda_graph: bool = False
    cold_start: str = 'noise'

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError('method must be one of %s, got %r' % (METHODS, self.method))
        if self.aggregation not in AGGREGATIONS:
            raise ValueError('aggregation must be one of %s, got %r'
                             % (AGGREGATIONS, self.aggregation))
        if self.cold_start not in COLD_STARTS:
            raise ValueError('cold_start must be one of %s, got %r'
                             % (COLD_STARTS, self.cold_start))
        if self.update not in UPDATES:
            raise ValueError('update must be one of %s, got %r' % (UPDATES, self.update))
        if self.num_candidates < 1 or self.steps < 1:
            raise ValueError('num_candidates and steps must be >= 1')
        if not (0.0 < self.track_t0 <= 1.0 and 0.0 < self.t0 <= 1.0):
            raise ValueError('t0 and track_t0 must lie in (0, 1]')
        if isinstance(self.guidance, dict):
            self.guidance = GuidanceConfig(**self.guidance)

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict (guidance nested), safe to store inside a checkpoint."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> 'SamplerConfig':
        """Rebuild from `to_dict`'s output; unknown keys are an error, missing ones default."""
        return cls(**strict_fields(cls, values, 'sampler settings'))


@dataclass
class PoseSamples:
    """Sampled poses [B, 9], all candidates [B, K, 9], their covariance and the cost.

    covariance [B, 6, 6] is in ROS PoseWithCovariance order (x, y, z, rotation about the
    camera's X, Y, Z) and is None when K == 1. nfe counts batched score evaluations.
    """

    poses: torch.Tensor
    candidates: torch.Tensor
    covariance: Optional[torch.Tensor]
    nfe: int


def orthonormalise_poses(x: torch.Tensor) -> torch.Tensor:
    """Replace the 6D part of pose vectors [..., 9] by its Gram-Schmidt rotation."""
    rotation6d = matrix_to_rotation_6d(rotation_6d_to_matrix(x[..., :6]))
    return torch.cat((rotation6d, x[..., 6:]), dim=-1)


def mean_pose(candidates: torch.Tensor) -> torch.Tensor:
    """Mean-pool candidates [B, K, 9]: Markley rotation mean and arithmetic mean translation."""
    rotation = average_rotations(rotation_6d_to_matrix(candidates[..., :6]))
    return torch.cat((matrix_to_rotation_6d(rotation), candidates[..., 6:].mean(1)), dim=-1)


def pose_covariance(candidates: torch.Tensor) -> torch.Tensor:
    """Return the sample covariance [B, 6, 6] of K > 1 candidates [B, K, 9].

    Rotation deviations are the rotation vectors of R_k R_mean^T (R_mean: Markley mean), i.e.
    small rotations about the fixed camera axes, as PoseWithCovariance defines them; they
    equal R_mean log(R_mean^T R_k). Translation and rotation parts are centred on their
    means and the estimate divides by K - 1.
    """
    count = candidates.shape[1]
    if count < 2:
        raise ValueError('a covariance needs at least 2 candidates, got %d' % count)
    rotations = rotation_6d_to_matrix(candidates[..., :6])
    reference = average_rotations(rotations)
    deviations = rotation_log(rotations @ reference.transpose(-1, -2)[:, None])
    vectors = torch.cat((candidates[..., 6:], deviations), dim=-1)
    centred = vectors - vectors.mean(1, keepdim=True)
    return centred.transpose(1, 2) @ centred / (count - 1)


def cold_centres(model, config: SamplerConfig, features: torch.Tensor
                 ) -> Optional[torch.Tensor]:
    """Return where cold rows start: the regressed poses for cold_start 'regression'.

    The head's raw 6D output is re-orthonormalised: the score network only ever saw unit
    rotation columns.
    """
    if config.cold_start != 'regression':
        return None
    return orthonormalise_poses(model.regress(features))


class PoseSampler:
    """Sample object poses from a conditional score model with score-scaling guidance."""

    def __init__(self, sde: VESDE, config: SamplerConfig):
        self.sde = sde
        self.config = config
        self.guidance = make_guidance(config.guidance)
        self.last_nfe = 0   # score evaluations of the latest call (benchmarks read it)
        self._graphs = (DDIMGraphs(sde, config.steps, self.guidance, config.update)
                        if config.cuda_graph and config.method == 'ddim' else None)

    @torch.inference_mode()
    def sample(self, score_model: ScoreModel, features: torch.Tensor,
               init_poses: Optional[torch.Tensor] = None, warm: Optional[torch.Tensor] = None,
               generator: Optional[torch.Generator] = None,
               cold_centre: Optional[torch.Tensor] = None) -> PoseSamples:
        """Sample poses for B objects with features [B, F].

        score_model(x [M, 9], t [M], features [M, F]) -> score [M, 9]. Rows with warm [B]
        true start from init_poses [B, 9] at track_t0; the others start from noise at t0
        around cold_centre [B, 9] (zero when None). warm defaults to all rows when init_poses
        is given, to none otherwise. A generator, if given, must live on the features' device.
        """
        count = self.config.num_candidates
        warm = self._warm_rows(features, init_poses, warm)
        t0 = torch.where(warm, self.config.track_t0, self.config.t0).to(features.dtype)
        centre = torch.zeros(features.shape[0], POSE_DIM, dtype=features.dtype,
                             device=features.device)
        if cold_centre is not None:
            centre = cold_centre.to(features.dtype).reshape(centre.shape)
        if init_poses is not None:
            centre = torch.where(warm[:, None], init_poses.to(features.dtype), centre)
        t0 = t0.repeat_interleave(count)
        x_init = centre.repeat_interleave(count, dim=0) + self.sde.prior_sample(
            (t0.shape[0], POSE_DIM), t0, generator=generator)
        repeated = features.repeat_interleave(count, dim=0)
        score_fn = lambda x, t: score_model(x, t, repeated)  # noqa: E731
        if self._graphs is not None and self._graphs.serves(x_init):
            x, nfe = self._graphs.run(score_model, repeated, x_init, t0), self.config.steps
            if self.config.final_denoise:
                x, nfe = denoise(score_fn, self.sde, x), nfe + 1
        else:
            x, nfe = self._integrate(score_fn, x_init, t0)
        candidates = orthonormalise_poses(x).reshape(features.shape[0], count, POSE_DIM)
        self.last_nfe = nfe
        return PoseSamples(poses=self._aggregate(candidates), candidates=candidates,
                           covariance=pose_covariance(candidates) if count > 1 else None,
                           nfe=nfe)

    def _warm_rows(self, features: torch.Tensor, init_poses: Optional[torch.Tensor],
                   warm: Optional[torch.Tensor]) -> torch.Tensor:
        if features.dim() != 2:
            raise ValueError('features must be [B, F], got %s' % (tuple(features.shape),))
        batch = features.shape[0]
        if init_poses is not None and tuple(init_poses.shape) != (batch, POSE_DIM):
            raise ValueError('init_poses must be [%d, 9], got %s'
                             % (batch, tuple(init_poses.shape)))
        if warm is None:
            warm = torch.full((batch,), init_poses is not None, dtype=torch.bool)
        warm = torch.as_tensor(warm, dtype=torch.bool).to(features.device)
        if tuple(warm.shape) != (batch,):
            raise ValueError('warm must be [%d], got %s' % (batch, tuple(warm.shape)))
        if init_poses is None and bool(warm.any()):
            raise ValueError('warm rows need init_poses')
        return warm

    def _integrate(self, score_fn, x_init: torch.Tensor, t0: torch.Tensor):
        if self.config.method == 'ddim':
            x = ddim_sample(score_fn, self.sde, x_init, t0, self.config.steps, self.guidance,
                            self.config.update)
            nfe = self.config.steps
        else:
            x, nfe = pf_ode_sample(score_fn, self.sde, x_init, t0, self.guidance,
                                   rtol=self.config.rtol, atol=self.config.atol,
                                   max_steps=self.config.max_ode_steps)
        if self.config.final_denoise:
            x, nfe = denoise(score_fn, self.sde, x), nfe + 1
        return x, nfe

    def _aggregate(self, candidates: torch.Tensor) -> torch.Tensor:
        if self.config.aggregation == 'mean' and candidates.shape[1] > 1:
            return mean_pose(candidates)
        return candidates[:, 0]


class DDIMGraphs:
    """The fixed-step DDIM loop recorded as one CUDA graph per (rows, features, device).

    Inputs are copied into static buffers and the recorded kernels replayed: no Python and
    no launch overhead per step, and no host synchronisation inside the loop. A shape that
    fails to record (an operation that cannot be captured) is remembered and runs eagerly.
    """

    def __init__(self, sde: VESDE, steps: int, guidance, update: str = 'exact'):
        self.sde, self.steps, self.guidance, self.update = sde, steps, guidance, update
        self._graphs = {}
        self._failed = set()

    @staticmethod
    def _key(features: torch.Tensor, x_init: torch.Tensor):
        return (tuple(features.shape), tuple(x_init.shape), x_init.dtype, x_init.device)

    def serves(self, x_init: torch.Tensor) -> bool:
        """Whether this call can replay a graph (CUDA tensors only)."""
        return x_init.is_cuda

    def run(self, score_model: ScoreModel, features: torch.Tensor, x_init: torch.Tensor,
            t0: torch.Tensor) -> torch.Tensor:
        """Return DDIM samples, replaying (recording on first use) the graph of this shape."""
        key = self._key(features, x_init)
        if key not in self._graphs and key not in self._failed:
            try:
                self._graphs[key] = self._record(score_model, features, x_init, t0)
            except RuntimeError as error:
                _LOG.warning('CUDA graph recording failed (%s); running the sampler eagerly',
                             error)
                self._failed.add(key)
        if key in self._failed:
            return ddim_sample(lambda x, t: score_model(x, t, features), self.sde, x_init, t0,
                               self.steps, self.guidance, self.update)
        graph, inputs, output = self._graphs[key]
        for static, value in zip(inputs, (features, x_init, t0)):
            static.copy_(value)
        graph.replay()
        return output.clone()

    def _record(self, score_model: ScoreModel, features: torch.Tensor, x_init: torch.Tensor,
                t0: torch.Tensor):
        inputs = (features.clone(), x_init.clone(), t0.clone())

        def loop():
            static_features, static_x, static_t0 = inputs
            return ddim_sample(lambda x, t: score_model(x, t, static_features), self.sde,
                               static_x, static_t0, self.steps, self.guidance, self.update)

        side = torch.cuda.Stream(device=x_init.device)
        side.wait_stream(torch.cuda.current_stream(x_init.device))
        with torch.cuda.stream(side):
            for _ in range(2):          # warm up allocator and kernels off the capture
                loop()
        torch.cuda.current_stream(x_init.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            output = loop()
        return graph, inputs, output
