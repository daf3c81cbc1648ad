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

"""Every parameter of the pose and segmentation nodes, declared once.

The dataclasses below are the single declaration: each field carries its default, description,
range or choices and the nodes that use it. The rclpy nodes declare ROS parameters from
`parameter_specs(node)`, the ROS-free cores take `CatposeParams.from_dict(values)`, and a test
checks that config/catpose.yaml names exactly these parameters. ROS names are dotted
`<group>.<field>` (e.g. `sync.slop`), except the top-level `autostart`.
"""

from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from catpose_ros.geometry.camera import MAX_DEPTH_M, MIN_DEPTH_M
from catpose_ros.model.device import PRECISIONS
from catpose_ros.resources import (  # noqa: F401 (re-exported for the node cores)
    checkpoint_candidates, DEFAULT_CHECKPOINT_NAME, ModelNotFoundError, resolve_checkpoint)

POSE_NODE = 'pose'
SEGMENTATION_NODE = 'segmentation'
BOTH_NODES = (POSE_NODE, SEGMENTATION_NODE)


class InvalidParameterError(ValueError):
    """Raised for an unknown parameter name or a value of the wrong type or range."""


def _param(default: Any, description: str, *, low: Optional[float] = None,
           high: Optional[float] = None, choices: Sequence[str] = (),
           nodes: Sequence[str] = (POSE_NODE,), live: Union[bool, Sequence[str]] = False):
    """Declare one parameter field: its default plus what a ParameterDescriptor needs.

    live: the parameter takes effect at once while the node runs (True: in every node that
    uses it; or the nodes where it does); the others need a reconfigure.
    """
    live_nodes = tuple(nodes) if live is True else tuple(live or ())
    return field(default=default, metadata={
        'description': description, 'low': low, 'high': high,
        'choices': tuple(choices), 'nodes': tuple(nodes), 'live': live_nodes})


@dataclass(frozen=True)
class ModelParams:
    """Which network runs where."""

    checkpoint: str = _param(
        '', 'Model checkpoint path; empty = share/catpose_ros/models/catpose_default.pt.')
    device: str = _param(
        'auto', 'Torch device (cuda:<index> also accepted); auto = cuda when available.',
        choices=('auto', 'cpu', 'cuda'), nodes=BOTH_NODES)
    num_points: int = _param(
        1024, 'Points sampled from each object mask (the network was trained with 1024).',
        low=64, high=8192)
    seed: int = _param(0, 'Seed of the diffusion sampler (reproducible poses).',
                       low=0, high=2 ** 31 - 1)
    uncertainty_candidates: int = _param(
        1, 'Diffusion samples per object (K); K > 1 fills the pose covariance from their '
        'spread, K = 1 is the single-sample inference of the paper.', low=1, high=64, live=True)
    pose_confidence: bool = _param(
        True, 'Rate each diffusion pose by its agreement with one more cold sample from the '
        'same features (one more sampler row per object; the candidates when K > 1) and '
        'publish the detection score times that confidence; false: the detection score alone.')
    head: str = _param(
        'diffusion', 'Which head gives the pose: diffusion (the method: guided sampling, '
        'warm starts when tracking) or regression (one forward pass, no warm start).',
        choices=('diffusion', 'regression'))
    precision: str = _param(
        'fp32', 'Encoder precision: fp32, or bf16 / fp16 matrix multiplies (faster on GPUs '
        'and AMX CPUs; accuracy beside speed in docs/benchmark.md).',
        choices=PRECISIONS)
    cpu_threads: int = _param(
        1, 'PyTorch CPU threads for inference; 0 = PyTorch default (one per core). One '
        'thread never waits for a descheduled sibling, which on a busy small computer '
        'costs more than a second thread gains (docs/benchmark.md).', low=0, high=256)


@dataclass(frozen=True)
class SamplerParams:
    """Guided reverse diffusion (score-scaling sampling)."""

    method: str = _param('ddim', 'Reverse-diffusion sampler (pf_ode: adaptive RK45).',
                         choices=('ddim', 'pf_ode'), live=True)
    steps: int = _param(30, 'Sampler steps for ddim (pf_ode adapts its own).',
                        low=1, high=1000, live=True)
    t0: float = _param(0.55, 'Start time of a cold (untracked) estimate.', low=1e-3,
                       high=1.0, live=True)
    track_t0: float = _param(
        0.25, 'Start time of a warm start from the previous pose (tracking mode).',
        low=1e-3, high=1.0, live=True)
    guidance: str = _param('exponential', 'Score-scaling schedule w(t).',
                           choices=('none', 'constant', 'linear', 'exponential'), live=True)
    w_min: float = _param(1.0, 'Score scale at t = 1 (linear, exponential).', low=0.0,
                          high=100.0, live=True)
    w_max: float = _param(10.0, 'Score scale at t = 0 (linear, exponential).', low=0.0,
                          high=100.0, live=True)
    beta: float = _param(1.0, 'Rate of the exponential schedule.', low=0.0, high=100.0,
                         live=True)
    w: float = _param(3.0, 'Score scale of the constant schedule.', low=0.0, high=100.0,
                      live=True)
    aggregation: str = _param(
        'first', 'With K > 1 candidates: first keeps candidate 0 (the rest give the spread), '
        'mean pools them.', choices=('first', 'mean'), live=True)
    update: str = _param(
        'exact', 'DDIM step: exact (the guided VE update, never overshoots) or euler.',
        choices=('exact', 'euler'), live=True)
    final_denoise: bool = _param(
        False, 'One more score evaluation at the smallest noise level that removes the noise '
        'left there.', live=True)
    cold_start: str = _param(
        'noise', 'Where an untracked estimate starts: noise around zero, or noise around the '
        "regression head's pose (then from a smaller t0).", choices=('noise', 'regression'),
        live=True)
    cuda_graph: bool = _param(
        False, 'On CUDA, replay the fixed-step DDIM loop as a recorded CUDA graph (falls '
        'back to eager execution when recording fails; ignored on the CPU).')


@dataclass(frozen=True)
class DepthParams:
    """How raw depth pixels become metres and which are trusted."""

    scale: float = _param(
        0.001, 'Metres per unit of a 16UC1 depth image (32FC1 is already in metres).',
        low=1e-6, high=1.0, live=True)
    min_depth: float = _param(MIN_DEPTH_M, 'Nearest trusted depth in metres.', low=0.0,
                              high=100.0, live=True)
    max_depth: float = _param(MAX_DEPTH_M, 'Farthest trusted depth in metres.', low=0.0,
                              high=100.0, live=True)


@dataclass(frozen=True)
class SegmentationParams:
    """Instance segmentation (segmentation node) and mask acceptance (both nodes)."""

    backend: str = _param(
        'maskrcnn', 'Segmenter backend.', choices=('maskrcnn', 'detectron2', 'label_image'),
        nodes=(SEGMENTATION_NODE,))
    weights: str = _param(
        '', 'Segmenter weights file; empty = the shipped models/maskrcnn_default.pt (no '
        'download at run time).', nodes=(SEGMENTATION_NODE,))
    score_threshold: float = _param(0.5, 'Minimum detection score kept.', low=0.0, high=1.0,
                                    nodes=BOTH_NODES, live=(POSE_NODE,))
    max_detections: int = _param(20, 'Most instances kept per image (maskrcnn).', low=1,
                                 high=1000, nodes=(SEGMENTATION_NODE,),
                                 live=False)
    categories: str = _param(
        '', 'Comma-separated categories to keep (e.g. mug,bowl); empty = all (maskrcnn).',
        nodes=(SEGMENTATION_NODE,), live=False)
    input_size: int = _param(
        0, 'Short side in pixels the image is resized to before the detector; 0 = the size '
        'the weights were trained at (maskrcnn).', low=0, high=4096,
        nodes=(SEGMENTATION_NODE,), live=False)
    min_mask_pixels: int = _param(50, 'Masks with fewer valid pixels are skipped.',
                                  low=1, high=10 ** 7, nodes=BOTH_NODES, live=(POSE_NODE,))


@dataclass(frozen=True)
class SyncParams:
    """Joining depth, camera_info and segmentation into one frame."""

    slop: float = _param(0.05, 'Max stamp difference (s) between inputs of one frame.',
                         low=0.0, high=10.0, nodes=BOTH_NODES)
    queue: int = _param(5, 'Approximate-time synchronizer queue length.', low=1, high=100,
                        nodes=BOTH_NODES)
    qos: str = _param(
        'sensor_data', 'Input QoS: sensor_data (best effort, matches any publisher) or '
        'reliable.', choices=('sensor_data', 'reliable'), nodes=BOTH_NODES)
    max_input_age_s: float = _param(
        1.0, 'Frames older than this (node clock minus stamp) are dropped; 0 = keep all.',
        low=0.0, high=3600.0, nodes=BOTH_NODES, live=True)


@dataclass(frozen=True)
class TrackingParams:
    """Warm starts, identities and re-initialisation."""

    mode: str = _param('track', 'estimate: every frame cold; track: warm start and ids.',
                       choices=('estimate', 'track'), live=True)
    lost_after_frames: int = _param(5, 'Frames without a matching mask before a track is lost.',
                                    low=1, high=1000, live=True)
    max_translation_jump_m: float = _param(
        0.1, 'A larger jump between frames re-initialises the track.', low=1e-3, high=10.0,
        live=True)
    max_rotation_jump_deg: float = _param(
        45.0, 'A larger rotation jump between frames re-initialises the track.',
        low=1e-3, high=180.0, live=True)
    reinit_period_s: float = _param(
        0.0, 'Cold re-estimate of every track after this long; 0 = never.', low=0.0,
        high=3600.0, live=True)
    min_iou: float = _param(
        0.1, 'A mask matches a track when their IoU reaches this (or when their centroids '
        'are within max_centroid_distance_m).', low=0.0, high=1.0, live=True)
    max_centroid_distance_m: float = _param(
        0.15, 'A mask matches a track whose centroid is at most this far away, overlap or '
        'not (fast small objects).', low=1e-3, high=10.0, live=True)
    stable_symmetric_rotation: bool = _param(
        True, 'For objects symmetric about their y axis (and mugs with a hidden handle), '
        "publish the turn about y nearest the track's previous rotation, so TF frames do not "
        'spin.', live=True)
    relock_after_frames: int = _param(
        3, 'Each warm start also samples a cold pose (cold check); a track '
        'whose cold checks disagree with it, and agree with each other, this many frames in a '
        'row re-locks onto them; 0 = no cold checks.', low=0, high=1000, live=True)
    relock_rotation_deg: float = _param(
        15.0, 'A cold check that differs from the warm estimate by more than '
        'this (about the symmetry axis ignored) disagrees with it.', low=1e-3, high=180.0,
        live=True)
    relock_translation_m: float = _param(
        0.05, 'A cold check that differs from the warm estimate by more than '
        'this disagrees with it.', low=1e-4, high=10.0, live=True)
    cold_check_weight: float = _param(
        0.7, 'Weight of an agreeing cold check in the tracked pose (0 keeps the '
        'warm estimate).', low=0.0, high=1.0, live=True)


@dataclass(frozen=True)
class OutputParams:
    """What gets published."""

    publish_tf: bool = _param(True, 'Broadcast one TF frame per tracked object.', live=True)
    tf_prefix: str = _param('catpose/', 'TF child frames are <tf_prefix><category>_<id>.',
                            live=True)
    tf_min_score: float = _param(
        0.0, 'Broadcast TF only for objects whose score (detection score times pose '
        'confidence) reaches this, so a TF consumer sees no pose the model is unsure of; '
        '~/detections and ~/markers carry every object with its score.', low=0.0, high=1.0,
        live=True)
    publish_markers: bool = _param(True, 'Publish ~/markers (boxes, axes, labels).',
                                   live=True)
    publish_debug_cloud: bool = _param(
        False, 'Publish ~/debug/cloud with the sampled points (only while subscribed).', live=True)


@dataclass(frozen=True)
class CatposeParams:
    """All parameters; each node reads the subset `parameter_specs(node)` lists."""

    model: ModelParams = field(default_factory=ModelParams)
    sampler: SamplerParams = field(default_factory=SamplerParams)
    depth: DepthParams = field(default_factory=DepthParams)
    segmentation: SegmentationParams = field(default_factory=SegmentationParams)
    sync: SyncParams = field(default_factory=SyncParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)
    output: OutputParams = field(default_factory=OutputParams)
    autostart: bool = _param(True, 'Configure and activate the lifecycle node on start.',
                             nodes=BOTH_NODES)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> 'CatposeParams':
        """Build from dotted names (ROS parameters or flattened YAML); unknown names raise."""
        specs = {spec.name: spec for spec in parameter_specs()}
        unknown = sorted(set(values) - set(specs))
        if unknown:
            raise InvalidParameterError('unknown parameters: %s' % ', '.join(unknown))
        result = cls()
        for name, value in values.items():
            result = _replace_dotted(result, name.split('.'), specs[name].coerce(value))
        result.check_consistency()
        return result

    def to_dict(self, node: Optional[str] = None) -> Dict[str, Any]:
        """Flatten to dotted names, optionally only one node's parameters."""
        return {spec.name: self.get(spec.name) for spec in parameter_specs(node)}

    def get(self, name: str) -> Any:
        """Return one parameter by its dotted name."""
        value: Any = self
        for part in name.split('.'):
            value = getattr(value, part)
        return value

    def check_consistency(self) -> None:
        """Reject combinations that each pass their own range but not together."""
        if self.depth.min_depth >= self.depth.max_depth:
            raise InvalidParameterError('depth.min_depth (%g) must be below depth.max_depth (%g)'
                                        % (self.depth.min_depth, self.depth.max_depth))
        if self.sampler.w_min > self.sampler.w_max:
            raise InvalidParameterError('sampler.w_min must not exceed sampler.w_max')


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter, as an rclpy ParameterDescriptor and a validator need it."""

    name: str
    default: Any
    description: str
    low: Optional[float] = None
    high: Optional[float] = None
    choices: Tuple[str, ...] = ()
    nodes: Tuple[str, ...] = (POSE_NODE,)
    live: Tuple[str, ...] = ()

    @property
    def value_type(self) -> type:
        """The Python type of the value (bool, int, float or str)."""
        return type(self.default)

    def coerce(self, value: Any) -> Any:
        """Return value as this parameter's type, or raise InvalidParameterError."""
        if self.value_type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        wrong_type = not isinstance(value, self.value_type) or (
            self.value_type is not bool and isinstance(value, bool))
        if wrong_type:
            raise InvalidParameterError('%s must be %s, got %r'
                                        % (self.name, self.value_type.__name__, value))
        if self.choices and value not in self.choices and not self._device_index(value):
            raise InvalidParameterError('%s must be one of %s, got %r'
                                        % (self.name, ', '.join(self.choices), value))
        if self.low is not None and value < self.low or (
                self.high is not None and value > self.high):
            raise InvalidParameterError('%s must lie in [%g, %g], got %r'
                                        % (self.name, self.low, self.high, value))
        return value

    def full_description(self) -> str:
        """Describe the parameter with its choices, as `ros2 param describe` shows it."""
        if self.choices:
            return '%s One of: %s.' % (self.description, ', '.join(self.choices))
        return self.description

    def _device_index(self, value: str) -> bool:
        return self.name == 'model.device' and value.startswith('cuda:') and \
            value[5:].isdigit()


def _replace_dotted(obj: Any, parts: Sequence[str], value: Any) -> Any:
    if len(parts) == 1:
        return replace(obj, **{parts[0]: value})
    return replace(obj, **{parts[0]: _replace_dotted(getattr(obj, parts[0]), parts[1:], value)})


def _walk(cls: type, prefix: str) -> Iterable[ParamSpec]:
    for item in fields(cls):
        if isinstance(item.type, type) and is_dataclass(item.type):
            yield from _walk(item.type, prefix + item.name + '.')
            continue
        meta = item.metadata
        yield ParamSpec(prefix + item.name, item.default, meta['description'], meta['low'],
                        meta['high'], meta['choices'], meta['nodes'], meta['live'])


def parameter_specs(node: Optional[str] = None) -> Tuple[ParamSpec, ...]:
    """Every declared parameter (or those `node` uses), in declaration order."""
    specs = tuple(_walk(CatposeParams, ''))
    if node is None:
        return specs
    if node not in BOTH_NODES:
        raise InvalidParameterError('unknown node %r; known: %s' % (node, ', '.join(BOTH_NODES)))
    return tuple(spec for spec in specs if node in spec.nodes)


def flatten_yaml_parameters(document: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Turn a ROS params YAML (`<node>: ros__parameters: {...}`) into dotted names per node."""
    result = {}
    for node_name, section in document.items():
        if not isinstance(section, Mapping) or 'ros__parameters' not in section:
            raise InvalidParameterError('%s has no ros__parameters section' % node_name)
        result[node_name] = dict(_flatten(section['ros__parameters'], ''))
    return result


def _flatten(tree: Mapping[str, Any], prefix: str) -> Iterable[Tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, prefix + key + '.')
        else:
            yield prefix + key, value


def load_params_file(path: str, node: Optional[str] = None) -> CatposeParams:
    """Read a ROS params YAML (all sections merged, `/**` first) into CatposeParams."""
    import yaml

    with open(path, encoding='utf-8') as stream:
        sections = flatten_yaml_parameters(yaml.safe_load(stream) or {})
    merged: Dict[str, Any] = dict(sections.pop('/**', {}))
    for values in sections.values():
        merged.update(values)
    if node is not None:
        names = {spec.name for spec in parameter_specs(node)}
        merged = {name: value for name, value in merged.items() if name in names}
    return CatposeParams.from_dict(merged)
