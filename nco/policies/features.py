"""What the policy sees of the environment's TensorDict (contract: the docstring of envs/env.py).

Every variant attribute is a feature column, zero (or neutral) where an instance lacks it, so one
network serves every mix of flags without looking at problem names. Scales make instances of any
unit comparable: distances are divided by the instance's mean finite distance, times by its
horizon (as the env already does for windows and service times), loads by the capacity.
The encoder sees the mean over the vehicle profiles' matrices (one fleet-wide picture of the roads;
an arc missing for some profile counts as far); the decoder sees the current vehicle's profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tensordict import TensorDict

from nco_core.features import ENV_FLAGS

__all__ = [
    "NODE_DIM",
    "STATE_DIM",
    "EncoderInputs",
    "distance_row",
    "distance_scale",
    "encoder_inputs",
    "state_features",
]

FLAGS = tuple(flag.key for flag in ENV_FLAGS)  # the env's per-instance flags, as state/node columns
NODE_DIM = 6 + len(FLAGS) + 1
STATE_DIM = 10 + len(FLAGS)
FAR = 10.0  # scaled stand-in for a missing (infinite) arc


@dataclass
class EncoderInputs:
    nodes: torch.Tensor  # [B, n, NODE_DIM]
    coords: torch.Tensor | None  # [B, n, 2], None when no instance of the batch has coordinates
    distance: torch.Tensor  # [B, n, n] scaled
    duration: torch.Tensor  # [B, n, n] scaled


def distance_scale(td: TensorDict) -> torch.Tensor:
    """Mean finite off-diagonal distance of profile 0, per instance."""
    matrix = td["distance"][:, 0]
    finite = torch.isfinite(matrix)
    total = torch.where(finite, matrix, 0).sum((1, 2))
    count = (finite.sum((1, 2)) - matrix.shape[-1]).clamp(min=1)
    return (total / count).clamp(min=1e-9)


def _scaled(matrix: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (matrix / scale.view(-1, 1, 1)).clamp(max=FAR).float()


def _profile_mean(matrices: torch.Tensor) -> torch.Tensor:
    """``[B, P, n, n] -> [B, n, n]``; a view of the only profile when there is one."""
    return matrices[:, 0] if matrices.shape[1] == 1 else matrices.mean(1)


def _flags(td: TensorDict) -> torch.Tensor:
    return torch.stack([td[key] for key in FLAGS], dim=-1).float()  # [B, len(FLAGS)]


def encoder_inputs(td: TensorDict, scale: torch.Tensor | None = None) -> EncoderInputs:
    """``scale``: :func:`distance_scale` of ``td`` when the caller already has it."""
    batch, n = td["demand"].shape
    is_depot = torch.zeros(batch, n, device=td.device)
    is_depot[:, 0] = 1
    horizon = td["horizon"]
    duration = _scaled(_profile_mean(td["duration"]), horizon)
    flags = _flags(td)[:, None, :].expand(batch, n, len(FLAGS))
    # how long travel is against the horizon, so the model can relate windows to distances
    travel_share = duration.mean((1, 2))[:, None, None].expand(batch, n, 1)
    nodes = torch.cat(
        [
            is_depot[..., None],
            td["demand_norm"][..., None],
            td["pickup_norm"][..., None],
            td["time_windows_norm"],
            td["service_time_norm"][..., None],
            flags,
            travel_share,
        ],
        dim=-1,
    )
    has_coords = bool((td["locs"] != 0).any())
    return EncoderInputs(
        nodes=nodes,
        coords=td["locs"] if has_coords else None,
        distance=_scaled(_profile_mean(td["distance"]), distance_scale(td) if scale is None else scale),
        duration=duration,
    )


def _current(td: TensorDict, key: str) -> torch.Tensor:
    return td[key].gather(1, td["vehicle_type"][:, None]).squeeze(1)


def state_features(td: TensorDict) -> torch.Tensor:
    """``[B, STATE_DIM]``: loads and slack of the vehicle being built, time, progress, flags."""
    capacity = _current(td, "vehicle_capacity")
    finite = torch.isfinite(capacity)
    per_capacity = lambda x: torch.where(finite, x / torch.where(finite, capacity, 1), 0).float()  # noqa: E731
    horizon = td["horizon"]
    elapsed = td["current_time"] - td["route_start"]
    limit = _current(td, "vehicle_max_duration")
    limited = torch.isfinite(limit)
    duration_left = torch.where(limited, (limit - elapsed) / horizon, 1.0).float()
    customers = td["visited"].shape[1] - 1
    columns = [
        1 - per_capacity(td["used_capacity"]),
        per_capacity(td["used_linehaul"]),
        per_capacity(td["used_backhaul"]),
        (td["current_time"] / horizon).clamp(max=2).float(),
        (elapsed / horizon).clamp(max=2).float(),
        duration_left.clamp(-1, 2),
        td["route_length"].float() / customers,
        td["visited"].float().sum(1) / customers,
        td["backhaul_started"].float(),
        (td["current_node"] == 0).float(),
    ]
    return torch.cat([torch.stack(columns, dim=-1), _flags(td)], dim=-1)


def distance_row(td: TensorDict, scale: torch.Tensor) -> torch.Tensor:
    """``[B, n]`` scaled distance from the current node on the current vehicle's matrix."""
    batch, profiles, n, _ = td["distance"].shape
    rows = torch.arange(batch, device=td.device) * profiles + _current(td, "vehicle_profile")
    distance = td["distance"].reshape(-1, n).index_select(0, rows * n + td["current_node"])
    return (distance / scale[:, None]).clamp(max=FAR).float()
