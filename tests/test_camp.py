"""The profiled VRP (CAMP): pvrp-p / pvrp-zc generators, the camp policy's masks and gradients,
training in one command with resume, and the shipped checkpoints solving real-city instances."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import nco
from envs.cities import load_city
from envs.env import RoutingEnv
from envs.generators import capacity_for, generate, sample_instance, to_instances
from envs.profiles import CAPACITY_SPREAD
from nco.methods.neural import checkpoint_for
from nco.policies import CampPolicy
from nco.training.checkpoint import load_policy
from nco_core.evaluate import evaluate

CITY = "oslo"  # a test-split pool: never used in training


def _unit(batch) -> np.ndarray:
    """The generator's time unit (envs/generators.py): the slowest profile's longest round trip / 2 sqrt 2."""
    slowest = batch.duration.max(axis=1)
    return (slowest[:, 0, 1:] + slowest[:, 1:, 0]).max(axis=1) / (2 * math.sqrt(2))


@pytest.fixture(scope="module")
def city():
    return load_city(CITY)


def test_pvrp_generators_draw_the_documented_fleets_zones_and_preferences(city) -> None:
    zc = generate("pvrp-zc", 96, 40, city=city, seed=3)
    p = generate("pvrp-p", 96, 40, city=city, seed=3)
    for batch in (zc, p):
        types = (batch.vehicle_count > 0).sum(1)
        assert set(types.tolist()) == {3, 4, 5}
        used = batch.vehicle_count > 0
        assert (batch.vehicle_count[used] == 40).all()  # unlimited: one vehicle per customer
        capacity, base = batch.vehicle_capacity[used], capacity_for(40)
        assert (capacity >= base * CAPACITY_SPREAD[0] - 0.5).all() and (
            capacity <= base * CAPACITY_SPREAD[1] + 0.5
        ).all()
        assert (capacity >= batch.demand.max()).all() and len(np.unique(capacity)) > 10
    # zones: every customer has a type, the own zone plus ~ZONE_SHARE of the others, no preferences
    allowed = zc.allowed[:, :, 1:]
    used = zc.vehicle_count > 0
    assert allowed.any(axis=1).all()
    assert not allowed[~used].any()
    share = allowed[used].mean()
    assert 0.35 < share < 0.6, share
    assert not zc.preference.any()
    # preferences: everything allowed, 0 <= preference <= w * unit, linear in the weight
    assert p.allowed[:, :, 1:][p.vehicle_count > 0].all()
    pref = p.preference[:, :, 1:]
    assert (pref >= 0).all() and (pref[p.vehicle_count > 0] > 0).all()
    assert (pref.max(axis=(1, 2)) <= 0.2 * _unit(p) + 1e-9).all()
    double = generate("pvrp-p", 96, 40, city=city, seed=3, preference_weight=0.4)
    np.testing.assert_allclose(double.preference, 2 * p.preference)
    assert not p.preference[p.vehicle_count == 0].any()


def test_pvrp_instances_drop_padding_and_stay_feasible(city) -> None:
    for problem in ("pvrp-p", "pvrp-zc"):
        for instance in to_instances(generate(problem, 8, 30, city=city, seed=5)):
            assert 3 <= len(instance.fleet) <= 5 and instance.num_profiles == len(instance.fleet)
            assert instance.coordinate_system == "latlon"
            routes = [[i] for i in range(1, instance.num_nodes)]
            allowed = (
                np.ones((len(instance.fleet), instance.num_nodes), bool)
                if instance.allowed is None
                else instance.allowed
            )
            types = [int(np.flatnonzero(allowed[:, i])[0]) for i in range(1, instance.num_nodes)]
            assert evaluate(instance, routes, types).feasible


def _step_greedy(policy: CampPolicy, env: RoutingEnv, td, rows, steps: int):
    for _ in range(steps):
        mask = policy.pair_mask(td, rows)
        pair = policy.logits(td, rows, mask).argmax(-1)
        n = td["visited"].shape[1]
        td["action"] = torch.where(pair // n > td["vehicle_type"], 0, pair % n)
        td = env.step(td)
    return td


@torch.no_grad()
def test_pair_mask_is_the_envs_mask_of_each_type(city) -> None:
    """Current type: the env's mask (the skip column aside); a later type's client: exactly what
    the env allows that type after skipping to it."""
    torch.manual_seed(0)
    policy, env = CampPolicy(dim=16, layers=1, heads=2).eval(), RoutingEnv()
    td = env.reset(generate("pvrp-zc", 6, 15, city=city, seed=2))
    rows = policy.for_rows(policy.encode(td, env, torch.ones(6)), torch.arange(6))
    checked_later = 0
    for steps in (0, 3, 7, 12):
        state = _step_greedy(policy, env, td.clone(), rows, steps)
        mask = policy.pair_mask(state, rows)
        for b in range(6):
            k0 = int(state["vehicle_type"][b])
            at_depot = int(state["current_node"][b]) == 0
            expected = state["action_mask"][b].clone()
            if at_depot and not bool(state["done"][b]):
                expected[0] = False
            assert torch.equal(mask[b, k0], expected)
            assert not mask[b, :k0].any()
            for k in range(k0 + 1, mask.shape[1]):
                if not at_depot:
                    assert not mask[b, k].any()
                    continue
                row = state[b : b + 1].clone()
                while int(row["vehicle_type"][0]) < k and bool(row["action_mask"][0, 0]) and not bool(row["done"][0]):
                    row["action"] = torch.zeros(1, dtype=torch.int64)
                    row = env.step(row)
                if int(row["vehicle_type"][0]) == k:
                    reachable = row["action_mask"][0].clone()
                    reachable[0] = False
                    assert not (mask[b, k] & ~reachable).any()
                    if mask[b, k].any():
                        assert torch.equal(mask[b, k], reachable)
                        checked_later += 1
                else:
                    assert not mask[b, k].any()
    assert checked_later > 0


def test_rollouts_are_feasible_and_their_gradients_finite(city) -> None:
    torch.manual_seed(1)
    policy, env = CampPolicy(dim=16, layers=1, heads=2), RoutingEnv()
    for problem in ("pvrp-p", "pvrp-zc"):
        batch = generate(problem, 4, 12, city=city, seed=4)
        rollout = policy.rollout(env.reset(batch), env, strategy="sampling", num_starts=6)
        assert rollout.complete.all()
        assert torch.isfinite(rollout.log_likelihood).all() and (rollout.log_likelihood <= 0).all()
        (-(rollout.reward.float().detach() * rollout.log_likelihood).mean()).backward()
        assert all(torch.isfinite(p.grad).all() for p in policy.parameters() if p.grad is not None)
        policy.zero_grad()
    instances = to_instances(generate("pvrp-zc", 3, 12, city=city, seed=6))
    for found in policy.solutions(instances, k=2, starts=4, samples=2):
        assert found and all(s.feasible for s in found)
        assert found[0].cost <= found[-1].cost


@torch.no_grad()
def test_the_kernel_and_the_env_decode_the_same_actions(city) -> None:
    torch.manual_seed(2)
    policy, env = CampPolicy(dim=16, layers=1, heads=2).eval(), RoutingEnv()
    for problem in ("pvrp-p", "pvrp-zc"):
        batch = generate(problem, 3, 20, city=city, seed=8)
        runs = [
            policy.rollout(env.reset(batch), env, strategy="greedy", num_starts=5, engine=engine)
            for engine in ("fast", "env")
        ]
        assert torch.equal(runs[0].actions, runs[1].actions) and torch.equal(
            runs[0].vehicle_types, runs[1].vehicle_types
        )
        torch.testing.assert_close(runs[0].reward, runs[1].reward)
        torch.testing.assert_close(runs[0].log_likelihood, runs[1].log_likelihood)
        sampled = [
            policy.rollout(
                env.reset(batch), env, num_samples=3, generator=torch.Generator().manual_seed(5), engine=engine
            )
            for engine in ("fast", "env")
        ]
        assert torch.equal(sampled[0].actions, sampled[1].actions)


def test_one_command_trains_resumes_and_loads(tmp_path: Path) -> None:
    from nco.training.run import TrainConfig, train

    options = dict(problem="pvrp-zc", size=8, data="real", model="camp", dim=16, layers=1, heads=2, batch_size=2,
                   steps_per_epoch=2, num_starts=4, val_size=2, reference_time=0.1, progress=False,
                   out=str(tmp_path))  # fmt: skip
    train(TrainConfig(epochs=1, **options))
    train(TrainConfig(epochs=2, resume="last", **options))
    policy, meta = load_policy(tmp_path / "policy.pt")
    assert isinstance(policy, CampPolicy) and meta["epoch"] == 2 and meta["global_step"] == 4
    assert meta["flags"]["zones"] == 1 and meta["problem"] == "pvrp-zc"


def _zones_respected(instance: nco.Instance, solution: nco.Solution) -> bool:
    if instance.allowed is None:
        return True
    return all(
        bool(instance.allowed[k, route].all()) for route, k in zip(solution.routes, solution.vehicle_types, strict=True)
    )


@pytest.mark.parametrize("problem", ["pvrp-p", "pvrp-zc"])
def test_shipped_checkpoints_solve_real_city_instances(problem: str) -> None:
    instance = sample_instance(problem, 50, city=CITY, seed=7)
    path = Path(checkpoint_for(instance))
    assert path.name == f"{problem}50.pt"
    assert Path(checkpoint_for(sample_instance(problem, 100, city=CITY, seed=7))).name == f"{problem}100.pt"
    neural = nco.solve(instance, method="neural", time_limit=2.0, seed=0)
    assert neural.feasible and _zones_respected(instance, neural)
    assert Path(neural.info["checkpoint"]).name == path.name
    hybrid = nco.solve(instance, method="hybrid", time_limit=1.0, seed=0)
    assert hybrid.feasible and _zones_respected(instance, hybrid)
    assert hybrid.info["neural_candidates"] >= 1 and math.isfinite(hybrid.info["neural_cost"])
    assert hybrid.cost <= hybrid.info["neural_cost"] + 1e-9
