"""A profile-aware policy for the profiled VRP (ideas of CAMP: profile embeddings, vehicle
communication, a pointer over (vehicle, client) pairs), rolled out in the one env.

Encoding: the shared matrix encoder gives one embedding per node; each vehicle type then gets its
own copy of every client, shifted by what only that type sees (zone, preference, its own road
costs from and to the depot, demand against its capacity, whether it may serve the client at
all) and refined by one attention layer over the clients, all types at once as a batch of
``B * K`` graphs.

Decoding: at every step each vehicle type is a token (its embedding at the node where it stands,
plus its state); one attention layer among the tokens lets the types see each other's situation
(communication), then each type's token points at its own client embeddings. The logits cover
every (type, client) pair, plus a learned multiple of the pair's net cost (the type's arc cost
from where it stands minus its preference for the client), which makes the untrained policy a
cheapest-insertion-like construction.

How the pair choice drives the env: ``envs/env.py`` builds routes one after another in type
order (every solution is reachable so: sort its routes by type). Mid-route only the current
type's clients and the return to the depot are allowed. At the depot with an empty route, the
policy may also pick a client of any *later* type that the env could reach by skipping: the
env's action is then the skip, and the step's probability is the total probability of all
later-type pairs (the exact marginal, so REINFORCE stays unbiased); the next step scores the
pairs again. Masks are the env's: the current type's ``action_mask``, and for later types the
env's own mask of a fresh route (:meth:`RoutingEnv._customer_mask` at reset) restricted to
unvisited clients, when every unvisited client stays servable by types from there on (the
env's skip rule).

This policy steps the TensorDict env only (no compiled kernel: ``envs/fast.py`` exposes the
current type's mask alone), so it decodes slower than the ACVRP policies on a CPU.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from tensordict import TensorDict
from torch import nn

from envs.env import RoutingEnv, augment, multistart
from nco.policies.decoding import Strategy, select
from nco.policies.encoders import MatrixEncoder
from nco.policies.features import FAR, NODE_DIM, distance_scale, encoder_inputs
from nco.policies.layers import TransformerLayer
from nco.policies.policy import Rollout, RoutingPolicy

__all__ = ["CampPolicy"]

PROFILE_DIM = 7  # per (type, client) features, see _profile_features
TYPE_DIM = 5  # per type, static
STATE_DIM = 9  # per type, each step


class CampPolicy(nn.Module):
    def __init__(self, model: str = "camp", dim: int = 64, layers: int = 2, heads: int = 4, norm: str = "instance", clip: float = 10.0) -> None:
        super().__init__()
        if model != "camp":
            raise ValueError(f"CampPolicy: model must be 'camp', got {model!r}")
        self.hparams: dict[str, Any] = dict(model=model, dim=dim, layers=layers, heads=heads, norm=norm, clip=clip)
        self.clip = clip
        self.encoder = MatrixEncoder(NODE_DIM, dim=dim, layers=layers, heads=heads, norm=norm)
        self.profile_embed = nn.Linear(PROFILE_DIM + TYPE_DIM, dim)
        self.profile_layer = TransformerLayer(dim, heads, 2 * dim, norm)
        self.state_embed = nn.Linear(STATE_DIM, dim)
        self.communicate = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True)
        self.query = nn.Linear(2 * dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)
        self.cost_scale = nn.Parameter(torch.tensor(-6.0))

    # -----------------------------------------------------------------------------------------
    def encode(self, td: TensorDict, env: RoutingEnv, scale: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-type client embeddings and the static tensors the steps read, for a fresh ``td``."""
        B, K = td["vehicle_count"].shape
        n = td["visited"].shape[1]
        inputs = encoder_inputs(td, scale)
        nodes = self.encoder(inputs.nodes, inputs.coords, inputs.distance, inputs.duration)  # [B, n, d]
        cost = _type_costs(td)  # [B, K, n, n] each type's arc cost on its own profile
        finite = torch.isfinite(cost[:, 0])
        cost_unit = (torch.where(finite, cost[:, 0], 0).sum((1, 2)) / (finite.sum((1, 2)) - n).clamp(min=1)).clamp(min=1e-9)
        available = td["vehicle_count"] > 0
        alone = torch.stack([env._customer_mask(td, torch.full((B,), k, dtype=torch.int64, device=td.device)) for k in range(K)], 1)
        alone &= available[..., None]
        covered_from = alone.flip(1).cummax(1).values.flip(1)  # servable alone by some type >= k
        net = ((cost - td["preference"][:, :, None, :]) / cost_unit[:, None, None, None]).clamp(-FAR, FAR).float()
        features = torch.cat([_profile_features(td, cost, cost_unit, alone), _type_features(td, cost, cost_unit)[:, :, None].expand(B, K, n, TYPE_DIM)], -1)
        per_type = nodes[:, None] + self.profile_embed(features)
        per_type = self.profile_layer(per_type.view(B * K, n, -1)).view(B, K, n, -1)
        return dict(nodes=per_type, keys=self.key(per_type) / math.sqrt(per_type.shape[-1]), graph=per_type.mean(2),
                    net=net, alone=alone, covered_from=covered_from, available=available)  # fmt: skip

    def pair_mask(self, td: TensorDict, static: dict[str, torch.Tensor], index: torch.Tensor) -> torch.Tensor:
        """[R, K, n] allowed (type, node) pairs of rows ``td`` (instance ``index`` of each row)."""
        R = td.batch_size[0]
        K = static["alone"].shape[1]
        k0, at_depot, done = td["vehicle_type"], td["current_node"] == 0, td["done"]
        types = torch.arange(K, device=td.device)
        current = types[None] == k0[:, None]  # [R, K]
        env_mask = td["action_mask"].clone()
        env_mask[:, 0] &= ~at_depot | done  # at the depot, column 0 is the skip: later types stand for it
        open_ = ~td["visited"]
        open_[:, 0] = False
        stranded = (open_[:, None] & ~static["covered_from"][index]).any(-1)  # [R, K]
        left = static["available"][index] & (td["routes_used"] < td["vehicle_count"])
        later = (types[None] > k0[:, None]) & at_depot[:, None] & ~done[:, None] & left & ~stranded & td["action_mask"][:, :1]
        mask = static["alone"][index] & open_[:, None] & later[..., None]
        return torch.where(current[..., None], env_mask[:, None], mask)

    def logits(self, td: TensorDict, static: dict[str, torch.Tensor], index: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[R, K * n] masked logits of every (type, node) pair."""
        R = td.batch_size[0]
        K, n = mask.shape[1:]
        k0 = td["vehicle_type"]
        types = torch.arange(K, device=td.device)
        current = types[None] == k0[:, None]
        position = torch.where(current, td["current_node"][:, None], 0)  # other types wait at the depot
        nodes, keys = static["nodes"], static["keys"]  # [B', K, n, d], shared by the replicas
        base, dim = nodes.shape[0], nodes.shape[-1]
        flat = ((index[:, None] * K + types[None]) * n + position).flatten()  # (instance, type, node) of each row
        here = nodes.reshape(-1, dim).index_select(0, flat).view(R, K, dim)
        tokens = here + self.state_embed(_state_features(td, mask, current))
        tokens = self.communicate(tokens, src_key_padding_mask=~static["available"][index])
        query = self.query(torch.cat([tokens, static["graph"][index]], -1))  # [R, K, d]
        # rows are r * B' + b: every replica of an instance queries its keys in one product
        by_instance = query.view(R // base, base, K, dim).permute(1, 2, 3, 0)  # [B', K, d, replicas]
        compat = (keys @ by_instance).permute(3, 0, 1, 2).reshape(R, K, n)
        net = static["net"].reshape(-1, n).index_select(0, flat).view(R, K, n)
        logits = self.clip * torch.tanh(compat) + self.cost_scale * net
        return logits.masked_fill(~mask, float("-inf")).view(R, K * n)

    # -----------------------------------------------------------------------------------------
    def rollout(
        self,
        td: TensorDict,
        env: RoutingEnv,
        *,
        strategy: Strategy = "sampling",
        num_starts: int = 0,
        num_samples: int = 1,
        num_augment: int = 1,
        first_start: int = 0,
        generator: torch.Generator | None = None,
        engine: str | None = None,
        log_likelihood: bool = True,
    ) -> Rollout:
        """Decode whole solutions for the freshly reset ``td`` (replica rows ``r * B + b``, as
        :meth:`RoutingPolicy.rollout`); ``engine`` may only be ``None`` or ``"env"``."""
        if engine not in (None, "env"):
            raise ValueError(f"the camp policy steps the TensorDict env only; engine={engine!r}")
        B = td.batch_size[0]
        scale = distance_scale(td)
        if num_augment > 1:
            if not bool((td["locs"] != 0).any()):
                raise ValueError("symmetry augmentation needs coordinates; these instances have none")
            td = augment(td, num_augment)
        static = self.encode(td, env, scale.repeat(num_augment))
        replicas = num_augment
        actions: list[torch.Tensor] = []
        types: list[torch.Tensor] = []
        if num_starts:
            types.append(td["vehicle_type"].repeat(num_starts))
            td, first = multistart(env, td, num_starts, first_start)
            actions.append(first)
            replicas *= num_starts
        if num_samples > 1:
            td = td[torch.arange(td.batch_size[0], device=td.device).repeat(num_samples)]
            replicas *= num_samples
        rows = td.batch_size[0]
        index = torch.arange(rows, device=td.device) % (B * num_augment)
        total = torch.zeros(rows, device=td.device)
        n = td["visited"].shape[1]
        while not bool(td["done"].all()):
            mask = self.pair_mask(td, static, index)
            logits = self.logits(td, static, index, mask)
            log_probs = torch.log_softmax(logits.float(), -1)
            pair = select(log_probs, strategy, generator)
            chosen_type = pair // n
            later = chosen_type > td["vehicle_type"]
            action = torch.where(later, 0, pair % n)
            if log_likelihood:
                grid = log_probs.view(rows, -1, n)
                beyond = torch.arange(grid.shape[1], device=td.device)[None] > td["vehicle_type"][:, None]
                beyond = grid.masked_fill(~beyond[..., None], float("-inf"))
                # rows that do not skip read zeros: an all -inf logsumexp would send NaN through backward
                skip = torch.logsumexp(torch.where(later[:, None, None], beyond, 0.0).flatten(1), -1)
                step = torch.where(later, skip, log_probs.gather(1, pair[:, None]).squeeze(1))
                total = total + torch.where(td["done"], 0.0, step)
            types.append(td["vehicle_type"].clone())
            actions.append(action)
            td["action"] = action
            td = env.step(td)
        empty = torch.zeros(rows, 0, dtype=torch.int64, device=td.device)
        return Rollout(
            actions=torch.stack(actions, 1) if actions else empty,
            vehicle_types=torch.stack(types, 1) if types else empty,
            reward=env.get_reward(td),
            log_likelihood=total,
            complete=td["complete"].clone(),
            replicas=replicas,
        )

    # the candidate search (POMO starts, samples, distinct best-first solutions) is the same
    solutions = RoutingPolicy.solutions


def _type_costs(td: TensorDict) -> torch.Tensor:
    """[B, K, n, n]: fixed-cost-free arc cost of each type on its profile (the objective's units)."""
    B, K = td["vehicle_count"].shape
    n = td["visited"].shape[1]
    profile = td["vehicle_profile"][..., None, None].expand(B, K, n, n)
    distance = td["distance"].gather(1, profile)
    duration = td["duration"].gather(1, profile)
    return td["vehicle_unit_distance_cost"][..., None, None] * distance + td["vehicle_unit_duration_cost"][..., None, None] * duration


def _profile_features(td: TensorDict, cost: torch.Tensor, unit: torch.Tensor, alone: torch.Tensor) -> torch.Tensor:
    """[B, K, n, PROFILE_DIM]: what type k sees of client j."""
    scaled = lambda x: (x / unit[:, None, None]).clamp(max=FAR).float()  # noqa: E731
    capacity = td["vehicle_capacity"]
    finite = torch.isfinite(capacity)
    load = torch.where(finite[..., None], td["demand"][:, None] / torch.where(finite, capacity, 1)[..., None], 0).float()
    columns = [
        td["allowed"].float(),
        alone.float(),
        scaled(td["preference"]),
        scaled(cost[..., 0, :]),
        scaled(cost[..., :, 0]),
        load,
        scaled(cost.masked_fill(torch.eye(cost.shape[-1], dtype=torch.bool, device=cost.device), torch.inf).amin(-1)),
    ]
    return torch.stack(columns, -1)


def _type_features(td: TensorDict, cost: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """[B, K, TYPE_DIM]: capacity, fixed cost, speed (mean arc cost) and reach of each type."""
    capacity = td["vehicle_capacity"]
    finite = torch.isfinite(capacity)
    largest = torch.where(finite, capacity, 0).amax(1, keepdim=True).clamp(min=1e-9)
    finite_cost = torch.isfinite(cost)
    mean_cost = torch.where(finite_cost, cost, 0).sum((2, 3)) / finite_cost.sum((2, 3)).clamp(min=1)
    columns = [
        (td["vehicle_count"] > 0).float(),
        torch.where(finite, capacity / largest, 1.0).float(),
        (td["vehicle_fixed_cost"] / unit[:, None]).clamp(max=FAR).float(),
        (mean_cost / unit[:, None]).clamp(max=FAR).float(),
        td["allowed"][..., 1:].float().mean(-1),
    ]
    return torch.stack(columns, -1)


def _state_features(td: TensorDict, mask: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """[R, K, STATE_DIM]: each type's situation this step (route details for the current one)."""
    R, K, n = mask.shape
    k0 = td["vehicle_type"]
    capacity = td["vehicle_capacity"].gather(1, k0[:, None]).squeeze(1)
    finite = torch.isfinite(capacity)
    free = torch.where(finite, 1 - td["used_capacity"] / torch.where(finite, capacity, 1), 1.0).float()
    route = torch.stack(
        [free, ((td["current_time"] - td["route_start"]) / td["horizon"]).clamp(max=2).float(), td["route_length"].float() / (n - 1)], -1
    )
    per_type = torch.stack(
        [
            current.float(),
            (torch.arange(K, device=td.device)[None] < k0[:, None]).float(),
            mask[..., 1:].any(-1).float(),
            td["routes_used"].float() / (n - 1),
        ],
        -1,
    )
    shared = torch.stack([td["visited"].float().sum(1) / (n - 1), (td["current_node"] == 0).float()], -1)
    return torch.cat([per_type, route[:, None] * current[..., None], shared[:, None].expand(R, K, 2)], -1)
