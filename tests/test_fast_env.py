"""The compiled rollout engine (envs/fast.py) against the reference env, bit for bit.

The fast engine may only re-implement the env if it is provably the same function: on every
variant the env accepts, random episodes stepped through both must agree on every mask, state
field, policy feature and cost at every step, and policy rollouts must decode the same actions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.env import RoutingEnv, random_action
from envs.fast import FAR, FEATURE_FLAGS, STATE_DIM, FastEnv
from envs.generators import generate, to_instances
from envs.presets import PRESETS
from nco.policies import features
from nco.policies.policy import RoutingPolicy
from tests.strategies import VARIANTS, instances
from tests.test_generators import small_city

ENV = RoutingEnv()
STATE = {
    "used_linehaul": 0,
    "used_backhaul": 1,
    "used_capacity": 2,
    "load_margin": 3,
    "current_time": 4,
    "route_start": 5,
    "route_waited": 6,
    "route_slack": 7,
    "route_distance": 8,
    "route_preference": 9,
    "cost": 10,
}


def test_constants_follow_the_policy_features():
    assert FEATURE_FLAGS == features.FLAGS and STATE_DIM == features.STATE_DIM and FAR == features.FAR


def assert_same(td, fast: FastEnv, scale: torch.Tensor) -> None:
    assert torch.equal(td["action_mask"], fast.mask)
    assert torch.equal(td["done"], fast.done)
    assert torch.equal(td["complete"], fast.complete)
    assert torch.equal(td["current_node"], fast.current_node)
    assert torch.equal(td["vehicle_type"], fast.vehicle_type)
    assert torch.equal(td["visited"], torch.from_numpy(fast.visited))
    assert torch.equal(td["routes_used"], torch.from_numpy(fast.routes_used))
    for key, column in STATE.items():
        assert torch.equal(td[key], torch.from_numpy(fast.state[:, column])), key
    assert torch.equal(features.state_features(td), fast.features)
    assert torch.equal(features.distance_row(td, scale), fast.distance_row)
    assert torch.equal(torch.zeros(fast.mask.shape).masked_fill(~td["action_mask"], float("-inf")), fast.penalty)


def lockstep(td, seed: int) -> None:
    """Random episodes through the env and the fast engine side by side."""
    scale = features.distance_scale(td)
    fast = FastEnv(td, np.arange(td.batch_size[0]), scale.numpy())
    generator = torch.Generator().manual_seed(seed)
    assert_same(td, fast, scale)
    for _ in range(10_000):
        if bool(td["done"].all()):
            break
        action = random_action(td, generator)
        td["action"] = action
        td = ENV.step(td)
        fast.step(action)
        assert_same(td, fast, scale)
    assert fast.all_done()


@settings(max_examples=30, deadline=None)
@given(
    problem=st.sampled_from(sorted(PRESETS)),
    size=st.integers(1, 14),
    seed=st.integers(0, 10_000),
    on_city=st.booleans(),
)
def test_generated_batches_step_identically(problem, size, seed, on_city):
    city = small_city(seed=seed % 5) if on_city else None
    lockstep(ENV.reset(generate(problem, 6, size, city=city, seed=seed)), seed)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_instance_variant_steps_identically(variant, data):
    batch = [data.draw(instances(VARIANTS[variant], max_customers=10)) for _ in range(3)]
    sizes = {instance.num_nodes for instance in batch}
    batch = [instance for instance in batch if instance.num_nodes == min(sizes)]  # one batch, one size
    lockstep(ENV.reset(batch), data.draw(st.integers(0, 100)))


@pytest.mark.parametrize("problem", sorted(PRESETS))
def test_policy_rollouts_decode_the_same_on_both_engines(problem):
    batch = to_instances(generate(problem, 3, 9, city=small_city(seed=1), seed=4))
    policy = RoutingPolicy(model="matrix", dim=32, layers=1, heads=4).eval()
    for options in (
        dict(strategy="greedy", num_starts=5),
        dict(strategy="sampling", num_samples=3, num_augment=2),
        dict(strategy="greedy"),
    ):
        runs = []
        for engine in ("env", "fast"):
            with torch.no_grad():
                runs.append(
                    policy.rollout(
                        ENV.reset(batch), ENV, engine=engine, generator=torch.Generator().manual_seed(7), **options
                    )
                )
        reference, fast = runs
        assert torch.equal(reference.actions, fast.actions), options
        assert torch.equal(reference.vehicle_types, fast.vehicle_types)
        assert torch.equal(reference.reward, fast.reward)
        assert torch.equal(reference.complete, fast.complete)
        assert torch.allclose(reference.log_likelihood, fast.log_likelihood)
        assert reference.replicas == fast.replicas


def test_fast_rollouts_train():
    """Gradients flow through the decoder while the compiled engine steps the episodes."""
    batch = to_instances(generate("acvrptw", 2, 8, seed=0))
    policy = RoutingPolicy(model="matrix", dim=32, layers=1, heads=4).train()
    rollout = policy.rollout(ENV.reset(batch), ENV, strategy="sampling", num_starts=4)
    loss = -(rollout.reward.float() * rollout.log_likelihood).mean()
    loss.backward()
    assert policy.decoder.project_state.weight.grad is not None
    assert bool(policy.decoder.project_state.weight.grad.abs().sum() > 0)


def test_one_compiled_kernel_serves_hand_built_and_sampled_instances() -> None:
    # the savings kernel once compiled a second signature for hand-built arrays inside a budget;
    # the rollout kernels take every array through torch and a fixed dtype, so they must not
    import nco
    from envs import fast

    sampled = nco.sample_instance("acvrptw", 20, city="oslo", seed=1)
    read_only = [np.asfortranarray(sampled.distance).astype(np.float32), sampled.demand.astype(np.int32)]
    for array in read_only:
        array.flags.writeable = False
    by_hand = nco.Instance(
        distance=read_only[0], duration=sampled.duration, demand=read_only[1], capacity=sampled.capacity
    )
    for instance in (sampled, by_hand):
        assert nco.solve(instance, method="neural", time_limit=1).feasible
    assert len(fast._refresh.signatures) == 1 and len(fast._advance.signatures) == 1
