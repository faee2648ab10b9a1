"""Policies: encoder/decoder shapes, decoding on every env variant, POMO/augmentation, top-k, neural solver."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import nco
from envs.env import RoutingEnv
from envs.generators import generate, sample_instance, to_instances
from envs.presets import PRESETS
from nco.methods.neural import CHECKPOINT_DIR, checkpoint_for
from nco.policies import RoutingPolicy
from nco.policies.encoders import AttentionEncoder, MatrixEncoder
from nco.training.checkpoint import load_policy, save_policy
from nco_core.errors import UnsupportedFeature

torch.manual_seed(0)


def _random_inputs(batch: int = 3, nodes: int = 9, features: int = 5):
    gen = torch.Generator().manual_seed(1)
    distance = torch.rand(batch, nodes, nodes, generator=gen)
    return torch.randn(batch, nodes, features, generator=gen), torch.rand(batch, nodes, 2, generator=gen), distance


@pytest.mark.parametrize("encoder", [AttentionEncoder, MatrixEncoder])
def test_encoders_embed_every_node(encoder):
    nodes, coords, distance = _random_inputs()
    model = encoder(5, dim=32, layers=2, heads=4).eval()
    out = model(nodes, coords, distance, distance)
    assert out.shape == (3, 9, 32)
    assert torch.isfinite(out).all()
    assert torch.equal(out, model(nodes, coords, distance, distance))  # evaluation is repeatable


def test_matrix_encoder_sees_direction_and_works_without_coordinates():
    nodes, coords, distance = _random_inputs()
    model = MatrixEncoder(5, dim=32, layers=2, heads=4).eval()
    forward = model(nodes, None, distance, distance)
    backward = model(nodes, None, distance.transpose(1, 2), distance.transpose(1, 2))
    assert forward.shape == (3, 9, 32)
    assert not torch.allclose(forward, backward)  # asymmetric matrices change the embeddings
    with pytest.raises(ValueError, match="coordinates"):
        AttentionEncoder(5, dim=32, layers=1, heads=4)(nodes, None, distance, distance)


def test_encoder_sees_every_vehicle_profile():
    from nco.policies.features import FAR, distance_scale, encoder_inputs

    td = RoutingEnv().reset(generate("pvrp", 2, 8, seed=4))
    assert td["distance"].shape[1] == 3
    before = encoder_inputs(td).distance
    td["distance"][:, 2] *= 3  # only the third profile's roads get longer
    assert bool((encoder_inputs(td).distance > before).any())
    single = RoutingEnv().reset(generate("acvrp", 2, 8, seed=4))
    expected = (single["distance"][:, 0] / distance_scale(single)[:, None, None]).clamp(max=FAR).float()
    assert torch.equal(encoder_inputs(single).distance, expected)  # one profile: that profile's matrix


@pytest.mark.parametrize("problem", sorted(PRESETS))
def test_decoded_solutions_are_feasible_and_costed_like_the_evaluator(problem):
    instances = to_instances(generate(problem, 3, 8, seed=3))
    policy = RoutingPolicy(model="matrix", dim=32, layers=1, heads=4).eval()
    env = RoutingEnv()
    with torch.no_grad():
        rollout = policy.rollout(env.reset(instances), env, strategy="greedy")
    assert bool(rollout.complete.all())
    for best in policy.solutions(instances, k=2, samples=2):
        assert best and all(solution.feasible for solution in best)
    from envs.convert import actions_to_routes

    for instance, (routes, types), reward in zip(
        instances, actions_to_routes(rollout.actions, rollout.vehicle_types), rollout.reward, strict=True
    ):
        solution = nco.Solution.of(instance, routes, types)
        assert solution.feasible
        assert solution.cost == pytest.approx(-float(reward), rel=1e-9, abs=1e-9)


def test_pomo_and_augmentation_shapes():
    instances = to_instances(generate("acvrp", 2, 6, seed=0))
    policy = RoutingPolicy(model="am", dim=32, layers=1, heads=4)
    env = RoutingEnv()
    rollout = policy.rollout(env.reset(instances), env, strategy="sampling", num_starts=6, num_augment=8)
    assert rollout.replicas == 48
    assert rollout.actions.shape[0] == 96 and rollout.reward.shape == (96,)
    assert rollout.per_instance(rollout.reward).shape == (2, 48)
    first = rollout.actions[:, 0].view(6, 8, 2)  # [start, augmentation, instance]
    for a in range(8):
        for b in range(2):
            assert sorted(first[:, a, b].tolist()) == [1, 2, 3, 4, 5, 6]  # each start a different customer
    assert rollout.log_likelihood.requires_grad
    matrix_only = [instances[0].replace(coordinates=None)]
    with pytest.raises(ValueError, match="coordinates"):
        policy.rollout(env.reset(matrix_only), env, num_augment=8)


def test_top_k_solutions_are_distinct_and_sorted():
    instances = to_instances(generate("acvrp", 2, 12, seed=5))
    policy = RoutingPolicy(model="matrix", dim=32, layers=1, heads=4)
    for best in policy.solutions(instances, k=6, samples=16):
        assert len(best) == 6
        keys = {tuple(sorted(map(tuple, s.routes))) for s in best}
        assert len(keys) == 6
        costs = [s.cost for s in best]
        assert costs == sorted(costs)


def test_checkpoint_round_trip_and_neural_solver(tmp_path):
    policy = RoutingPolicy(model="matrix", dim=32, layers=1, heads=4)
    path = save_policy(policy, tmp_path / "acvrp8.pt", problem="acvrp")
    payload = torch.load(path, weights_only=True)
    assert payload["hparams"]["model"] == "matrix" and payload["meta"] == {"problem": "acvrp"}
    loaded, _ = load_policy(path)
    for key, value in policy.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])

    instance = to_instances(generate("acvrp", 1, 8, seed=1))[0]
    solution = nco.solve(instance, method="neural", checkpoint=str(path), samples=4, augment=True)
    assert solution.feasible and solution.method == "neural"
    assert solution.info["checkpoint"] == str(path)
    from nco.cli import main

    (tmp_path / "instances").mkdir()
    file = nco.write(instance, tmp_path / "instances" / "instance.json")  # not beside the cards
    assert main(["solve", str(file), "--method", "neural", "--checkpoint", str(path), "--starts", "2", "--json"]) == 0
    two = nco.solve(instance, method="neural", checkpoint=str(path), starts=2)
    everyone = nco.solve(instance, method="neural", checkpoint=str(path))
    assert two.feasible and two.info["starts"] == 2 and everyone.cost <= two.cost  # 8 starts include these 2

    card = {"checkpoint": "acvrp8.pt", "problem": "acvrp", "size": 8, "flags": {"capacity": 1.0}}
    (tmp_path / "acvrp8.json").write_text(json.dumps(card))
    assert checkpoint_for(instance, tmp_path) == str(tmp_path / "acvrp8.pt")
    timed = to_instances(generate("acvrptw", 1, 8, seed=1))[0]
    with pytest.raises(UnsupportedFeature, match="not supported by neural: no checkpoint fits.*acvrp8.pt"):
        checkpoint_for(timed, tmp_path)


SHIPPED_CARDS = sorted((CHECKPOINT_DIR).glob("*.json"))


@pytest.mark.parametrize("card", SHIPPED_CARDS, ids=lambda p: p.stem)
def test_every_shipped_checkpoint_solves_real_city_instances_of_its_variant(card):
    from envs.cities import list_cities

    problem = json.loads(card.read_text())["problem"]
    instance = sample_instance(problem, 40, city=list_cities("test")[0], seed=3)
    solution = nco.solve(instance, method="neural", checkpoint=str(card.with_suffix(".pt")))
    assert solution.feasible and solution.info["checkpoint"] == str(card.with_suffix(".pt"))


def test_shipped_checkpoints_load_and_solve():
    instance = to_instances(generate("acvrp", 1, 20, seed=7))[0]
    try:
        path = checkpoint_for(instance)
    except ValueError:
        pytest.skip("no shipped ACVRP checkpoint")
    solution = nco.solve(instance, method="neural")
    assert solution.feasible and np.isfinite(solution.cost)
    assert solution.info["checkpoint"] == path


def test_large_instances_decode_in_slices_with_the_same_result(monkeypatch):
    """Past the memory bound of one rollout the starts and samples of one instance are decoded in
    slices, which must not change what greedy POMO finds."""
    import nco.policies.policy as policy_module

    instance = to_instances(generate("acvrp", 1, 12, seed=8))
    policy = RoutingPolicy(model="matrix", dim=32, layers=1, heads=4).eval()
    whole = policy.solutions(instance, k=3)[0]
    monkeypatch.setattr(policy_module, "MAX_ROLLOUT_BYTES", policy_module.ROW_BYTES * 13 * 4)  # 4 rows at a time
    sliced = policy.solutions(instance, k=3)[0]
    assert [(s.cost, s.routes) for s in whole] == [(s.cost, s.routes) for s in sliced]  # the same 12 starts, cut in 3
    sampled = policy.solutions(instance, k=8, samples=10)[0]  # 3 + 3 slices
    assert len(sampled) == 8 and all(s.feasible for s in sampled) and sampled[0].cost <= whole[0].cost
