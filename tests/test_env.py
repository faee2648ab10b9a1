"""The batched env against the one evaluator: rewards, feasibility, masks, conversions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.convert import actions_to_routes, routes_to_actions
from envs.env import RoutingEnv, augment, multistart, random_action
from envs.generators import generate, sample_instance, to_instances
from envs.presets import PRESETS
from nco_core.evaluate import evaluate
from nco_core.instance import Instance, VehicleType
from tests.test_generators import small_city

ENV = RoutingEnv()


def rollout(td, seed: int = 0, max_steps: int = 10_000):
    """Random policy until every episode is done; asserts a non-empty mask at every state."""
    generator = torch.Generator().manual_seed(seed)
    actions, types = [], []
    for _ in range(max_steps):
        if bool(td["done"].all()):
            break
        assert bool(td["action_mask"].any(1).all())
        assert bool((td["action_mask"][td["done"]].sum(1) == 1).all())
        action = random_action(td, generator)
        actions.append(action)
        types.append(td["vehicle_type"].clone())
        td["action"] = action
        td = ENV.step(td)
    assert bool(td["done"].all()), "episodes did not finish"
    return td, torch.stack(actions, 1), torch.stack(types, 1)


def assert_matches_evaluator(instances, td, actions, types) -> None:
    reward = ENV.get_reward(td, actions)
    for instance, (routes, kinds), r in zip(instances, actions_to_routes(actions, types), reward.tolist(), strict=True):
        evaluation = evaluate(instance, routes, kinds)
        assert evaluation.feasible, (instance, evaluation.violations[:3])
        assert -r == pytest.approx(evaluation.cost, rel=1e-4, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    problem=st.sampled_from(sorted(PRESETS)),
    size=st.integers(1, 14),
    seed=st.integers(0, 10_000),
    on_city=st.booleans(),
    distribution=st.sampled_from(["uniform", "cluster", "mixed"]),
)
def test_random_rollouts_agree_with_evaluator(problem, size, seed, on_city, distribution) -> None:
    city = small_city(seed=seed % 5) if on_city else None
    batch = generate(problem, 8, size, city=city, distribution=distribution, seed=seed)
    td, actions, types = rollout(ENV.reset(batch), seed=seed)
    assert bool(td["complete"].all())
    assert_matches_evaluator(to_instances(batch), td, actions, types)


@pytest.mark.parametrize("problem", sorted(PRESETS))
def test_long_random_rollouts_never_stall(problem: str) -> None:
    batch = generate(
        problem, 256, 20, city=small_city() if problem.startswith("a") else None, distribution="mixed", seed=11
    )
    td, actions, types = rollout(ENV.reset(batch), seed=1)
    assert actions.numel() >= 256 * 21
    assert bool(td["complete"].all())
    assert bool(td["visited"][:, 1:].all())
    subset = list(range(0, 256, 32))
    assert_matches_evaluator([to_instances(batch)[i] for i in subset], td[subset], actions[subset], types[subset])


def test_routes_actions_round_trip() -> None:
    batch = generate("pvrp", 16, 12, seed=5)
    td, actions, types = rollout(ENV.reset(batch), seed=3)
    decoded = actions_to_routes(actions, types)
    encoded = torch.stack(
        [
            routes_to_actions(routes, kinds, batch.vehicle_count[b].tolist(), actions.shape[1])
            for b, (routes, kinds) in enumerate(decoded)
        ]
    )
    replayed, replay_types = ENV.replay(ENV.reset(batch), encoded)
    assert actions_to_routes(encoded, replay_types) == decoded
    torch.testing.assert_close(replayed["cost"], td["cost"])
    assert {k for _, kinds in decoded for k in kinds} == {0, 1, 2}


def test_reset_from_instances_matches_batch() -> None:
    batch = generate("mtvrp", 6, 10, seed=9)
    instances = to_instances(batch)
    td, actions, types = rollout(ENV.reset(instances), seed=2)
    assert_matches_evaluator(instances, td, actions, types)
    torch.testing.assert_close(ENV.replay(ENV.reset(batch), actions)[0]["cost"], td["cost"])


def test_heterogeneous_limited_fleet_and_padding() -> None:
    base = sample_instance("acvrp", 8, seed=1)
    small = base.replace(
        capacity=None, fleet=(VehicleType(count=2, capacity=20), VehicleType(count=8, capacity=30, fixed_cost=5.0))
    )
    instances = [small, base]  # 2 types and 1 type in one batch: padded
    td, actions, types = rollout(ENV.reset(instances), seed=4)
    assert_matches_evaluator(instances, td, actions, types)
    assert ENV.reset(instances)["vehicle_count"].tolist() == [[2, 8], [8, 0]]


def test_tsp_uses_one_vehicle() -> None:
    batch = generate("atsp", 32, 10, city=small_city(), seed=0)
    td, actions, types = rollout(ENV.reset(batch))
    for routes, _ in actions_to_routes(actions, types):
        assert len(routes) == 1 and sorted(routes[0]) == list(range(1, 11))


def test_stuck_limited_fleet_ends_incomplete() -> None:
    instance = Instance(distance=np.ones((4, 4)) - np.eye(4), demand=[0, 5, 5, 5], capacity=10, num_vehicles=1)
    td = ENV.reset([instance])
    for action in (1, 2):
        assert bool(td["action_mask"][0, action]) and not bool(td["action_mask"][0, 0])
        td["action"] = torch.tensor([action])
        td = ENV.step(td)
    assert bool(td["done"][0]) and not bool(td["complete"][0])


def test_unservable_customer_is_rejected() -> None:
    instance = Instance(distance=np.ones((3, 3)) - np.eye(3), time_windows=[[0, 10], [0, 0.5], [0, 10]])
    with pytest.raises(ValueError, match="customer 1 cannot be served on its own"):
        ENV.reset([instance])


def test_masks_forbid_what_the_evaluator_flags() -> None:
    """Hand-checked: from node 1, node 2 closes after we could arrive; node 3 overflows."""
    distance = np.array([[0, 1, 1, 1], [1, 0, 5, 1], [1, 5, 0, 1], [1, 1, 1, 0]], float)
    instance = Instance(
        distance=distance, demand=[0, 4, 1, 7], capacity=10, time_windows=[[0, 100], [0, 10], [0, 3], [0, 50]]
    )
    td = ENV.reset([instance])
    td["action"] = torch.tensor([1])
    td = ENV.step(td)
    assert td["action_mask"][0].tolist() == [True, False, False, False]
    assert not evaluate(instance, [[1, 2], [3]]).feasible
    assert not evaluate(instance, [[1, 3], [2]]).feasible


def test_multistart_and_augment() -> None:
    batch = generate("acvrptw", 4, 6, seed=3)
    td = ENV.reset(batch)
    started, first = multistart(ENV, td, 6)
    assert started.batch_size[0] == 24
    assert first.view(6, 4).T.sort(1).values.tolist() == [list(range(1, 7))] * 4
    assert (started["current_node"] == first).all()
    augmented = augment(td)
    assert augmented.batch_size[0] == 32
    torch.testing.assert_close(augmented["locs"][4:8, :, 0], 1 - td["locs"][:, :, 0])
    torch.testing.assert_close(augmented["locs"][16:20], td["locs"].flip(-1))
    torch.testing.assert_close(augmented["distance"][8:12], td["distance"])
    done, actions, types = rollout(started)
    assert bool(done["complete"].all())


@pytest.mark.parametrize("problem", ["mtvrp", "pvrp", "vrpbtw"])
def test_mask_allows_exactly_the_customers_the_evaluator_accepts(problem: str) -> None:
    """Not only never a flagged move: the precomputed time bounds must not forbid feasible ones."""
    batch = generate(problem, 6, 10, city=small_city(seed=2), distribution="mixed", seed=8)
    instances = to_instances(batch)
    td = ENV.reset(batch)
    routes: list[list[int]] = [[] for _ in instances]
    generator = torch.Generator().manual_seed(6)
    checked = 0
    while not bool(td["done"].all()):
        mask, visited, kinds = td["action_mask"].tolist(), td["visited"].tolist(), td["vehicle_type"].tolist()
        for b, instance in enumerate(instances):
            if bool(td["done"][b]):
                continue
            for j in range(1, instance.num_nodes):
                if visited[b][j]:
                    continue
                evaluation = evaluate(instance, [routes[b] + [j]], [kinds[b]])
                assert mask[b][j] == all(v.kind == "unvisited" for v in evaluation.violations), (
                    b,
                    routes[b],
                    j,
                    evaluation.violations,
                )
                checked += 1
        action = random_action(td, generator)
        for b, a in enumerate(action.tolist()):
            routes[b] = routes[b] + [a] if a else []
        td["action"] = action
        td = ENV.step(td)
    assert checked > 200


def test_augment_leaves_instances_without_coordinates_alone() -> None:
    with_coords = sample_instance("acvrp", 6, seed=2)
    without = with_coords.replace(coordinates=None)
    td = ENV.reset([with_coords, without])
    augmented = augment(td)
    assert augmented.batch_size[0] == 16
    assert bool((augmented["locs"][1::2] == 0).all())  # rows a * 2 + 1: the instance without coordinates
    torch.testing.assert_close(augmented["locs"][2, :, 0], 1 - td["locs"][0, :, 0])
    assert augmented["has_coordinates"].tolist() == [True, False] * 8


def test_rollouts_on_shipped_cities_agree_with_evaluator() -> None:
    cities = pytest.importorskip("envs.cities", reason="city pools not available")
    names = cities.list_cities("all")
    if not names:
        pytest.skip("no city pools shipped")
    for name in names[:2]:
        city = cities.load_city(name)
        for problem in ("acvrptw", "pvrp"):
            batch = generate(problem, 8, 30, city=city, distribution="mixed", seed=3)
            td, actions, types = rollout(ENV.reset(batch), seed=5)
            assert bool(td["complete"].all())
            finite = np.isfinite(batch.distance).all(axis=(1, 2, 3)) & np.isfinite(batch.duration).all(axis=(1, 2, 3))
            assert td["has_unreachable"].tolist() == (~finite).tolist()
            assert_matches_evaluator(to_instances(batch, name=name), td, actions, types)


SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "problem,size",
    [(p, s) for p in sorted(PRESETS) for s in (20, 50)]
    + [("mtvrp", 100), ("pvrp", 100)]
    + [
        pytest.param(p, s, marks=SLOW)
        for p in sorted(PRESETS)
        for s in (100, 200)
        if (p, s) not in {("mtvrp", 100), ("pvrp", 100)}
    ],
)
def test_large_batch_reset_step_reward(problem: str, size: int) -> None:
    batch = generate(problem, 1024, size, seed=0)
    td = ENV.reset(batch)
    assert td["distance"].shape[-3:] == (batch.distance.shape[1], size + 1, size + 1)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        td["action"] = random_action(td, generator)
        td = ENV.step(td)
        assert bool(td["action_mask"].any(1).all())
    assert bool((td["visited"].sum(1) >= 2).all())
    reward = ENV.get_reward(td)
    assert reward.shape == (1024,) and bool(torch.isfinite(reward).all())
    closed = td["routes_used"].sum(1) > 0
    assert bool((reward[~closed] == 0).all()) and bool((reward[closed] != 0).all())
