"""Neighbour lists for PyVRP's local search: proximity (PyVRP's own), given, or ranked by a scorer.

PyVRP's local search only tries moves between a client and the clients of its neighbour list, in
list order, first improvement: what stands first is tried first. ``proximity`` is PyVRP's
``compute_neighbours`` (k nearest by a cost / time-window proximity). :func:`learned` re-ranks
each client's ``scorer.candidates`` nearest by a :class:`Scorer`, puts the ``head`` best first
and fills the list up to ``k`` in proximity order: the ranking decides what is tried first,
proximity still bounds what is tried at all. The shipped arc scorers, and ``neighbours="learned"``,
live in the method layer (:mod:`nco.methods.neighbours`): this module knows only the protocol.

Lists are ``(C, k)`` arrays of location ids (clients 1..C) here and PyVRP ``Activity`` dicts for
``LocalSearch`` (client index = location id - 1).
"""

from __future__ import annotations

import time as clock
from typing import Any, Protocol

import numpy as np
import pyvrp
from pyvrp import Activity, ActivityType
from pyvrp.search import NeighbourhoodParams, compute_neighbours

__all__ = [
    "Neighbours",
    "Provider",
    "Scorer",
    "as_pyvrp",
    "learned",
    "neighbourhood",
    "proximity",
    "recall",
]


class Scorer(Protocol):
    """Scores each client's ``candidates`` nearest clients (higher: try first)."""

    @property
    def candidates(self) -> int: ...

    def score(self, data: pyvrp.ProblemData, candidates: np.ndarray) -> np.ndarray: ...


class Provider(Protocol):
    """Neighbour lists computed at solve time: ``(C, k)`` location ids and what to report in
    ``info`` (its ``"neighbours"`` kind, ``"neighbours_k"``, ...); e.g. a learned ranking."""

    def __call__(self, data: pyvrp.ProblemData, params: NeighbourhoodParams) -> tuple[np.ndarray, dict[str, Any]]: ...


# What the PyVRP backend's ``neighbours`` option takes
Neighbours = str | np.ndarray | Provider


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
    return {Activity(client, c): [Activity(client, int(j) - 1) for j in row] for c, row in enumerate(lists)}


def learned(data: pyvrp.ProblemData, params: NeighbourhoodParams, scorer: Scorer, k: int, head: int) -> np.ndarray:
    """``(C, k')`` lists: the ``head`` best-scored of each client's candidates, then proximity order."""
    wide = proximity(data, params, max(k, scorer.candidates))
    candidates = wide[:, : scorer.candidates]
    order = np.argsort(-scorer.score(data, candidates), axis=1, kind="stable")[:, :head]
    best = np.take_along_axis(candidates, order, axis=1)
    # the rest of the list: proximity order without the ones already placed first
    taken = (wide[:, :, None] == best[:, None, :]).any(axis=2)
    rest = np.where(taken, 0, wide)
    rest = np.take_along_axis(rest, np.argsort(taken, axis=1, kind="stable"), axis=1)
    width = min(k, wide.shape[1])
    return np.concatenate([best, rest], axis=1)[:, :width]


def neighbourhood(
    kind: Neighbours, data: pyvrp.ProblemData, params: NeighbourhoodParams
) -> tuple[dict[Activity, list[Activity]], dict[str, Any]]:
    """The neighbourhood of ``kind`` for ``LocalSearch`` and what to report (kind, k, time).

    ``kind`` is ``"proximity"`` (exactly PyVRP's default), a ``(C, k)`` array of location ids
    given by the caller (an experiment's own lists, e.g. the oracle benchmark's), or a
    :class:`Provider` computing them (its time is charged to the budget and reported).
    """
    started = clock.perf_counter()
    if isinstance(kind, str):
        if kind != "proximity":
            raise ValueError(
                f"pyvrp solver: unknown neighbours {kind!r}; the backend takes 'proximity', a (C, k) "
                "array or a provider ('learned' is nco.solve's: nco.methods.neighbours)"
            )
        lists = compute_neighbours(data, params)
        note: dict[str, object] = {"neighbours": "proximity", "neighbours_k": max(map(len, lists.values()), default=0)}
    else:
        if isinstance(kind, np.ndarray):
            given, note = kind, {"neighbours": "given"}
        else:
            given, note = kind(data, params)
        _check(given, data.num_clients)
        lists = as_pyvrp(given)
        note = {"neighbours_k": int(given.shape[1]), **note}
    note["neighbours_time"] = clock.perf_counter() - started
    return lists, note


def _check(lists: np.ndarray, clients: int) -> None:
    if lists.ndim != 2 or lists.shape[0] != clients:
        raise ValueError(f"neighbours: expected a ({clients}, k) array of client ids, got shape {lists.shape}")
    if lists.min() < 1 or lists.max() > clients or (lists == np.arange(1, clients + 1)[:, None]).any():
        raise ValueError("neighbours: entries must be client ids 1..C and never the client itself")


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
