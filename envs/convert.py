"""Lossless conversions between ``Instance``/``Solution`` routes and the env's batch and actions.

Actions are one long sequence per instance: customers, ``0`` to close a route, and ``0`` at the
depot with an empty route to skip to the next vehicle type (see ``envs/env.py``). The vehicle type
of each action comes from the env itself (``RoutingEnv.replay``), so no rule is duplicated when
reading actions; writing them needs the one hand-over rule (a type hands over on its own once its
count is used up, otherwise with a skip).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from envs.batch import InstanceBatch, pack
from nco_core.errors import UnsupportedFeature
from nco_core.features import unsupported_by_env
from nco_core.instance import Instance

__all__ = ["actions_to_routes", "instances_to_batch", "routes_to_actions"]


def instances_to_batch(instances: Sequence[Instance]) -> InstanceBatch:
    """Stack instances of the same size (``envs.batch.CROSSINGS``); fewer vehicle types or
    profiles are padded (count 0)."""
    if not instances:
        raise ValueError("instances: need at least one instance")
    for instance in instances:
        refused = unsupported_by_env(instance.features())
        if refused:  # the batch has no field for them: refuse rather than drop them
            raise UnsupportedFeature("neural", f"{', '.join(refused)} (instance {instance.name!r})")
    n = instances[0].num_nodes
    for instance in instances:
        if instance.num_nodes != n:
            raise ValueError(
                f"instance {instance.name!r}: {instance.num_nodes} nodes, the batch has {n}; sizes must match"
            )
    return pack(instances)


def actions_to_routes(actions: torch.Tensor, vehicle_types: torch.Tensor) -> list[tuple[list[list[int]], list[int]]]:
    """Per instance, the routes (customer lists) and the vehicle type of each, from [B, T] actions
    and the acting type of each step (``RoutingEnv.replay``). Trailing routes without a closing
    ``0`` (an unfinished episode) are kept."""
    result = []
    for row, types in zip(actions.tolist(), vehicle_types.tolist(), strict=True):
        routes: list[list[int]] = []
        kinds: list[int] = []
        current: list[int] = []
        for node, kind in zip(row, types, strict=True):
            if node:
                current.append(node)
                continue
            if current:
                routes.append(current)
                kinds.append(kind)
            current = []
        if current:
            routes.append(current)
            kinds.append(types[-1])
        result.append((routes, kinds))
    return result


def routes_to_actions(
    routes: Sequence[Sequence[int]],
    vehicle_types: Sequence[int],
    vehicle_count: Sequence[int],
    length: int | None = None,
) -> torch.Tensor:
    """The action sequence that makes the env build ``routes`` (sorted by type, as the env builds
    types in order), padded with ``0`` to ``length``. ``vehicle_count`` is the fleet per type."""
    order = sorted(range(len(routes)), key=lambda r: vehicle_types[r])
    actions: list[int] = []
    k, used = 0, 0
    for r in order:
        while k < vehicle_types[r]:
            if used < vehicle_count[k]:
                actions.append(0)  # skip: the env hands over only on its own when the count is used up
            k, used = k + 1, 0
            while k < len(vehicle_count) and vehicle_count[k] == 0:
                k += 1
        actions += [int(node) for node in routes[r]] + [0]
        used += 1
        if used == vehicle_count[k]:
            k, used = k + 1, 0
            while k < len(vehicle_count) and vehicle_count[k] == 0:
                k += 1
    if length is not None:
        if len(actions) > length:
            raise ValueError(f"routes need {len(actions)} actions, more than length {length}")
        actions += [0] * (length - len(actions))
    return torch.tensor(actions, dtype=torch.int64)
