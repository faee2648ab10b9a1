"""Neighbour lists for PyVRP's local search: proximity (PyVRP's own) or learned (arc-scored).

PyVRP's local search only tries moves between a client and the clients of its neighbour list, in
list order, first improvement: what stands first is tried first. ``proximity`` is PyVRP's
``compute_neighbours`` (k nearest by a cost / time-window proximity). ``learned`` re-ranks each
client's ``scorer.candidates`` nearest by the arc scorer of :mod:`nco.policies.arcs`, puts the
``head`` best first and fills the list up to ``k`` in proximity order: the learned ranking decides
what is tried first, proximity still bounds what is tried at all.

Lists are ``(C, k)`` arrays of location ids (clients 1..C) here and PyVRP ``Activity`` dicts for
``LocalSearch`` (client index = location id - 1).
"""

from __future__ import annotations

import json
import time as clock
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyvrp
from pyvrp import Activity, ActivityType
from pyvrp.search import NeighbourhoodParams, compute_neighbours

from solvers.budget import Deadline

__all__ = [
    "KINDS",
    "SCORER_DIR",
    "as_pyvrp",
    "learned",
    "neighbourhood",
    "proximity",
    "ready",
    "recall",
    "scorer_for",
]

KINDS = ("proximity", "learned")
SCORER_DIR = Path(__file__).resolve().parent.parent / "data" / "checkpoints" / "arcs"
# The learned lists' shape when a scorer's card names none (``"lists": {"k": .., "head": ..}``,
# set per variant from benchmarks/neighbours.py)
DEFAULT_K = 20
DEFAULT_HEAD = 10


def proximity(data: pyvrp.ProblemData, params: NeighbourhoodParams, k: int | None = None) -> np.ndarray:
    """PyVRP's proximity lists, ``(C, min(k, C - 1))`` location ids (``k`` defaults to ``params``')."""
    if data.num_depots != 1:
        raise ValueError(f"neighbour lists: one depot expected, got {data.num_depots}")
    k = params.num_neighbours if k is None else k
    lists = compute_neighbours(data, NeighbourhoodParams(params.weight_wait_time, k, params.symmetric_proximity))
    rows = [[a.idx + 1 for a in lists[Activity(ActivityType.CLIENT, c)]] for c in range(data.num_clients)]
    width = min(len(row) for row in rows)
    return np.array([row[:width] for row in rows], dtype=np.int64).reshape(data.num_clients, width)


def as_pyvrp(lists: np.ndarray) -> dict[Activity, list[Activity]]:
    """``(C, k)`` location ids as the neighbourhood ``LocalSearch`` takes."""
    client = ActivityType.CLIENT
    return {
        Activity(client, c): [Activity(client, int(j) - 1) for j in row] for c, row in enumerate(lists)
    }


def learned(
    data: pyvrp.ProblemData,
    params: NeighbourhoodParams,
    scorer: Any,
    k: int | None = None,
    head: int | None = None,
) -> np.ndarray:
    """``(C, k')`` lists: the ``head`` best-scored of each client's candidates, then proximity order.

    ``k`` and ``head`` default to the shipped scorer's ``list_shape`` (its card's ``lists``, chosen
    by benchmarks/neighbours.py per variant), else ``DEFAULT_K`` / ``DEFAULT_HEAD``."""
    shape = getattr(scorer, "list_shape", (DEFAULT_K, DEFAULT_HEAD))
    k, head = k or shape[0], head or shape[1]
    wide = proximity(data, params, max(k, scorer.candidates))
    candidates = wide[:, : scorer.candidates]
    from nco.policies.threads import one_thread  # the scorer is loaded: so are torch and nco.policies

    with one_thread():
        logits = scorer.score(data, candidates)
    order = np.argsort(-logits, axis=1, kind="stable")[:, :head]
    best = np.take_along_axis(candidates, order, axis=1)
    # the rest of the list: proximity order without the ones already placed first
    taken = (wide[:, :, None] == best[:, None, :]).any(axis=2)
    rest = np.where(taken, 0, wide)
    rest = np.take_along_axis(rest, np.argsort(taken, axis=1, kind="stable"), axis=1)
    width = min(k, wide.shape[1])
    return np.concatenate([best, rest], axis=1)[:, :width]


@lru_cache(maxsize=8)
def _load(path: str):
    import torch

    from nco.policies.arcs import NUM_FEATURES, load_scorer
    from nco.policies.threads import one_thread

    scorer = load_scorer(path)
    card = Path(path).with_suffix(".json")
    lists = json.loads(card.read_text()).get("lists", {}) if card.exists() else {}
    scorer.list_shape = (int(lists.get("k", DEFAULT_K)), int(lists.get("head", DEFAULT_HEAD)))
    # torch's first call at a real size sets up kernels and buffers (0.27 s measured at N = 100):
    # part of loading, not of a budget
    with torch.no_grad(), one_thread():
        k = scorer.candidates
        scorer(torch.zeros(1, 100, k, NUM_FEATURES), torch.randint(0, 100, (1, 100, k)))
    return scorer


def scorer_for(problem: str, directory: Path = SCORER_DIR):
    """The shipped arc scorer for ``problem`` (``acvrp``, ``acvrptw``, ...), loaded once per process."""
    path = directory / f"{problem}.pt"
    if not path.exists():
        shipped = sorted(p.stem for p in directory.glob("*.pt")) if directory.exists() else []
        raise FileNotFoundError(f"no arc scorer for {problem!r} in {directory} (shipped: {shipped or 'none'}); "
                                "train one with `nco train --algorithm arcs`")
    return _load(str(path))


def ready(kind: Any, features: dict[str, Any], deadline: Deadline) -> tuple[Any, Deadline]:
    """The scorer ``kind`` needs (``None`` unless ``"learned"``), loaded once per process, and the
    deadline with that one-time load left out: loading is not charged to budgets, inference is
    (as the hybrid does for its policy)."""
    if not (isinstance(kind, str) and kind == "learned"):
        return None, deadline
    began = deadline.elapsed()
    scorer = scorer_for(problem_of(features))
    return scorer, Deadline(deadline.start + deadline.elapsed() - began, deadline.seconds)


def problem_of(features: dict[str, Any]) -> str:
    """Which shipped scorer fits an instance: the time-window one when it has windows."""
    return "acvrptw" if features.get("time_windows") else "acvrp"


def neighbourhood(
    kind: str | np.ndarray,
    data: pyvrp.ProblemData,
    params: NeighbourhoodParams,
    features: dict[str, Any],
    scorer: Any = None,
) -> tuple[dict[Activity, list[Activity]], dict[str, Any]]:
    """The neighbourhood of ``kind`` for ``LocalSearch`` and what to report (kind, k, time).

    ``kind`` is ``"proximity"`` (exactly PyVRP's default), ``"learned"``, or a ``(C, k)`` array of
    location ids given by the caller (an experiment's own lists, e.g. the oracle benchmark's).
    """
    started = clock.perf_counter()
    if isinstance(kind, np.ndarray):
        if kind.ndim != 2 or kind.shape[0] != data.num_clients:
            raise ValueError(f"neighbours: expected a ({data.num_clients}, k) array of client ids, got shape {kind.shape}")
        if kind.min() < 1 or kind.max() > data.num_clients or (kind == np.arange(1, data.num_clients + 1)[:, None]).any():
            raise ValueError("neighbours: entries must be client ids 1..C and never the client itself")
        lists, note = as_pyvrp(kind), {"neighbours": "given", "neighbours_k": int(kind.shape[1])}
    elif kind == "proximity":
        lists = compute_neighbours(data, params)
        note = {"neighbours": "proximity", "neighbours_k": max(map(len, lists.values()), default=0)}
    elif kind == "learned":
        scorer = scorer if scorer is not None else scorer_for(problem_of(features))
        ranked = learned(data, params, scorer)
        lists = as_pyvrp(ranked)
        head = getattr(scorer, "list_shape", (DEFAULT_K, DEFAULT_HEAD))[1]
        note = {"neighbours": "learned", "neighbours_k": int(ranked.shape[1]), "neighbours_head": head}
    else:
        raise ValueError(f"unknown neighbours {kind!r}; choose one of {list(KINDS)}")
    note["neighbours_time"] = clock.perf_counter() - started
    return lists, note


def recall(lists: np.ndarray, routes: list[list[int]], top: int, successor_only: bool = False) -> float:
    """Share of solution arcs between clients found in the first ``top`` entries of the lists.

    For client i the arcs are (i, successor) and, unless ``successor_only``, (i, predecessor);
    arcs to or from the depot are not in any list and are not counted.
    """
    found = total = 0
    heads = lists[:, :top]
    for route in routes:
        for position, client in enumerate(route):
            wanted = [route[position + 1]] if position + 1 < len(route) else []
            if not successor_only and position > 0:
                wanted.append(route[position - 1])
            total += len(wanted)
            found += sum(int(j in heads[client - 1]) for j in wanted)
    return found / total if total else float("nan")
