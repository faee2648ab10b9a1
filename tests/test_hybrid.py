"""Hybrid solving: neural candidates seed every refiner inside one budget; never worse than neural."""

from __future__ import annotations

import pytest
import torch

import nco
from envs.generators import sample_instance
from nco.methods.hybrid import NEURAL_SHARE, REFINERS
from nco.methods.neural import candidates
from nco.policies import RoutingPolicy
from nco.training.checkpoint import save_policy
from nco_core.errors import UnsupportedFeature


@pytest.fixture(scope="module")
def untrained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real policy with random weights: its solutions are poor, which is what refiners are for."""
    torch.manual_seed(0)
    policy = RoutingPolicy(model="matrix", dim=32, layers=1, heads=4)
    return str(save_policy(policy, tmp_path_factory.mktemp("ckpt") / "random.pt", problem="any"))


@pytest.mark.parametrize("refiner", REFINERS)
def test_every_refiner_improves_on_the_neural_start_within_the_budget(refiner: str, untrained_checkpoint: str) -> None:
    instance = sample_instance("acvrptw", 20, seed=4)
    neural = candidates(instance, 16, checkpoint=untrained_checkpoint, starts=16)[0]  # what the hybrid decodes
    budget = 1.0
    solution = nco.solve(
        instance, method="hybrid", refiner=refiner, time_limit=budget, checkpoint=untrained_checkpoint, start="policy"
    )
    assert solution.feasible and solution.method == f"hybrid-{refiner}"
    assert sorted(n for route in solution.routes for n in route) == list(range(1, instance.num_customers + 1))
    assert solution.cost <= neural.cost + 1e-9
    info = solution.info
    assert info["neural_time"] > 0 and info["neural_time"] + info["refine_time"] <= solution.runtime + 1e-6
    assert solution.runtime < budget + 0.5  # model building may overshoot a little, never by much
    assert info["neural_cost"] == pytest.approx(neural.cost)


def test_unsupported_refiner_falls_back_to_the_neural_solution(untrained_checkpoint: str) -> None:
    instance = sample_instance("vrpb", 12, seed=1)  # strict linehaul-before-backhaul: VROOM cannot
    assert instance.features()["strict_backhaul"]
    solution = nco.solve(instance, method="hybrid", refiner="vroom", time_limit=0.5, checkpoint=untrained_checkpoint)
    assert solution.feasible
    assert "fallback to the neural solution: not supported by vroom: strict_backhaul" in solution.info["refine"]
    assert solution.cost == pytest.approx(solution.info["neural_cost"])


def test_a_budget_too_small_for_one_rollout_leaves_the_refiner_alone(untrained_checkpoint: str) -> None:
    instance = sample_instance("acvrp", 15, seed=2)
    solution = nco.solve(instance, method="hybrid", time_limit=1e-4, checkpoint=untrained_checkpoint)
    assert solution.feasible
    assert solution.info["neural"].startswith("skipped: not even one rollout fits")
    assert solution.info["starts"] == 0 and solution.info["refine"].startswith("pyvrp")


def test_neural_share_of_the_budget_sizes_the_starts(untrained_checkpoint: str) -> None:
    """The neural step is sized by the policy's own prediction to a fixed share of the budget."""
    from nco.methods.neural import plan

    instance = sample_instance("acvrp", 20, seed=6)
    solution = nco.solve(instance, method="hybrid", time_limit=0.4, starts=64, checkpoint=untrained_checkpoint)
    fits = plan(instance, NEURAL_SHARE * 0.4, checkpoint=untrained_checkpoint)
    assert 1 <= solution.info["starts"] <= min(fits + 1, instance.num_customers)
    assert solution.info["neural_time"] <= NEURAL_SHARE * 0.4 * 1.5 + 0.05


def test_unknown_refiner_is_rejected(untrained_checkpoint: str) -> None:
    instance = sample_instance("acvrp", 5, seed=0)
    with pytest.raises(ValueError, match="unknown refiner 'lkh'"):
        nco.solve(instance, method="hybrid", refiner="lkh", checkpoint=untrained_checkpoint)


@pytest.mark.parametrize("refiner", ["pyvrp", "ga"])
def test_variant_without_a_shipped_policy_is_refined_from_scratch(refiner: str) -> None:
    instance = sample_instance("ovrp", 15, seed=5)  # open routes: no shipped checkpoint covers them
    solution = nco.solve(instance, method="hybrid", refiner=refiner, time_limit=0.5, start="policy")
    assert solution.feasible
    assert solution.info["neural_candidates"] == 0 and solution.info["checkpoint"] == ""
    assert solution.info["neural"].startswith("skipped: no neural start (not supported by neural: no checkpoint fits")


def test_hybrid_reports_what_neither_part_can_model() -> None:
    instance = sample_instance("vrpb", 10, seed=3)  # strict backhaul: no shipped policy, and VROOM cannot
    with pytest.raises(
        UnsupportedFeature, match="not supported by hybrid: skipped: no neural start.*not supported by vroom"
    ):
        nco.solve(instance, method="hybrid", refiner="vroom", time_limit=0.3)
