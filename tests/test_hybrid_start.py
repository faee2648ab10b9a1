"""The hybrid's guided savings start: used when asked (or when no rollout fits), refused by name
where the construction does not model the instance, and always scored by the evaluator."""

from __future__ import annotations

import pytest

import nco
from nco.methods import savings_start


@pytest.mark.parametrize("problem", ["acvrp", "acvrptw"])
def test_savings_start_seeds_the_refiner(problem: str) -> None:
    instance = nco.sample_instance(problem, 60, city="oslo", seed=2)
    solution = nco.solve(instance, method="hybrid", time_limit=0.3, start="savings")
    assert solution.feasible
    assert solution.info["start"] == "savings" and "used the guided savings start" in solution.info["neural"]
    start = savings_start.guided_savings(instance)
    assert start.feasible and solution.cost <= start.cost + 1e-9  # never worse than its own start
    assert solution.info["neural_cost"] == pytest.approx(start.cost)
    # the learned lists take the start's arc scores instead of scoring the same arcs again
    assert solution.info["neighbours"] == "learned" and solution.info["neighbours_scores"] == "reused"


def test_policy_only_start_runs_the_refiner_alone_when_no_rollout_fits() -> None:
    instance = nco.sample_instance("acvrp", 100, city="oslo", seed=2)
    solution = nco.solve(instance, method="hybrid", time_limit=0.01, start="policy")
    assert solution.info["start"] == "none" and "guided" not in solution.info["neural"]


def test_the_start_is_refused_by_name_where_it_does_not_model_the_instance() -> None:
    tsp = nco.sample_instance("atsp", 30, city="oslo", seed=2)
    assert "no capacity" in savings_start.applicable(tsp)
    solution = nco.solve(tsp, method="hybrid", time_limit=0.2, start="savings")
    assert solution.feasible and solution.info["start"] == "none"
    assert "no guided savings start (no capacity" in solution.info["neural"]
    backhauls = nco.sample_instance("vrpb", 30, city="oslo", seed=2)
    assert "does not model backhaul" in savings_start.applicable(backhauls)
    with pytest.raises(ValueError, match="unknown start"):
        nco.solve(tsp, method="hybrid", time_limit=0.2, start="heatmap")


def test_learned_lists_give_way_to_proximity_when_scoring_would_eat_the_budget() -> None:
    instance = nco.sample_instance("acvrptw", 100, city="oslo", seed=3)
    tight = nco.solve(instance, method="pyvrp", time_limit=0.01, neighbours="learned")
    assert tight.info["neighbours"] == "proximity" and "learned lists skipped" in tight.info["neighbours_skipped"]
    roomy = nco.solve(instance, method="pyvrp", time_limit=0.5, neighbours="learned")
    assert roomy.info["neighbours"] == "learned" and "neighbours_skipped" not in roomy.info


def test_auto_neighbours_are_learned_from_learned_from_seconds_on_scored_variants() -> None:
    from nco.methods.hybrid import LEARNED_FROM

    cvrp = nco.sample_instance("acvrp", 60, city="oslo", seed=4)
    assert nco.solve(cvrp, method="hybrid", time_limit=LEARNED_FROM / 2).info["neighbours"] == "proximity"
    assert nco.solve(cvrp, method="hybrid", time_limit=0.3).info["neighbours"] == "learned"
    assert nco.solve(cvrp, method="hybrid", time_limit=0.3, neighbours="proximity").info["neighbours"] == "proximity"
    tsp = nco.sample_instance("atsp", 30, city="oslo", seed=4)  # no arc scorer was trained on it
    assert nco.solve(tsp, method="hybrid", time_limit=0.3).info["neighbours"] == "proximity"
    with_ga = nco.solve(cvrp, method="hybrid", time_limit=0.3, refiner="ga")
    assert with_ga.feasible and "learned" not in str(with_ga.info["neighbours"])


def test_the_genetic_refiner_searches_learned_lists_when_asked() -> None:
    cvrp = nco.sample_instance("acvrp", 60, city="oslo", seed=4)
    solution = nco.solve(cvrp, method="hybrid", time_limit=0.5, refiner="ga", neighbours="learned")
    assert solution.feasible and solution.info["neighbours"] == "learned"
    assert solution.info["neighbours_k"] > 0 and solution.info["neighbours_time"] > 0


def test_learned_parts_give_way_to_pyvrp_alone_when_it_has_time_to_converge() -> None:
    from nco.methods.hybrid import LEARNED_UNTIL

    instance = nco.sample_instance("acvrp", 20, city="oslo", seed=5)
    roomy = LEARNED_UNTIL * instance.num_customers * 1.2
    alone = nco.solve(instance, method="hybrid", time_limit=roomy)
    assert alone.info["start"] == "none" and alone.info["neighbours"] == "proximity"
    assert "LEARNED_UNTIL" in alone.info["neural"]
    assert alone.cost == nco.solve(instance, method="pyvrp", time_limit=roomy).cost  # PyVRP alone, same seed
    asked = nco.solve(instance, method="hybrid", time_limit=roomy, start="policy", neighbours="learned")
    assert asked.info["start"] == "policy" and asked.info["neighbours"] == "learned"


def test_the_policy_start_is_left_out_far_beyond_the_size_it_was_trained_on() -> None:
    from nco.methods.hybrid import POLICY_REACH

    large = nco.sample_instance("acvrp", int(POLICY_REACH * 100) + 10, city="oslo", seed=6)  # acvrp100's policy
    solution = nco.solve(large, method="hybrid", time_limit=0.5)
    assert solution.feasible and solution.info["start"] == "savings" and "POLICY_REACH" in solution.info["neural"]
    asked = nco.solve(large, method="hybrid", time_limit=0.5, start="policy")
    assert asked.info["start"] == "policy"
