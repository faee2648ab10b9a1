"""Learned neighbourhoods for PyVRP's local search: valid lists, feasible solves, training that learns."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import nco
from nco.cli import main
from nco.methods.neighbours import DEFAULT_HEAD, DEFAULT_K, SCORER_DIR
from nco.policies.arcs import NUM_FEATURES, ArcScorer, arc_features, load_scorer
from nco.training.arcs import ArcsConfig, examples, train_arcs
from solvers.neighbours import as_pyvrp, learned, neighbourhood, proximity, recall
from solvers.pyvrp_solver import build_data, solver_params
from solvers.scaling import integer_data


def model(instance):
    scaled = integer_data(instance)
    return build_data(instance, scaled), solver_params(scaled).neighbourhood


@pytest.fixture(scope="module")
def labelled():
    """PyVRP solutions of train-city instances (never a test city)."""
    pairs = []
    for seed, city in enumerate(["paris", "munich", "prague", "helsinki", "porto", "milan"]):
        instance = nco.sample_instance("acvrp", 30, city=city, seed=seed)
        # an iteration bound, not a time limit, so the labels do not depend on the machine's load
        solution = nco.solve(instance, method="pyvrp", stop=nco.MaxIterations(300), time_limit=10, seed=0)
        assert solution.feasible
        pairs.append((instance, solution.routes))
    return pairs


def test_proximity_lists_are_pyvrps_own():
    data, params = model(nco.sample_instance("acvrptw", 40, city="oslo", seed=3))
    lists = proximity(data, params, 12)
    pyvrp_lists, note = neighbourhood("proximity", data, params)
    assert lists.shape == (40, 12)
    assert as_pyvrp(lists) == {key: value[:12] for key, value in pyvrp_lists.items()}
    assert note["neighbours"] == "proximity" and note["neighbours_k"] == 39  # at most C - 1 neighbours


@pytest.mark.parametrize("k, head", [(50, 10), (20, 10), (8, 8)])
def test_learned_lists_are_a_valid_pyvrp_neighbourhood(k, head):
    instance = nco.sample_instance("acvrptw", 60, city="boston", seed=1)
    data, params = model(instance)
    torch.manual_seed(0)
    scorer = ArcScorer(candidates=16).eval()
    lists = learned(data, params, scorer, k=k, head=head)
    clients = np.arange(1, 61)
    assert lists.shape == (60, min(k, 59))
    assert lists.min() >= 1 and lists.max() <= 60  # clients only, never the depot
    assert not (lists == clients[:, None]).any()  # never the client itself
    assert all(len(set(row)) == len(row) for row in lists.tolist())  # no duplicates
    # the head is the scorer's ranking of the candidates, the rest proximity order
    candidates = proximity(data, params, 16)
    logits = scorer.score(data, candidates)
    first = np.take_along_axis(candidates, np.argsort(-logits, axis=1, kind="stable"), axis=1)[:, :head]
    assert np.array_equal(lists[:, :head], first)
    assert set(as_pyvrp(lists)) == set(neighbourhood("proximity", data, params)[0])


def test_arc_features_are_finite_and_scale_free():
    instance = nco.sample_instance("acvrptw", 50, city="krems", seed=2)
    data, params = model(instance)
    candidates = proximity(data, params, 10)
    features = arc_features(data, candidates)
    assert features.shape == (50, 10, NUM_FEATURES) and np.isfinite(features).all()
    scaled = instance.replace(distance=instance.distance * 1000.0)
    data_scaled, _ = model(scaled)
    assert np.allclose(arc_features(data_scaled, candidates)[..., :2], features[..., :2], atol=1e-3)


def test_recall_counts_predecessor_and_successor_arcs():
    lists = np.array([[2, 3], [3, 1], [1, 2]])
    routes = [[1, 2, 3]]  # arcs 1->2, 2->3 (depot arcs are not in lists)
    assert recall(lists, routes, 1, successor_only=True) == 1.0  # 1: 2 first; 2: 3 first
    assert recall(lists, routes, 1) == 0.5  # 2's predecessor 1 is second, 3's predecessor 2 is second
    assert recall(lists, routes, 2) == 1.0


def test_given_lists_are_checked():
    data, params = model(nco.sample_instance("acvrp", 10, city="oslo", seed=0))
    with pytest.raises(ValueError, match="never the client itself"):
        neighbourhood(np.tile(np.arange(1, 11)[:, None], (1, 3)), data, params)
    with pytest.raises(ValueError, match="shape"):
        neighbourhood(np.ones((3, 3), dtype=np.int64), data, params)
    with pytest.raises(ValueError, match="unknown neighbours"):
        neighbourhood("nearest", data, params)


def test_training_lowers_the_loss_and_raises_recall(labelled, tmp_path):
    torch.manual_seed(0)
    scorer, card = train_arcs(
        ArcsConfig(out=str(tmp_path / "arcs.pt"), epochs=20, candidates=12, lr=5e-3, val_fraction=0.34), labelled
    )
    start, best = card["history"][0], card["best"]
    assert best["loss"] < 0.9 * start["loss"]
    assert best["recall@5"] > start["recall@5"] + 0.1
    # the learned list recalls the labels at least about as well as PyVRP's proximity list
    assert best["recall@10"] >= card["proximity"]["recall@10"] - 0.05
    loaded = load_scorer(tmp_path / "arcs.pt")
    item = examples(labelled[:1], 12)[0]
    assert torch.equal(loaded(item.features[None], item.heads[None]), scorer(item.features[None], item.heads[None]))
    assert json.loads((tmp_path / "arcs.json").read_text())["best"] == best


def test_nco_train_arcs_from_label_shards(tmp_path):
    labels = tmp_path / "labels"
    args = ["data", "label", "--problem", "acvrp", "--size", "20", "--num-instances", "6", "--time-limit", "0.1",
            "--shard-size", "3", "--no-progress", "--out", str(labels)]  # fmt: skip
    assert main(args) == 0
    assert (
        main(["train", "--algorithm", "arcs", "--labels", str(labels), "--epochs", "2", "--out", str(tmp_path / "run")])
        == 0
    )
    card = json.loads((tmp_path / "run" / "arcs.json").read_text())
    assert card["problems"] == ["acvrp"] and card["sizes"] == [20] and card["train_instances"] == 5
    assert load_scorer(tmp_path / "run" / "arcs.pt").candidates == card["candidates"]


@pytest.mark.parametrize("problem, city", [("acvrp", "boston"), ("acvrptw", "oslo"), ("atsp", "krems")])
def test_solving_with_learned_neighbours_is_feasible_and_reported(problem, city):
    assert (SCORER_DIR / f"{problem}.pt").exists(), f"no shipped arc scorer for {problem}"
    instance = nco.sample_instance(problem, 100, city=city, seed=1000)
    solution = nco.solve(instance, method="pyvrp", time_limit=0.3, seed=0, neighbours="learned")
    assert solution.feasible, solution.violations
    shape = json.loads((SCORER_DIR / f"{problem}.json").read_text()).get(
        "lists", {"k": DEFAULT_K, "head": DEFAULT_HEAD}
    )
    assert solution.info["neighbours"] == "learned"
    assert (solution.info["neighbours_k"], solution.info["neighbours_head"]) == (shape["k"], shape["head"])
    assert 0 < solution.info["neighbours_time"] < 0.3
    again = nco.evaluate(instance, solution.routes, solution.vehicle_types)
    assert again.feasible and again.cost == pytest.approx(solution.cost)
    default = nco.solve(instance, method="pyvrp", time_limit=0.1, seed=0)
    assert default.info["neighbours"] == "proximity"


def test_hybrid_refines_with_learned_neighbours():
    instance = nco.sample_instance("acvrp", 50, city="krems", seed=1000)
    solution = nco.solve(instance, method="hybrid", time_limit=0.5, seed=0, neighbours="learned")
    assert solution.feasible, solution.violations
    assert solution.info["neighbours"] == "learned" and solution.info["neighbours_time"] > 0
    with pytest.raises(ValueError, match="needs refiner='pyvrp'"):
        nco.solve(instance, method="hybrid", refiner="ortools", time_limit=0.2, neighbours="learned")
