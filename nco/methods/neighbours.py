"""``neighbours="learned"``: PyVRP's local search on neighbour lists ranked by a shipped arc scorer.

The PyVRP backend (:mod:`solvers.pyvrp_solver`) takes neighbour lists as data: proximity, a
``(C, k)`` array or a provider computing them. This module is the method layer's ``pyvrp``: the
same backend, where ``neighbours="learned"`` resolves to a provider ranking the lists with the
arc scorer of :mod:`nco.policies.arcs` shipped for the instance's variant. Loading the scorer is a
one-time cost per process paid by :meth:`PyVRPMethod.prepare`, before the clock starts; its
inference is charged to the budget (and reported as ``info["neighbours_time"]``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyvrp
from pyvrp.search import NeighbourhoodParams

from envs.generators import sample_instance
from nco_core.instance import Instance
from nco_core.paths import shipped_data
from nco_core.solution import Solution
from solvers.neighbours import learned
from solvers.pyvrp_solver import PyVRP, PyVRPOptions, build_data, solver_params
from solvers.scaling import integer_data
from solvers.stop import Budget

if TYPE_CHECKING:
    from nco.policies.arcs import ArcScorer

__all__ = [
    "DEFAULT_HEAD",
    "DEFAULT_K",
    "SCORER_DIR",
    "SOLVER",
    "Learned",
    "PyVRPMethod",
    "PyVRPMethodOptions",
    "calibration_sample",
    "problem_of",
    "resolve",
    "scorer_for",
    "seconds_per_arc",
]

SCORER_DIR = shipped_data("checkpoints", "arcs")
# The learned lists' shape when a scorer's card names none (``"lists": {"k": .., "head": ..}``,
# set per variant from benchmarks/neighbours.py)
DEFAULT_K = 20
# The most of the remaining budget the learned lists may take; above it PyVRP's own lists are used
# (at 0.02 s they took 14 of 20 ms on ACVRPTW100 and left the search nothing: +17 pp,
# benchmarks/results/hybrid_starts-acvrptw100.md before this rule)
LEARNED_SHARE = 0.25
DEFAULT_HEAD = 10


@lru_cache(maxsize=8)
def _load(path: str) -> ArcScorer:
    # torch and the scorer load with the first learned list: plain PyVRP never pays for them
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


def scorer_for(problem: str, directory: Path = SCORER_DIR) -> ArcScorer:
    """The shipped arc scorer for ``problem`` (``acvrp``, ``acvrptw``, ...), loaded once per process."""
    path = directory / f"{problem}.pt"
    if not path.exists():
        shipped = sorted(p.stem for p in directory.glob("*.pt")) if directory.exists() else []
        raise FileNotFoundError(
            f"no arc scorer for {problem!r} in {directory} (shipped: {shipped or 'none'}); "
            "train one with `nco train --algorithm arcs`"
        )
    return _load(str(path))


def problem_of(features: dict[str, Any]) -> str:
    """Which shipped scorer fits an instance: the time-window one when it has windows, the
    capacitated one with a capacity, else the (asymmetric) TSP one."""
    if features.get("time_windows"):
        return "acvrptw"
    return "acvrp" if features.get("capacity") else "atsp"


@dataclass(frozen=True)
class Learned:
    """A neighbour-list provider (:class:`solvers.neighbours.Provider`): ``scorer``'s ranking,
    in its card's list shape (``k`` entries, the ``head`` best-scored first). ``known`` holds
    logits already computed for one instance's candidate arcs (``(heads, logits)``, by the
    hybrid's guided start): the same arcs are then not scored twice within one budget."""

    scorer: ArcScorer
    known: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, data: pyvrp.ProblemData, params: NeighbourhoodParams) -> tuple[np.ndarray, dict[str, Any]]:
        from nco.policies.threads import one_thread  # loaded with the scorer

        k, head = getattr(self.scorer, "list_shape", (DEFAULT_K, DEFAULT_HEAD))
        scorer = _Known(self.scorer, *self.known) if self.known is not None else self.scorer
        with one_thread():
            lists = learned(data, params, scorer, k=k, head=head)
        scores = "reused" if isinstance(scorer, _Known) and scorer.reused else "scored"
        return lists, {"neighbours": "learned", "neighbours_head": head, "neighbours_scores": scores}


@dataclass(eq=False)
class _Known:
    """A scorer that answers from known logits when asked for exactly the arcs they score."""

    scorer: ArcScorer
    heads: np.ndarray
    logits: np.ndarray
    reused: bool = False

    @property
    def candidates(self) -> int:
        return self.scorer.candidates

    def score(self, data: pyvrp.ProblemData, candidates: np.ndarray) -> np.ndarray:
        if candidates.shape == self.heads.shape and np.array_equal(candidates, self.heads):
            self.reused = True
            return self.logits
        return self.scorer.score(data, candidates)


class PyVRPMethodOptions(PyVRPOptions):
    """The backend's options; ``neighbours`` may also be ``"learned"``."""

    KINDS = ("proximity", "learned")


class PyVRPMethod(PyVRP):
    """``method="pyvrp"`` as ``nco.solve`` offers it: the backend, plus ``neighbours="learned"``."""

    options_type = PyVRPMethodOptions

    def prepare(self, instance: Instance, options: PyVRPOptions) -> None:
        if _is_learned(options.neighbours):
            _calibrated(problem_of(instance.features()))

    def solve(
        self, instance: Instance, options: PyVRPOptions, *, budget: Budget, seed: int, initial: Solution | None = None
    ) -> Solution:
        skipped = ""
        if _is_learned(options.neighbours):
            budget, lists, skipped = resolve(instance, budget)
            options = dataclasses.replace(options, neighbours=lists)
        solution = super().solve(instance, options, budget=budget, seed=seed, initial=initial)
        if skipped:
            solution.info["neighbours_skipped"] = skipped
        return solution


def resolve(instance: Instance, budget: Budget) -> tuple[Budget, Learned | str, str]:
    """``neighbours="learned"`` for a search on ``instance`` within ``budget``: the scorer's
    provider, or ``"proximity"`` when scoring is predicted to take more than ``LEARNED_SHARE`` of
    what is left (then also why, for ``info["neighbours_skipped"]``). A first load and calibration
    of the scorer is left out of the returned budget; its later inference is charged."""
    problem = problem_of(instance.features())
    began = budget.deadline.elapsed()
    per_arc = _calibrated(problem)  # loaded and timed by prepare, or now: not charged
    deadline = budget.deadline
    budget = budget.within(dataclasses.replace(deadline, start=deadline.start + deadline.elapsed() - began))
    scorer = scorer_for(problem)
    predicted = per_arc * instance.num_customers * scorer.candidates
    share = LEARNED_SHARE * budget.deadline.remaining()
    if predicted <= share:
        return budget, Learned(scorer), ""
    # scoring would eat the search's time: PyVRP's own lists instead, and say so
    why = f"learned lists skipped: predicted {predicted:.4f} s > {share:.4f} s ({LEARNED_SHARE:.0%} of what is left)"
    return budget, "proximity", why


def calibration_sample(problem: str) -> Instance:
    """The instance a learned step of ``problem`` is timed on, once per process (N = 100, seed 0)."""
    return sample_instance(problem, 100, seed=0)


def seconds_per_arc(problem: str, sample: Instance, run: Callable[[], object]) -> float:
    """Best of three wall times of ``run`` (a learned step on ``sample``), per arc ``problem``'s
    scorer scores on it: what predicts that step's cost on an instance of any size."""
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best / (sample.num_customers * scorer_for(problem).candidates)


@lru_cache(maxsize=8)
def _calibrated(problem: str) -> float:
    """Seconds per scored arc of ``problem``'s learned lists on this process."""
    scorer = scorer_for(problem)
    sample = calibration_sample(problem)
    scaled = integer_data(sample)
    data, params = build_data(sample, scaled), solver_params(scaled).neighbourhood
    return seconds_per_arc(problem, sample, lambda: Learned(scorer)(data, params))


def _is_learned(neighbours: object) -> bool:
    return isinstance(neighbours, str) and neighbours == "learned"


SOLVER = PyVRPMethod()
