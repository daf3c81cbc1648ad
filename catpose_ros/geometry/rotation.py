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

"""Rotation representations and distances (torch, batched over leading dimensions).

The 6D representation is the first two columns of R (the object x and y axes seen from
the camera), decoded by Gram-Schmidt (Zhou et al. 2019), exactly as GenPose stores poses.
Quaternions follow ROS's (x, y, z, w) order, which is also scipy's.
"""

import numpy as np
from scipy.spatial.transform import Rotation
import torch

_EPS = 1e-8


def rotation_6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """Map [..., 6] = [x-axis; y-axis] to the nearest proper rotation [..., 3, 3]."""
    a1, a2 = rot6d[..., :3], rot6d[..., 3:6]
    b1 = torch.nn.functional.normalize(a1, dim=-1, eps=_EPS)
    b2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = torch.nn.functional.normalize(b2, dim=-1, eps=_EPS)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def matrix_to_rotation_6d(matrix: torch.Tensor) -> torch.Tensor:
    """Take the first two columns of R [..., 3, 3] as [..., 6]."""
    return torch.cat((matrix[..., :, 0], matrix[..., :, 1]), dim=-1)


def geodesic_angle(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Angle in radians of r1^T r2; stable near 0 and pi (atan2 of sin and cos parts)."""
    relative = r1.transpose(-1, -2) @ r2
    cos = (relative.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0
    skew = relative - relative.transpose(-1, -2)
    sin = torch.stack((skew[..., 2, 1], skew[..., 0, 2], skew[..., 1, 0]), -1).norm(dim=-1) / 2
    return torch.atan2(sin, cos)


def y_axis_angle(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Angle in radians between the two rotated y axes (error of a y-symmetric object)."""
    y1, y2 = r1[..., :, 1], r2[..., :, 1]
    cross = torch.cross(y1, y2, dim=-1).norm(dim=-1)
    return torch.atan2(cross, (y1 * y2).sum(-1))


def symmetry_aware_angle(r1: torch.Tensor, r2: torch.Tensor,
                         symmetric: torch.Tensor) -> torch.Tensor:
    """NOCS rotation error: y-axis angle where symmetric (bool [...]), geodesic elsewhere."""
    symmetric = torch.as_tensor(symmetric, dtype=torch.bool, device=r1.device)
    return torch.where(symmetric, y_axis_angle(r1, r2), geodesic_angle(r1, r2))


def matrix_to_quaternion_xyzw(matrix: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] to unit quaternions [..., 4] in ROS (x, y, z, w) order."""
    matrix = np.asarray(matrix, dtype=np.float64)
    flat = Rotation.from_matrix(matrix.reshape(-1, 3, 3)).as_quat()
    return flat.reshape(matrix.shape[:-2] + (4,))


def quaternion_xyzw_to_matrix(quaternion: np.ndarray) -> np.ndarray:
    """Quaternions [..., 4] in (x, y, z, w) order to rotation matrices [..., 3, 3]."""
    quaternion = np.asarray(quaternion, dtype=np.float64)
    flat = Rotation.from_quat(quaternion.reshape(-1, 4)).as_matrix()
    return flat.reshape(quaternion.shape[:-1] + (3, 3))


def average_rotations(matrices: torch.Tensor) -> torch.Tensor:
    """Markley's quaternion mean of rotations [..., K, 3, 3] -> [..., 3, 3], on the device.

    The mean is the top eigenvector of sum(q q^T), which ignores each quaternion's sign.
    """
    q = matrix_to_quaternion_wxyz_torch(matrices)
    scatter = (q.unsqueeze(-1) * q.unsqueeze(-2)).mean(-3)
    _, vectors = torch.linalg.eigh(scatter)
    return quaternion_wxyz_to_matrix_torch(vectors[..., -1])


def matrix_to_quaternion_wxyz_torch(matrix: torch.Tensor) -> torch.Tensor:
    """Batched rotation matrix to unit quaternion (w, x, y, z), branch-free and on device."""
    m = matrix
    trace_terms = torch.stack((
        1 + m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2],
        1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
        1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
        1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2],
    ), -1)
    candidates = torch.stack((
        torch.stack((trace_terms[..., 0], m[..., 2, 1] - m[..., 1, 2],
                     m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]), -1),
        torch.stack((m[..., 2, 1] - m[..., 1, 2], trace_terms[..., 1],
                     m[..., 1, 0] + m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0]), -1),
        torch.stack((m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1],
                     trace_terms[..., 2], m[..., 2, 1] + m[..., 1, 2]), -1),
        torch.stack((m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                     m[..., 2, 1] + m[..., 1, 2], trace_terms[..., 3]), -1),
    ), -2)
    best = trace_terms.argmax(-1)
    chosen = torch.gather(candidates, -2, best[..., None, None].expand(
        best.shape + (1, 4))).squeeze(-2)
    return torch.nn.functional.normalize(chosen, dim=-1)


def quaternion_wxyz_to_matrix_torch(q: torch.Tensor) -> torch.Tensor:
    """Batched unit quaternion (w, x, y, z) to rotation matrix."""
    w, x, y, z = torch.nn.functional.normalize(q, dim=-1).unbind(-1)
    return torch.stack((
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ), -1).reshape(q.shape[:-1] + (3, 3))


def rotation_log(matrix: torch.Tensor) -> torch.Tensor:
    """Map rotations [..., 3, 3] to rotation vectors [..., 3] (axis * angle in [0, pi])."""
    q = matrix_to_quaternion_wxyz_torch(matrix)
    q = torch.where(q[..., :1] < 0, -q, q)
    w, v = q[..., 0], q[..., 1:]
    norm = v.norm(dim=-1)
    angle = 2.0 * torch.atan2(norm, w)
    small = norm < 1e-7
    gain = torch.where(small, 2.0 / w.clamp_min(1e-7), angle / norm.clamp_min(1e-12))
    return v * gain[..., None]
