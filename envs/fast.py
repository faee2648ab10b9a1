"""The env's step compiled into one kernel call per decoding step: the fast path of every rollout.

``envs/env.py`` stays the definition of masks, schedules and rewards; this module re-implements
``RoutingEnv.step`` and its mask, plus what the policy reads each step (``state_features`` and the
current distance row of ``nco/policies/features.py``), as scalar numba code over the rollout's
rows. Why: a TensorDict step costs ~80 lookups and ~60 small tensor ops (0.25-0.5 ms whatever the
batch), while the same arithmetic written per row costs microseconds. ``tests/test_fast_env.py``
proves it equal to the env (every mask, state field, feature and cost, bit for bit) on every
variant the env accepts, so the env's property tests against the evaluator carry over.

Rows are replicas (augmentations, POMO starts, samples) of ``B`` instances; each row reads its
instance's matrices through ``instance[row]``, so replicas share one copy of the travel matrices
instead of carrying their own (the env's ``td[index]`` copies them for every replica). Every
arithmetic operation keeps the env's order and dtype (float64 state, float32 features), and the
min/max/clamp helpers propagate NaN as torch does, which is what makes the results identical.

The static data come from ``RoutingEnv.reset`` (its TensorDict, whose contract is the env's
docstring), so the precomputations (latest arrivals, fleet hand-over, skip rule) exist once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch
from tensordict import TensorDict

from nco_core.features import ENV_FLAGS

__all__ = ["FastEnv", "warmup"]

FAR = 10.0  # nco.policies.features.FAR: scaled stand-in for a missing arc (kept in sync by the tests)
# the env's per-instance flags (nco_core.features.ENV_FLAGS, as nco.policies.features.FLAGS):
# the state features end with these columns
FEATURE_FLAGS = tuple(flag.key for flag in ENV_FLAGS)
BATCH_FLAGS = (
    "has_profiles",
    "has_capacity",
    "has_backhaul",
    "strict_backhaul",
    "has_time_windows",
    "has_max_duration",
    "has_unreachable",
)
STATE_DIM = 10 + len(FEATURE_FLAGS)

# columns of the float64 route state
UL, UB, UC, LM, CT, RS, RW, SL, RD, RP, COST = range(11)


@numba.njit(inline="always")
def _min(a, b):
    if a != a or b != b:
        return np.nan
    return a if a < b else b


@numba.njit(inline="always")
def _max(a, b):
    if a != a or b != b:
        return np.nan
    return a if a > b else b


@numba.njit(cache=True, nogil=True)
def _refresh(
    rows,
    inst,
    static_f,
    static_k,
    static_i,
    static_b,
    flags,
    scale,
    cur_node,
    vtype,
    routes_used,
    visited,
    served,
    length,
    fl,
    started,
    mask,
    done,
    complete,
    features,
    drow,
    penalty,
):
    """Mask, done/complete, state features and distance row of every row (``_update_mask``)."""
    distance, duration, latest = static_f[0], static_f[1], static_f[2]
    demand, pickup, service = static_f[3], static_f[4], static_f[5]
    tw_early, tw_late, horizon = static_f[6], static_f[7], static_f[8]
    capacity, max_duration = static_k[0], static_k[1]
    count, profile, next_type = static_i[0], static_i[1], static_i[2]
    allowed, coverable, open_routes, strict, feature_flags = (
        static_b[0],
        static_b[1],
        static_b[2],
        static_b[3],
        static_b[4],
    )
    f_profiles, f_capacity, f_backhaul, f_strict, f_timed, f_limited, f_unreachable = (
        flags[0],
        flags[1],
        flags[2],
        flags[3],
        flags[4],
        flags[5],
        flags[6],
    )
    n = visited.shape[1]
    K = count.shape[1]
    customers = np.float32(n - 1)
    for r in range(rows):
        b = inst[r]
        k = vtype[r]
        p = profile[b, k]
        cur = cur_node[r]
        cap = capacity[b, k]
        ul, ub, lm, ct = fl[r, UL], fl[r, UB], fl[r, LM], fl[r, CT]
        rstart, waited, slack = fl[r, RS], fl[r, RW], fl[r, SL]
        timing = f_unreachable or f_limited or f_timed
        any_allowed = False
        mask[r, 0] = False
        for j in range(1, n):
            ok = not visited[r, j]
            if ok and f_profiles:
                ok = allowed[b, k, j]
            if ok and f_capacity:
                ok = demand[b, j] <= (cap - ul) - lm
                if ok and f_backhaul:
                    ok = pickup[b, j] <= cap - ub
                if ok and f_strict:
                    late_linehaul = demand[b, j] > 0 and (started[r] or pickup[b, j] > 0)
                    ok = not (strict[b, 0] and late_linehaul)
            if ok and timing:
                dur_out = duration[b, p, cur, j]
                arrival = ct + dur_out
                ok = arrival <= latest[b, p, j]
                if ok and f_unreachable:
                    ok = np.isfinite(distance[b, p, cur, j]) and np.isfinite(dur_out)
                if ok and f_limited:
                    early, late = tw_early[b, j], tw_late[b, j]
                    wait = _max(early - arrival, 0.0)
                    finish = arrival + wait + service[b, j]
                    slack_j = _min(slack, late - arrival + waited)
                    waited_j = waited + wait
                    back = finish + duration[b, p, j, 0]
                    wait_depot = _max(tw_early[b, 0] - back, 0.0)
                    if open_routes[b, 0]:
                        end, slack_end, waited_end = finish, slack_j, waited_j
                    else:
                        end = back + wait_depot
                        slack_end = _min(slack_j, tw_late[b, 0] - back + waited_j)
                        waited_end = waited_j + wait_depot
                    route_duration = end - rstart - _max(_min(slack_end, waited_end), 0.0)
                    ok = route_duration <= max_duration[b, k]
            mask[r, j] = ok
            any_allowed = any_allowed or ok
        at_depot = cur == 0
        all_served = served[r] == n - 1
        left = 0
        for kk in range(k, K):
            left += count[b, kk] - routes_used[r, kk]
        close = (not at_depot) and (left != 1 or all_served)
        skip = at_depot and next_type[b, k] < K
        if skip:
            for j in range(1, n):
                if not visited[r, j] and not coverable[b, k, j]:
                    skip = False
                    break
        mask[r, 0] = close or skip
        finished = at_depot and all_served
        done[r] = finished or not (any_allowed or mask[r, 0])
        if done[r]:
            mask[r, 0] = True
        complete[r] = finished
        # state features (nco.policies.features.state_features), after the step
        finite = np.isfinite(cap)
        h = horizon[b]
        elapsed = ct - rstart
        limit = max_duration[b, k]
        if finite:
            used_capacity_share = np.float32(fl[r, UC] / cap)
            linehaul_share = np.float32(ul / cap)
            backhaul_share = np.float32(ub / cap)
        else:
            used_capacity_share = linehaul_share = backhaul_share = np.float32(0.0)
        if np.isfinite(limit):
            duration_left = np.float32((limit - elapsed) / h)
        else:
            duration_left = np.float32(1.0)
        duration_left = _min(_max(duration_left, np.float32(-1.0)), np.float32(2.0))
        features[r, 0] = np.float32(1.0) - used_capacity_share
        features[r, 1] = linehaul_share
        features[r, 2] = backhaul_share
        features[r, 3] = np.float32(_min(ct / h, 2.0))
        features[r, 4] = np.float32(_min(elapsed / h, 2.0))
        features[r, 5] = duration_left
        features[r, 6] = np.float32(length[r]) / customers
        features[r, 7] = np.float32(served[r]) / customers  # served customers are the visited ones
        features[r, 8] = np.float32(1.0) if started[r] else np.float32(0.0)
        features[r, 9] = np.float32(1.0) if at_depot else np.float32(0.0)
        for f in range(feature_flags.shape[1]):
            features[r, 10 + f] = np.float32(1.0) if feature_flags[b, f] else np.float32(0.0)
        s = scale[r]
        for j in range(n):
            drow[r, j] = np.float32(_min(distance[b, p, cur, j] / s, FAR))
            penalty[r, j] = np.float32(0.0) if mask[r, j] else np.float32(-np.inf)


@numba.njit(cache=True, nogil=True)
def _step(
    rows,
    action,
    inst,
    static_f,
    static_k,
    static_i,
    static_b,
    flags,
    cur_node,
    vtype,
    routes_used,
    visited,
    served,
    length,
    fl,
    started,
    done,
):
    """``RoutingEnv.step`` for every row, in place (the mask is refreshed separately)."""
    distance, duration = static_f[0], static_f[1]
    demand, pickup, service = static_f[3], static_f[4], static_f[5]
    tw_early, tw_late = static_f[6], static_f[7]
    preference = static_f[9]
    fixed, unit_distance, unit_duration = static_k[2], static_k[3], static_k[4]
    count, profile, next_type = static_i[0], static_i[1], static_i[2]
    open_routes = static_b[2]
    f_profiles, f_backhaul, f_timed = flags[0], flags[2], flags[4]
    K = count.shape[1]
    for r in range(rows):
        b = inst[r]
        a = action[r]
        cur = cur_node[r]
        k = vtype[r]
        active = not done[r]
        to_customer = a > 0 and active
        back_home = a == 0 and active
        closing = back_home and cur != 0
        moving = to_customer or (closing and not open_routes[b, 0])
        p = profile[b, k]
        arrival = fl[r, CT] + duration[b, p, cur, a]
        svc = service[b, a] if to_customer else 0.0
        if f_timed:
            wait = _max(tw_early[b, a] - arrival, 0.0)
            waited = fl[r, RW]
            late_margin = tw_late[b, a] - arrival + waited
            if moving:
                fl[r, SL] = _min(fl[r, SL], late_margin)
                fl[r, RW] = waited + wait
            arrival = arrival + wait
        if moving:
            fl[r, CT] = arrival + svc
            fl[r, RD] = fl[r, RD] + distance[b, p, cur, a]
        if to_customer:
            fl[r, UL] = fl[r, UL] + demand[b, a]
        if f_backhaul:
            picked = pickup[b, a]
            if to_customer:
                fl[r, UB] = fl[r, UB] + picked
            fl[r, LM] = _max(fl[r, LM], fl[r, UB] - fl[r, UL])
            started[r] = started[r] or (to_customer and picked > 0)
        fl[r, UC] = fl[r, UL] + fl[r, LM]
        if to_customer:
            if f_profiles:
                fl[r, RP] = fl[r, RP] + preference[b, k, a]
            length[r] += 1
            served[r] += 1
            visited[r, a] = True
            cur_node[r] = a
        if closing:
            route_duration = fl[r, CT] - fl[r, RS] - _max(_min(fl[r, SL], fl[r, RW]), 0.0)
            route_cost = (
                fixed[b, k] + unit_distance[b, k] * fl[r, RD] + unit_duration[b, k] * route_duration - fl[r, RP]
            )
            fl[r, COST] = fl[r, COST] + route_cost
            start = tw_early[b, 0]
            cur_node[r] = 0
            length[r] = 0
            fl[r, UL] = fl[r, UB] = fl[r, UC] = fl[r, LM] = 0.0
            started[r] = False
            fl[r, CT] = fl[r, RS] = start
            fl[r, RW] = 0.0
            fl[r, SL] = np.inf
            fl[r, RD] = fl[r, RP] = 0.0
            routes_used[r, k] += 1
        if K > 1:
            used = routes_used[r, k]
            if (back_home and cur == 0) or (closing and used >= count[b, k]):
                vtype[r] = min(next_type[b, k], K - 1)


@numba.njit(cache=True, nogil=True)
def _advance(
    rows,
    action,
    inst,
    static_f,
    static_k,
    static_i,
    static_b,
    flags,
    scale,
    cur_node,
    vtype,
    routes_used,
    visited,
    served,
    length,
    fl,
    started,
    mask,
    done,
    complete,
    features,
    drow,
    penalty,
):
    """One decoding step: ``_step`` then ``_refresh``, in one call from Python; True once every
    row is done."""
    _step(
        rows,
        action,
        inst,
        static_f,
        static_k,
        static_i,
        static_b,
        flags,
        cur_node,
        vtype,
        routes_used,
        visited,
        served,
        length,
        fl,
        started,
        done,
    )
    _refresh(
        rows,
        inst,
        static_f,
        static_k,
        static_i,
        static_b,
        flags,
        scale,
        cur_node,
        vtype,
        routes_used,
        visited,
        served,
        length,
        fl,
        started,
        mask,
        done,
        complete,
        features,
        drow,
        penalty,
    )
    for r in range(rows):
        if not done[r]:
            return False
    return True


@dataclass
class _Static:
    """Per-instance data, stacked by dtype so a kernel call passes few arguments."""

    floats: tuple  # distance, duration, latest_arrival, demand, pickup, service, tw early, tw late, horizon, preference
    per_type: np.ndarray  # [5, B, K] capacity, max duration, fixed cost, unit distance cost, unit duration cost
    ints: np.ndarray  # [3, B, K] vehicle count, profile, next type
    bools: tuple  # allowed, coverable_after, open_routes [B, 1], strict_backhaul [B, 1], feature flags [B, F]
    flags: np.ndarray  # [7] which constraints some instance has (the env's batch flags)
    num_types: int


def _static(td: TensorDict) -> _Static:
    arr = lambda key, dtype=np.float64: np.ascontiguousarray(td[key].detach().cpu().numpy(), dtype=dtype)  # noqa: E731
    windows = arr("time_windows")
    floats = (
        arr("distance"),
        arr("duration"),
        arr("latest_arrival"),
        arr("demand"),
        arr("pickup"),
        arr("service_time"),
        np.ascontiguousarray(windows[..., 0]),
        np.ascontiguousarray(windows[..., 1]),
        arr("horizon"),
        arr("preference"),
    )
    per_type = np.stack(
        [
            arr(key)
            for key in (
                "vehicle_capacity",
                "vehicle_max_duration",
                "vehicle_fixed_cost",
                "vehicle_unit_distance_cost",
                "vehicle_unit_duration_cost",
            )
        ]
    )
    ints = np.stack([arr(key, np.int64) for key in ("vehicle_count", "vehicle_profile", "next_type")])
    bools = (
        arr("allowed", np.bool_),
        arr("coverable_after", np.bool_),
        arr("open_routes", np.bool_)[:, None].copy(),
        arr("strict_backhaul", np.bool_)[:, None].copy(),
        np.ascontiguousarray(np.stack([arr(key, np.bool_) for key in FEATURE_FLAGS], 1)),
    )
    flags = np.asarray(np.stack([arr(key, np.bool_) for key in BATCH_FLAGS], 1).any(0))
    return _Static(floats, per_type, ints, bools, flags, ints.shape[2])


class FastEnv:
    """Rollout state of ``rows`` replicas of the instances of a freshly reset env TensorDict.

    ``instance[row]`` says which instance a row replicates and ``scale[row]`` its distance scale
    (the policy's ``distance_scale``). The torch views (``current_node``, ``mask``, ``features``,
    ``distance_row``, the mask as an additive ``penalty``, ...) share memory with the kernel's
    arrays, so they are current after every :meth:`step` without a copy.
    """

    def __init__(self, td: TensorDict, instance: np.ndarray, scale: np.ndarray) -> None:
        self.static = _static(td)
        self.instance = np.ascontiguousarray(instance, dtype=np.int64)
        self.scale = np.ascontiguousarray(scale, dtype=np.float64)
        rows, n, K = len(self.instance), td["visited"].shape[1], self.static.num_types
        start = self.static.floats[6][self.instance, 0]
        self.cur_node = np.zeros(rows, np.int64)
        self.vtype = np.zeros(rows, np.int64)
        self.routes_used = np.zeros((rows, K), np.int64)
        self.visited = np.zeros((rows, n), np.bool_)
        self.served = np.zeros(rows, np.int64)
        self.length = np.zeros(rows, np.int64)
        self.state = np.zeros((rows, 11), np.float64)
        self.state[:, CT] = self.state[:, RS] = start
        self.state[:, SL] = np.inf
        self.started = np.zeros(rows, np.bool_)
        self.mask_np = np.zeros((rows, n), np.bool_)
        self.done_np = np.zeros(rows, np.bool_)
        self.complete_np = np.zeros(rows, np.bool_)
        self.features_np = np.zeros((rows, STATE_DIM), np.float32)
        self.drow_np = np.zeros((rows, n), np.float32)
        self.penalty_np = np.zeros((rows, n), np.float32)
        self._views()
        self._refresh()
        self._all_done = bool(self.done_np.all())

    def _views(self) -> None:
        """Torch tensors sharing memory with the kernel's arrays."""
        self.current_node = torch.from_numpy(self.cur_node)
        self.vehicle_type = torch.from_numpy(self.vtype)
        self.mask = torch.from_numpy(self.mask_np)
        self.done = torch.from_numpy(self.done_np)
        self.complete = torch.from_numpy(self.complete_np)
        self.features = torch.from_numpy(self.features_np)
        self.distance_row = torch.from_numpy(self.drow_np)
        self.penalty = torch.from_numpy(self.penalty_np)

    @property
    def rows(self) -> int:
        return len(self.instance)

    @property
    def cost(self) -> torch.Tensor:
        return torch.from_numpy(self.state[:, COST].copy())

    def all_done(self) -> bool:
        return self._all_done

    def _refresh(self) -> None:
        s = self.static
        _refresh(
            self.rows, self.instance, s.floats, s.per_type, s.ints, s.bools, s.flags, self.scale,
            self.cur_node, self.vtype, self.routes_used, self.visited, self.served, self.length,
            self.state, self.started, self.mask_np, self.done_np, self.complete_np, self.features_np, self.drow_np,
            self.penalty_np,
        )  # fmt: skip

    def step(self, action: torch.Tensor | np.ndarray) -> None:
        """Apply one action per row (illegal actions are the caller's bug, as in the env)."""
        actions = action.numpy() if isinstance(action, torch.Tensor) else action
        if actions.dtype != np.int64 or not actions.flags.c_contiguous:
            actions = np.ascontiguousarray(actions, dtype=np.int64)
        s = self.static
        self._all_done = _advance(
            self.rows, actions, self.instance, s.floats, s.per_type, s.ints, s.bools, s.flags, self.scale,
            self.cur_node, self.vtype, self.routes_used, self.visited, self.served, self.length,
            self.state, self.started, self.mask_np, self.done_np, self.complete_np, self.features_np, self.drow_np,
            self.penalty_np,
        )  # fmt: skip

    def repeat(self, times: int) -> FastEnv:
        """``times`` copies of every row, as rows ``t * rows + row`` (the env's replica order)."""
        clone = object.__new__(FastEnv)
        clone.static = self.static
        clone.instance = np.tile(self.instance, times)
        clone.scale = np.tile(self.scale, times)
        for name in (
            "cur_node",
            "vtype",
            "routes_used",
            "visited",
            "served",
            "length",
            "state",
            "started",
            "mask_np",
            "done_np",
            "complete_np",
            "features_np",
            "drow_np",
            "penalty_np",
        ):
            value = getattr(self, name)
            setattr(clone, name, np.ascontiguousarray(np.tile(value, (times,) + (1,) * (value.ndim - 1))))
        clone._views()
        clone._all_done = self._all_done
        return clone

    def pomo_starts(self, num_starts: int, first_start: int = 0) -> tuple[FastEnv, torch.Tensor]:
        """``envs.env.multistart``: ``num_starts`` copies of each row (row ``s * rows + row``),
        each forced to begin with a different allowed first action, cycling when fewer are
        allowed; ``first_start`` skips that many. Returns the stepped copy and the actions."""
        expanded = self.repeat(num_starts)
        allowed = self.mask_np
        counts = allowed.sum(1)
        order = np.argsort(~allowed, axis=1, kind="stable")
        s = np.repeat(np.arange(first_start, first_start + num_starts), self.rows)
        row = np.tile(np.arange(self.rows), num_starts)
        first = order[row, s % counts[row]].astype(np.int64)
        expanded.step(first)
        return expanded, torch.from_numpy(first)


def warmup() -> None:
    """Compile (or load from numba's cache) both kernels: a one-time cost per process, seconds
    on a cold cache, which callers with a time budget pay before their clock starts."""
    from envs.env import RoutingEnv
    from nco_core.instance import Instance

    tiny = Instance(distance=np.array([[0.0, 1.0], [1.0, 0.0]]), demand=np.array([0.0, 1.0]), capacity=2)
    td = RoutingEnv().reset([tiny])
    env = FastEnv(td, np.zeros(1, np.int64), np.ones(1))
    env.step(np.ones(1, np.int64))
