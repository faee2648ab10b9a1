"""Batched routing environment on TensorDict: one env for every variant, flags per instance.

Vehicles are built one after another. Action ``j > 0`` drives the current vehicle to customer
``j``; action ``0`` returns it to the depot, which closes its route. At the depot with an empty
route, action ``0`` instead *skips* to the next vehicle type (profiled VRP: the policy decides how
many routes each type drives). Types are used in index order, each at most ``vehicle_count``
times; a type whose count is used up hands over to the next one automatically.

Feasibility follows the evaluator's arithmetic (``nco/evaluate.py``): the mask allows customer
``j`` only if the route extended by ``j`` and closed at the depot (or ended at
``j`` for open routes) meets capacity (peak load with mixed backhauls), backhaul order, time
windows (earliest departure), the route duration limit (shortest duration with delayed
departure), zones (``allowed``) and finite arcs. So returning to the depot is always possible
from a customer, and at the depot some customer is allowed or a skip is: ``reset`` precomputes
which customers each type can serve on its own and refuses instances where some customer can
be served by none, and a skip is only allowed when every unserved customer stays servable by a
later type. A limited fleet can still get stuck: the last available vehicle may not return to
the depot while customers remain, and if it has no allowed customer either, the episode ends
with ``complete = False`` (generators use unlimited fleets, except the one-vehicle TSP).

Speed: a step only pays for the constraints some instance of the batch has (data flags, checked
per step), and the time-window and depot-return checks collapse into one comparison against
``latest_arrival``, precomputed at reset. That reordering of float64 sums differs from the
evaluator's by a few ulps, far inside the evaluator's 1e-9 tolerance, and the mask compares
without tolerance, so it never allows a move the evaluator flags. float64 stays the default:
in float32 the rounding of times (~1e-7 relative) would exceed that tolerance.

TensorDict contract (B instances, n = N + 1 nodes, K vehicle types, P profiles; ``F`` = the
env's float dtype, float64 by default):

Static per instance
    distance, duration            [B, P, n, n] F   profile matrices, [from, to]
    distance_to_depot, duration_to_depot  [B, P, n] F  their depot columns (gathered every step)
    locs                          [B, n, 2] f32    coordinates min-max scaled to [0, 1]^2 (zeros if none)
    has_coordinates               [B] bool         the instance has coordinates (``locs`` is not padding)
    demand, pickup                [B, n] F         linehaul / backhaul quantities (raw)
    demand_norm, pickup_norm      [B, n] f32       divided by the largest finite capacity
    time_windows                  [B, n, 2] F      raw [early, late]; [0, inf] when absent
    time_windows_norm             [B, n, 2] f32    divided by ``horizon``, late clipped to 1
    service_time                  [B, n] F         raw
    service_time_norm             [B, n] f32       divided by ``horizon``
    horizon                       [B] F            depot closing time, else the longest depot round trip x 2
    open_routes, strict_backhaul  [B] bool         variant flags, with
    has_capacity, has_time_windows, has_backhaul, has_max_duration, has_profiles  [B] bool
                                                   (``nco_core.features.ENV_FLAGS``: ``has_<name>``)
    vehicle_count                 [B, K] int64     routes each type may drive (0 = padding)
    vehicle_capacity, vehicle_max_duration, vehicle_fixed_cost,
    vehicle_unit_distance_cost, vehicle_unit_duration_cost   [B, K] F  (inf = unlimited)
    vehicle_profile               [B, K] int64     which matrix each type drives on
    allowed                       [B, K, n] bool   zones: type k may serve node i
    preference                    [B, K, n] F      subtracted from the cost when k serves i
    coverable_after               [B, K, n] bool   customer servable alone by some type > k (skip rule)
    next_type                     [B, K] int64     next type with vehicles after k (K = none)
    latest_arrival                [B, P, n] F      latest arrival at j that still meets j's window and
                                                   gets back to the depot in time (-inf: never; open
                                                   routes: j's window only)
    has_unreachable               [B] bool         some arc is missing (infinite distance or duration)
Dynamic state
    current_node                  [B] int64        0 = at the depot with an empty route
    vehicle_type                  [B] int64        type of the vehicle being built
    routes_used                   [B, K] int64     closed routes per type
    visited                       [B, n] bool      served customers (depot column stays False)
    num_served                    [B] int64        customers served so far
    route_length                  [B] int64        customers on the current route
    used_linehaul, used_backhaul  [B] F            delivered / picked up so far on the route
    used_capacity                 [B] F            peak load the route needs so far (vs capacity)
    load_margin                   [B] F            max over the route of (picked up - delivered)
    backhaul_started              [B] bool         a pickup was served on this route
    current_time                  [B] F            earliest finish at the current node
    route_start                   [B] F            departure time (depot window opening)
    route_waited, route_slack     [B] F            waiting so far / how much later it could have left
    route_distance, route_preference  [B] F        of the current route
    cost                          [B] F            objective of the closed routes
    action_mask                   [B, n] bool      allowed actions
    done                          [B] bool         episode over (only action 0 allowed, a no-op)
    complete                      [B] bool         every customer served and back at the depot
    action                        [B] int64        written by the policy before ``step``
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tensordict import TensorDict

from envs.batch import COLUMNS, InstanceBatch
from nco_core.features import ENV_FLAGS
from nco_core.instance import Instance

__all__ = ["RoutingEnv", "augment", "multistart", "random_action"]


class RoutingEnv:
    """Stateless apart from dtype and device: all state lives in the TensorDict."""

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64) -> None:
        self.device = torch.device(device)
        self.dtype = dtype

    # -----------------------------------------------------------------------------------------
    def reset(self, batch: InstanceBatch | Sequence[Instance]) -> TensorDict:
        if not isinstance(batch, InstanceBatch):
            from envs.convert import instances_to_batch

            batch = instances_to_batch(batch)
        B, n, K = batch.batch_size, batch.num_nodes, batch.vehicle_count.shape[1]
        t = lambda a, dtype: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=self.device)  # noqa: E731
        kinds = {"float": self.dtype, "int": torch.int64, "bool": torch.bool}
        # the batch columns the env keeps as they are (envs.batch.CROSSINGS); the rest is derived here
        raw = {column: t(getattr(batch, column), kinds[kind]) for column, kind in COLUMNS.items() if kind}
        distance, service, windows, capacity = (
            raw[key] for key in ("distance", "service_time", "time_windows", "vehicle_capacity")
        )
        finite_cap = torch.where(torch.isfinite(capacity), capacity, 0).amax(1)
        scale = torch.where(finite_cap > 0, finite_cap, 1)[:, None]
        trips = t(batch.duration[:, 0, 0, 1:] + batch.duration[:, 0, 1:, 0], self.dtype)
        horizon = torch.where(torch.isfinite(windows[:, 0, 1]), windows[:, 0, 1], 2 * trips.amax(1))
        coords = t(batch.coordinates, torch.float32)
        low, high = coords.amin(1, keepdim=True), coords.amax(1, keepdim=True)
        span = (high - low).amax(-1, keepdim=True).clamp(min=1e-12)
        locs = torch.where(raw["has_coordinates"][:, None, None], (coords - low) / span, 0.0)
        # One tensor when durations are the distances: a step's two random reads then share a cache line.
        same = np.array_equal(batch.duration, batch.distance)
        duration = distance if same else t(batch.duration, self.dtype)
        flags = {flag.key: t(_FLAG_VALUES[flag.name](batch), torch.bool) for flag in ENV_FLAGS}
        td = TensorDict(
            {
                **raw,
                **flags,
                "duration": duration,
                "distance_to_depot": (distance_to_depot := distance[..., 0].contiguous()),
                "duration_to_depot": distance_to_depot if duration is distance else duration[..., 0].contiguous(),
                "locs": locs,
                "demand_norm": (raw["demand"] / scale).float(),
                "pickup_norm": (raw["pickup"] / scale).float(),
                "time_windows_norm": (windows / horizon[:, None, None]).clamp(max=1).float(),
                "service_time_norm": (service / horizon[:, None]).float(),
                "horizon": horizon,
                "has_unreachable": ~(torch.isfinite(distance) & torch.isfinite(duration)).flatten(1).all(1),
                "latest_arrival": self._latest_arrival(distance, duration, windows, service, flags["open_routes"]),
                "current_node": torch.zeros(B, dtype=torch.int64, device=self.device),
                "vehicle_type": torch.zeros(B, dtype=torch.int64, device=self.device),
                "routes_used": torch.zeros(B, K, dtype=torch.int64, device=self.device),
                "visited": torch.zeros(B, n, dtype=torch.bool, device=self.device),
                "num_served": torch.zeros(B, dtype=torch.int64, device=self.device),
                "route_length": torch.zeros(B, dtype=torch.int64, device=self.device),
                "cost": torch.zeros(B, dtype=self.dtype, device=self.device),
            },
            batch_size=[B],
            device=self.device,
        )
        self._new_route(td, torch.ones(B, dtype=torch.bool, device=self.device))
        self._precompute_fleet(td)
        td["action"] = torch.zeros(B, dtype=torch.int64, device=self.device)
        return self._update_mask(td)

    @staticmethod
    def _latest_arrival(
        distance: torch.Tensor,
        duration: torch.Tensor,
        windows: torch.Tensor,
        service: torch.Tensor,
        open_routes: torch.Tensor,
    ) -> torch.Tensor:
        """[B, P, n]: arriving at j by this time meets j's window and, for closed routes, the
        depot's: ``max(arrival, early_j) + service_j + back_j <= late_0`` splits into a bound on the
        arrival and a condition on j alone, so a step checks time windows with one comparison."""
        early, late = windows[:, None, :, 0], windows[:, None, :, 1]
        back, depot_late = duration[..., 0], windows[:, None, :1, 1]
        service = service[:, None]
        returnable = torch.isfinite(distance[..., 0]) & torch.isfinite(back) & (early + service + back <= depot_late)
        closed = torch.where(returnable, torch.minimum(late, depot_late - service - back), -torch.inf)
        return torch.where(open_routes[:, None, None], late, closed).contiguous()

    def _precompute_fleet(self, td: TensorDict) -> None:
        """Which customers each type can serve alone, and the order types hand over in."""
        B, K = td["vehicle_count"].shape
        available = td["vehicle_count"] > 0
        alone = (
            torch.stack(
                [self._customer_mask(td, torch.full((B,), k, dtype=torch.int64, device=self.device)) for k in range(K)],
                1,
            )
            & available[..., None]
        )
        covered_from = alone.flip(1).cummax(1).values.flip(1)  # any type >= k
        td["coverable_after"] = torch.cat([covered_from[:, 1:], torch.zeros_like(covered_from[:, :1])], 1)
        index = torch.arange(K, device=self.device)
        later = (index[None, None, :] > index[None, :, None]) & available[:, None, :]
        td["next_type"] = torch.where(later, index, K).amin(-1)
        if not bool(available[:, 0].all()):
            raise ValueError(f"instance {int((~available[:, 0]).nonzero()[0])}: vehicle type 0 has no vehicles")
        stranded = ~covered_from[:, 0, 1:]
        if bool(stranded.any()):
            b, i = (int(x) for x in stranded.nonzero()[0])
            raise ValueError(
                f"instance {b}: customer {i + 1} cannot be served on its own by any vehicle type "
                "(capacity, time window, duration limit, zone or missing road)"
            )

    def _new_route(self, td: TensorDict, where: torch.Tensor, skip: set[str] | frozenset[str] = frozenset()) -> None:
        """Reset the per-route state where ``where`` holds (a vehicle leaves the depot empty);
        ``skip`` names keys that still hold their fresh values."""
        B = td.batch_size[0]
        zero = torch.zeros((), dtype=self.dtype, device=self.device)
        start = td["time_windows"][:, 0, 0]
        fresh = {
            "current_node": torch.zeros((), dtype=torch.int64, device=self.device),
            "route_length": torch.zeros((), dtype=torch.int64, device=self.device),
            "used_linehaul": zero,
            "used_backhaul": zero,
            "used_capacity": zero,
            "load_margin": zero,
            "backhaul_started": torch.zeros((), dtype=torch.bool, device=self.device),
            "current_time": start,
            "route_start": start,
            "route_waited": zero,
            "route_slack": torch.full((), torch.inf, dtype=self.dtype, device=self.device),
            "route_distance": zero,
            "route_preference": zero,
        }
        for key, value in fresh.items():
            if key not in td.keys():
                td[key] = value.expand(B).clone()
            elif key not in skip:
                td[key] = torch.where(where, value, td[key])

    # -----------------------------------------------------------------------------------------
    def _customer_mask(self, td: TensorDict, k: torch.Tensor, flags: dict[str, bool] | None = None) -> torch.Tensor:
        """[B, n] customers the current vehicle (of type ``k``) may visit next. Each group of
        checks runs only if some instance of the batch has that constraint."""
        B, n = td["visited"].shape
        P = td["distance"].shape[1]
        ok = ~td["visited"]
        ok[:, 0] = False
        flags = flags or _batch_flags(td)
        if flags["has_profiles"]:
            ok &= td["allowed"].gather(1, k[:, None, None].expand(B, 1, n)).squeeze(1)
        if flags["has_capacity"]:
            # Peak load with j added is max(delivered + margin + d_j, picked up + p_j).
            capacity = _pick(td["vehicle_capacity"], k)
            ok &= td["demand"] <= (capacity - td["used_linehaul"] - td["load_margin"])[:, None]
            if flags["has_backhaul"]:
                ok &= td["pickup"] <= (capacity - td["used_backhaul"])[:, None]
            if flags["strict_backhaul"]:
                late_linehaul = (td["demand"] > 0) & (td["backhaul_started"][:, None] | (td["pickup"] > 0))
                ok &= ~(td["strict_backhaul"][:, None] & late_linehaul)
        unreachable, limited = flags["has_unreachable"], flags["has_max_duration"]
        if not (unreachable or limited or flags["has_time_windows"]):
            return ok
        row = torch.arange(B, device=self.device) * P + _pick(td["vehicle_profile"], k)  # (instance, profile)
        dur_out = td["duration"].reshape(-1, n).index_select(0, row * n + td["current_node"])
        arrival = td["current_time"][:, None] + dur_out
        ok &= arrival <= _profile_rows(td["latest_arrival"], row)
        if unreachable:
            dist_out = td["distance"].reshape(-1, n).index_select(0, row * n + td["current_node"])
            ok &= torch.isfinite(dist_out) & torch.isfinite(dur_out)
        if limited:
            ok &= self._route_duration(td, row, arrival) <= _pick(td["vehicle_max_duration"], k)[:, None]
        return ok

    def _route_duration(self, td: TensorDict, row: torch.Tensor, arrival: torch.Tensor) -> torch.Tensor:
        """[B, n] shortest duration of the route extended by j and closed: the evaluator's forward
        pass (earliest departure, then delayed by the usable slack), operation for operation."""
        dur_back = _profile_rows(td["duration_to_depot"], row)
        early, late = td["time_windows"][..., 0], td["time_windows"][..., 1]
        waited, slack = td["route_waited"][:, None], td["route_slack"][:, None]
        open_ = td["open_routes"][:, None]
        wait = (early - arrival).clamp(min=0)
        finish = arrival + wait + td["service_time"]
        slack_j = torch.minimum(slack, late - arrival + waited)
        waited_j = waited + wait
        back = finish + dur_back
        wait_depot = (early[:, :1] - back).clamp(min=0)
        end = torch.where(open_, finish, back + wait_depot)
        slack_end = torch.where(open_, slack_j, torch.minimum(slack_j, late[:, :1] - back + waited_j))
        waited_end = torch.where(open_, waited_j, waited_j + wait_depot)
        return end - td["route_start"][:, None] - torch.minimum(slack_end, waited_end).clamp(min=0)

    def _update_mask(self, td: TensorDict, flags: dict[str, bool] | None = None) -> TensorDict:
        B, K = td["vehicle_count"].shape
        n = td["visited"].shape[1]
        k = td["vehicle_type"]
        mask = self._customer_mask(td, k, flags)
        at_depot = td["current_node"] == 0
        all_served = td["num_served"] == n - 1
        left = td["vehicle_count"] - td["routes_used"]
        later = torch.arange(K, device=self.device)[None] >= k[:, None]
        last_vehicle = (left * later).sum(1) == 1  # this one included
        close = ~at_depot & (~last_vehicle | all_served)
        next_type = _pick(td["next_type"], k)
        skip = at_depot & (next_type < K)
        if bool(skip.any()):
            stranded = ~td["visited"] & ~td["coverable_after"].gather(1, k[:, None, None].expand(B, 1, n)).squeeze(1)
            stranded[:, 0] = False
            skip &= _none(stranded)
        mask[:, 0] = close | skip
        done = (at_depot & all_served) | _none(mask)  # customers are never allowed then, so no reset needed
        mask[:, 0] |= done
        td["action_mask"] = mask
        td["done"] = done
        td["complete"] = at_depot & all_served
        return td

    # -----------------------------------------------------------------------------------------
    def step(self, td: TensorDict) -> TensorDict:
        """Apply ``td["action"]`` in place and return ``td`` (illegal actions are the caller's bug).

        State that cannot change in this batch is not recomputed: without time windows there is
        no waiting and no slack to track, without backhauls nothing is picked up, without
        profiles there are no preferences (all exactly as the full update would leave them)."""
        B, K = td["vehicle_count"].shape
        P, n = td["distance"].shape[1], td["visited"].shape[1]
        action, cur, k = td["action"], td["current_node"], td["vehicle_type"]
        active = ~td["done"]
        to_customer = (action > 0) & active
        back_home = (action == 0) & active
        closing = back_home & (cur != 0)
        moving = to_customer | (closing & ~td["open_routes"])
        flags = _batch_flags(td)
        timed, backhaul, profiled = flags["has_time_windows"], flags["has_backhaul"], flags["has_profiles"]

        arc = ((torch.arange(B, device=self.device) * P + _pick(td["vehicle_profile"], k)) * n + cur) * n + action
        arrival = td["current_time"] + td["duration"].reshape(-1).index_select(0, arc)
        service = torch.where(to_customer, _pick(td["service_time"], action), 0)
        if timed:
            windows = td["time_windows"].reshape(B, -1)
            wait = (_pick(windows, 2 * action) - arrival).clamp(min=0)
            waited = td["route_waited"]
            late_margin = _pick(windows, 2 * action + 1) - arrival + waited
            td["route_slack"] = torch.where(moving, torch.minimum(td["route_slack"], late_margin), td["route_slack"])
            td["route_waited"] = torch.where(moving, waited + wait, waited)
            arrival = arrival + wait
        td["current_time"] = torch.where(moving, arrival + service, td["current_time"])
        leg = td["distance"].reshape(-1).index_select(0, arc)
        td["route_distance"] = torch.where(moving, td["route_distance"] + leg, td["route_distance"])

        gain = lambda key, amount: torch.where(to_customer, td[key] + amount, td[key])  # noqa: E731
        td["used_linehaul"] = gain("used_linehaul", _pick(td["demand"], action))
        if backhaul:
            pickup = _pick(td["pickup"], action)
            td["used_backhaul"] = gain("used_backhaul", pickup)
            td["load_margin"] = torch.maximum(td["load_margin"], td["used_backhaul"] - td["used_linehaul"])
            td["backhaul_started"] = td["backhaul_started"] | (to_customer & (pickup > 0))
        td["used_capacity"] = td["used_linehaul"] + td["load_margin"]
        if profiled:
            td["route_preference"] = gain("route_preference", _pick(td["preference"].reshape(B, -1), k * n + action))
        td["route_length"] = gain("route_length", 1)
        td["num_served"] = gain("num_served", 1)
        # Rows not moving to a customer write False into the depot column, which is always False.
        td["visited"] = td["visited"].scatter(1, torch.where(to_customer, action, 0)[:, None], to_customer[:, None])
        td["current_node"] = torch.where(to_customer, action, cur)

        if bool(closing.any()):
            slack, waited, time = td["route_slack"], td["route_waited"], td["current_time"]
            route_duration = time - td["route_start"] - torch.minimum(slack, waited).clamp(min=0)
            route_cost = (
                _pick(td["vehicle_fixed_cost"], k)
                + _pick(td["vehicle_unit_distance_cost"], k) * td["route_distance"]
                + _pick(td["vehicle_unit_duration_cost"], k) * route_duration
                - td["route_preference"]
            )
            td["cost"] = torch.where(closing, td["cost"] + route_cost, td["cost"])
            unchanged = {"route_slack", "route_waited"} if not timed else set()
            unchanged |= {"used_backhaul", "load_margin", "backhaul_started"} if not backhaul else set()
            unchanged |= {"route_preference"} if not profiled else set()
            self._new_route(td, closing, skip=unchanged)
        used = _pick(td["routes_used"], k) + closing.long()
        td["routes_used"] = td["routes_used"].scatter(1, k[:, None], used[:, None])
        if K > 1:  # with one type the hand-over goes nowhere
            hand_over = (back_home & (cur == 0)) | (closing & (used >= _pick(td["vehicle_count"], k)))
            td["vehicle_type"] = torch.where(hand_over, _pick(td["next_type"], k).clamp(max=K - 1), k)
        return self._update_mask(td, flags)

    def get_reward(self, td: TensorDict, actions: torch.Tensor | None = None) -> torch.Tensor:
        """Minus the objective. The cost is accumulated while stepping (route durations need the
        schedule), so ``actions`` is accepted only for rl4co's call signature."""
        del actions
        return -td["cost"]

    def replay(self, td: TensorDict, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor]:
        """Step through ``actions`` [B, T]; also returns the vehicle type acting at each step."""
        types = torch.empty_like(actions)
        for step in range(actions.shape[1]):
            types[:, step] = td["vehicle_type"]
            td["action"] = actions[:, step]
            td = self.step(td)
        return td, types


# How each of the env's per-instance flags (``nco_core.features.ENV_FLAGS``: the names, the keys
# and the policies' column order) is read from a batch, as [B] bools.
_FLAG_VALUES = {
    "open_routes": lambda batch: batch.open_routes,
    "strict_backhaul": lambda batch: batch.strict_backhaul,
    "capacity": lambda batch: np.isfinite(batch.vehicle_capacity).any(1),
    "time_windows": lambda batch: batch.has_time_windows,
    "backhaul": lambda batch: batch.pickup.any(1),
    "max_duration": lambda batch: np.isfinite(batch.vehicle_max_duration).any(1),
    "profiles": lambda batch: batch.has_profiles,
}
# The constraints some instance of a batch has decide which checks a step runs.
_FLAGS = (*(flag.key for flag in ENV_FLAGS), "has_unreachable")


def _batch_flags(td: TensorDict) -> dict[str, bool]:
    """Which constraints some instance of the batch has, in one host sync."""
    return dict(zip(_FLAGS, torch.stack([td[key] for key in _FLAGS], 1).any(0).tolist(), strict=True))


def _pick(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[b, index[b]]`` for [B, X] values; gather is cheaper than advanced indexing, and a
    one-column view (a one-type fleet) is free."""
    if values.shape[1] == 1:
        return values[:, 0]
    return values.gather(1, index[:, None]).squeeze(1)


def _profile_rows(values: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
    """[B, n] rows of [B, P, n] values at flat (instance, profile) indices; with one profile the
    rows are the tensor itself (a view, no copy)."""
    if values.shape[1] == 1:
        return values[:, 0]
    return values.reshape(-1, values.shape[-1]).index_select(0, row)


def _none(mask: torch.Tensor) -> torch.Tensor:
    """[B] rows of a [B, n] bool mask without any True (a byte sum is ~5x faster than any())."""
    return mask.view(torch.uint8).sum(1, dtype=torch.int32) == 0


# ---------------------------------------------------------------------------------------------


def random_action(td: TensorDict, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniformly random allowed action per instance (the baseline policy): the r-th allowed
    action for a uniform r, found by binary search in the running count (no per-entry noise)."""
    count = td["action_mask"].cumsum(1, dtype=torch.int32)
    r = (torch.rand(count.shape[0], generator=generator, device=count.device) * count[:, -1]).int() + 1
    return torch.searchsorted(count, r.minimum(count[:, -1])[:, None]).squeeze(1)


def multistart(
    env: RoutingEnv, td: TensorDict, num_starts: int, first_start: int = 0
) -> tuple[TensorDict, torch.Tensor]:
    """POMO: ``num_starts`` copies of each instance (row ``s * B + b``), each forced to begin with
    a different allowed first action (cycling when fewer are allowed). ``first_start`` skips that
    many starts, so a large set of starts can be decoded in slices. Returns the stepped
    TensorDict and the forced actions [S * B]."""
    B = td.batch_size[0]
    mask = td["action_mask"]
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # allowed actions first
    s = torch.arange(first_start, first_start + num_starts, device=mask.device).repeat_interleave(B)
    b = torch.arange(B, device=mask.device).repeat(num_starts)
    first = order[b, s % mask.sum(1)[b]]
    expanded = td[b]  # indexing with a tensor already copies
    expanded["action"] = first
    return env.step(expanded), first


_SYMMETRIES = (
    lambda x, y: (x, y),
    lambda x, y: (1 - x, y),
    lambda x, y: (x, 1 - y),
    lambda x, y: (1 - x, 1 - y),
    lambda x, y: (y, x),
    lambda x, y: (1 - y, x),
    lambda x, y: (y, 1 - x),
    lambda x, y: (1 - y, 1 - x),
)


def augment(td: TensorDict, num_augment: int = 8) -> TensorDict:
    """The 8 symmetries of the unit square applied to ``locs`` (row ``a * B + b``). Matrices are
    data, so they stay as given; only the coordinate features change, and only for instances that
    have coordinates (all-zero padding stays zero)."""
    if not 1 <= num_augment <= len(_SYMMETRIES):
        raise ValueError(f"num_augment must be in 1..8, got {num_augment}")
    B = td.batch_size[0]
    expanded = td[torch.arange(B, device=td.device).repeat(num_augment)]  # a copy: tensor index
    x, y = td["locs"][..., 0], td["locs"][..., 1]
    moved = torch.cat([torch.stack(f(x, y), -1) for f in _SYMMETRIES[:num_augment]], 0)
    expanded["locs"] = torch.where(expanded["has_coordinates"][:, None, None], moved, expanded["locs"])
    return expanded
