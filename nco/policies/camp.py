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

Rollouts step the compiled kernel of ``envs/fast.py`` on a CPU (the later types' masks need only
the kernel's visited/fleet arrays and the reset-time masks above) and the TensorDict env elsewhere;
``tests/test_camp.py`` checks that both decode the same actions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tensordict import TensorDict
from torch import nn

from envs.env import RoutingEnv, augment, multistart
from envs.fast import CT, RS, UC, FastEnv
from nco.policies.decoding import Strategy, select
from nco.policies.encoders import MatrixEncoder
from nco.policies.features import FAR, NODE_DIM, distance_scale, encoder_inputs
from nco.policies.layers import TransformerLayer
from nco.policies.policy import Rollout, RoutingPolicy

__all__ = ["CampPolicy"]

PROFILE_DIM = 7  # per (type, client) features, see _profile_features
TYPE_DIM = 5  # per type, static
STATE_DIM = 9  # per type, each step
# what a step reads of each row: the env's TensorDict, or the same keys over the kernel's arrays
Rows = Mapping[str, torch.Tensor]


class CampPolicy(nn.Module):
    def __init__(
        self,
        model: str = "camp",
        dim: int = 64,
        layers: int = 2,
        heads: int = 4,
        norm: str = "instance",
        clip: float = 10.0,
    ) -> None:
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
        cost_unit = (torch.where(finite, cost[:, 0], 0).sum((1, 2)) / (finite.sum((1, 2)) - n).clamp(min=1)).clamp(
            min=1e-9
        )
        available = td["vehicle_count"] > 0
        alone = torch.stack(
            [env._customer_mask(td, torch.full((B,), k, dtype=torch.int64, device=td.device)) for k in range(K)], 1
        )
        alone &= available[..., None]
        covered_from = alone.flip(1).cummax(1).values.flip(1)  # servable alone by some type >= k
        net = ((cost - td["preference"][:, :, None, :]) / cost_unit[:, None, None, None]).clamp(-FAR, FAR).float()
        features = torch.cat(
            [
                _profile_features(td, cost, cost_unit, alone),
                _type_features(td, cost, cost_unit)[:, :, None].expand(B, K, n, TYPE_DIM),
            ],
            -1,
        )
        per_type = nodes[:, None] + self.profile_embed(features)
        per_type = self.profile_layer(per_type.view(B * K, n, -1)).view(B, K, n, -1)
        capacity = td["vehicle_capacity"]
        inverse_capacity = torch.where(torch.isfinite(capacity), 1 / capacity, 0.0)  # 0: unlimited, always free
        return dict(
            inverse_capacity=inverse_capacity,
            inverse_horizon=1 / td["horizon"][:, None],
            nodes=per_type,
            keys=self.key(per_type) / math.sqrt(per_type.shape[-1]),
            graph=per_type.mean(2),
            net=net,
            alone=alone,
            covered_from=covered_from,
            available=available,
        )

    def for_rows(self, static: dict[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
        """What every step reads of the instance ``index[r]`` of row ``r``, gathered once per rollout
        (rows are replicas, so the per-instance tensors of :meth:`encode` stay shared)."""
        K, n = static["alone"].shape[1:]
        types = torch.arange(K, device=index.device)
        graph_weight = self.query.weight[:, -static["graph"].shape[-1] :]
        available = static["available"][index]
        return dict(
            static,
            types=types,
            inverse_capacity=static["inverse_capacity"][index],
            inverse_horizon=static["inverse_horizon"][index],
            alone_rows=static["alone"][index],
            covered_rows=static["covered_from"][index],
            available_rows=available,
            flat=(index[:, None] * K + types[None]) * n,
            blocked=torch.zeros(index.shape[0], 1, 1, K, device=index.device).masked_fill(
                ~available[:, None, None], float("-inf")
            ),
            graph_query=F.linear(static["graph"], graph_weight)[index],
        )

    def pair_mask(self, td: Rows, rows: dict[str, torch.Tensor]) -> torch.Tensor:
        """[R, K, n] allowed (type, node) pairs of the rows ``td`` (``rows``: :meth:`for_rows`)."""
        types = rows["types"]
        k0, at_depot, done = td["vehicle_type"], td["current_node"] == 0, td["done"]
        current = types[None] == k0[:, None]  # [R, K]
        if not bool(at_depot.any()):  # mid-route everywhere: only the current type moves
            return current[..., None] & td["action_mask"][:, None]
        env_mask = td["action_mask"].clone()
        env_mask[:, 0] &= ~at_depot | done  # at the depot, column 0 is the skip: later types stand for it
        open_ = ~td["visited"]
        open_[:, 0] = False
        stranded = (open_[:, None] & ~rows["covered_rows"]).any(-1)  # [R, K]
        left = rows["available_rows"] & (td["routes_used"] < td["vehicle_count"])
        later = (types[None] > k0[:, None]) & (at_depot & ~done & td["action_mask"][:, 0])[:, None] & left & ~stranded
        mask = rows["alone_rows"] & open_[:, None] & later[..., None]
        return torch.where(current[..., None], env_mask[:, None], mask)

    def logits(self, td: Rows, rows: dict[str, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        """[R, K * n] masked logits of every (type, node) pair."""
        R, K, n = mask.shape
        current = rows["types"][None] == td["vehicle_type"][:, None]
        position = torch.where(current, td["current_node"][:, None], 0)  # other types wait at the depot
        nodes, keys = rows["nodes"], rows["keys"]  # [B', K, n, d], shared by the replicas
        base, dim = nodes.shape[0], nodes.shape[-1]
        flat = (rows["flat"] + position).flatten()  # (instance, type, node) of each row's types
        here = nodes.reshape(-1, dim).index_select(0, flat).view(R, K, dim)
        tokens = self._communicate(here + self.state_embed(_state_features(td, rows, mask, current)), rows["blocked"])
        query = F.linear(tokens, self.query.weight[:, :dim]) + rows["graph_query"]  # [R, K, d]
        # rows are r * B' + b: every replica of an instance queries its keys in one product
        by_instance = query.view(R // base, base, K, dim).permute(1, 2, 3, 0)  # [B', K, d, replicas]
        compat = (keys @ by_instance).permute(3, 0, 1, 2).reshape(R, K, n)
        net = rows["net"].reshape(-1, n).index_select(0, flat).view(R, K, n)
        logits = self.clip * torch.tanh(compat) + self.cost_scale * net
        return logits.masked_fill(~mask, float("-inf")).view(R, K * n)

    def _communicate(self, tokens: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """The vehicles' attention layer (``self.communicate``, post-norm, ReLU) written out: the
        module's own forward re-checks its fast-path conditions at every call, which cost more
        than its arithmetic on K tokens. Padding types are masked out as keys."""
        layer, (R, K, dim) = self.communicate, tokens.shape
        heads = layer.self_attn.num_heads
        q, k, v = (
            F.linear(tokens, layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias)
            .view(R, K, 3, heads, dim // heads)
            .permute(2, 0, 3, 1, 4)
        )
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=blocked)
        x = layer.norm1(tokens + layer.self_attn.out_proj(attended.transpose(1, 2).reshape(R, K, dim)))
        return layer.norm2(x + layer.linear2(F.relu(layer.linear1(x))))

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
        :meth:`RoutingPolicy.rollout`). ``engine="fast"`` (the default on a CPU) steps the compiled
        kernel of ``envs/fast.py``, ``"env"`` the TensorDict env; both read the same masks (the
        kernel is the env bit for bit), so they decode the same actions."""
        if engine is None:
            engine = "fast" if td["visited"].device.type == "cpu" else "env"
        if engine not in ("fast", "env"):
            raise ValueError(f"engine: expected 'fast' or 'env', got {engine!r}")
        B = td.batch_size[0]
        scale = distance_scale(td)
        encoded = td
        if num_augment > 1:
            if not bool((td["locs"] != 0).any()):
                raise ValueError("symmetry augmentation needs coordinates; these instances have none")
            encoded = augment(td, num_augment)
        static = self.encode(encoded, env, scale.repeat(num_augment))
        replicas = num_augment
        actions: list[torch.Tensor] = []
        types: list[torch.Tensor] = []
        if engine == "fast":
            state = FastEnv(td, np.arange(B * num_augment) % B, scale.repeat(num_augment).detach().cpu().numpy())
            if num_starts:
                types.append(state.vehicle_type.repeat(num_starts))
                state, first = state.pomo_starts(num_starts, first_start)
                actions.append(first)
            if num_samples > 1:
                state = state.repeat(num_samples)
            rows, finished = state.rows, state.all_done
            fleet = {key: td[key][torch.from_numpy(state.instance)] for key in ("vehicle_count",)}
            copy = torch.clone if torch.is_grad_enabled() else (lambda t: t)  # the kernel writes in place

            def view() -> Rows:
                floats = torch.from_numpy(state.state)
                return dict(fleet, vehicle_type=copy(state.vehicle_type), current_node=copy(state.current_node),
                            done=copy(state.done), action_mask=copy(state.mask),
                            visited=copy(torch.from_numpy(state.visited)),
                            routes_used=copy(torch.from_numpy(state.routes_used)),
                            route_length=copy(torch.from_numpy(state.length)), used_capacity=copy(floats[:, UC]),
                            current_time=copy(floats[:, CT]), route_start=copy(floats[:, RS]))  # fmt: skip
        else:
            if num_starts:
                types.append(encoded["vehicle_type"].repeat(num_starts))
                encoded, first = multistart(env, encoded, num_starts, first_start)
                actions.append(first)
            if num_samples > 1:
                encoded = encoded[torch.arange(encoded.batch_size[0], device=td.device).repeat(num_samples)]
            rows = encoded.batch_size[0]
            finished = lambda: bool(encoded["done"].all())  # noqa: E731
            view = lambda: encoded  # noqa: E731
        replicas *= max(num_starts, 1) * max(num_samples, 1)
        index = torch.arange(rows, device=td.device) % (B * num_augment)
        per_row = self.for_rows(static, index)
        total = torch.zeros(rows, device=td.device)
        n = td["visited"].shape[1]
        while not finished():
            rows_now = view()
            mask = self.pair_mask(rows_now, per_row)
            logits = self.logits(rows_now, per_row, mask)
            current_type, done = rows_now["vehicle_type"], rows_now["done"]
            if log_likelihood or strategy != "greedy":
                log_probs = torch.log_softmax(logits.float(), -1)
                pair = select(log_probs, strategy, generator)
            else:
                pair = logits.argmax(-1)
            later = pair // n > current_type
            action = torch.where(later, 0, pair % n)
            if log_likelihood:
                grid = log_probs.view(rows, -1, n)
                beyond = torch.arange(grid.shape[1], device=td.device)[None] > current_type[:, None]
                beyond = grid.masked_fill(~beyond[..., None], float("-inf"))
                # rows that do not skip read zeros: an all -inf logsumexp would send NaN through backward
                skip = torch.logsumexp(torch.where(later[:, None, None], beyond, 0.0).flatten(1), -1)
                step = torch.where(later, skip, log_probs.gather(1, pair[:, None]).squeeze(1))
                total = total + torch.where(done, 0.0, step)
            types.append(current_type.clone())
            actions.append(action)
            if engine == "fast":
                state.step(action)
            else:
                encoded["action"] = action
                encoded = env.step(encoded)
        empty = torch.zeros(rows, 0, dtype=torch.int64, device=td.device)
        final = state.complete.clone() if engine == "fast" else encoded["complete"].clone()
        return Rollout(
            actions=torch.stack(actions, 1) if actions else empty,
            vehicle_types=torch.stack(types, 1) if types else empty,
            reward=-state.cost if engine == "fast" else env.get_reward(encoded),
            log_likelihood=total,
            complete=final,
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
    return (
        td["vehicle_unit_distance_cost"][..., None, None] * distance
        + td["vehicle_unit_duration_cost"][..., None, None] * duration
    )


def _profile_features(td: TensorDict, cost: torch.Tensor, unit: torch.Tensor, alone: torch.Tensor) -> torch.Tensor:
    """[B, K, n, PROFILE_DIM]: what type k sees of client j."""
    scaled = lambda x: (x / unit[:, None, None]).clamp(max=FAR).float()  # noqa: E731
    capacity = td["vehicle_capacity"]
    finite = torch.isfinite(capacity)
    load = torch.where(
        finite[..., None], td["demand"][:, None] / torch.where(finite, capacity, 1)[..., None], 0
    ).float()
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


def _state_features(td: Rows, rows: dict[str, torch.Tensor], mask: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """[R, K, STATE_DIM]: each type's situation this step (route details for the current one).
    Written with as few ops as it allows: at inference's row counts each op's dispatch costs
    more than its arithmetic."""
    R, K, n = mask.shape
    k0 = td["vehicle_type"][:, None]
    per_customer = 1.0 / (n - 1)
    elapsed = (td["current_time"] - td["route_start"])[:, None] * rows["inverse_horizon"]
    route = torch.cat(
        [1 - td["used_capacity"][:, None] * rows["inverse_capacity"].gather(1, k0), elapsed.clamp(max=2),
         td["route_length"][:, None] * per_customer], 1,
    ).float()  # fmt: skip
    per_type = torch.stack([current, rows["types"][None] < k0, mask[..., 1:].any(-1)], -1).float()
    shared = torch.stack([td["visited"].sum(1) * per_customer, (td["current_node"] == 0).float()], -1)
    used = (td["routes_used"] * per_customer).float()[..., None]
    return torch.cat([per_type, used, route[:, None] * current[..., None], shared[:, None].expand(R, K, 2)], -1)
