"""``method="neural"``: construct solutions with a trained attention policy.

Without ``checkpoint``, the shipped checkpoint is chosen from the cards in ``data/checkpoints``:
its training variant must match the instance's variant flags, and among those the nearest
training size wins. Decoding is greedy from ``starts`` POMO starts plus ``samples`` sampled
rollouts (the one meaning of ``samples`` here and in ``hybrid``), each on 8 symmetric copies with
``augment``; the evaluator's best solution is returned.

Budgets: unless the caller fixes ``starts``, the number of starts is sized to what is left of
the runtime bound after the ``samples`` by a cost model of decoding (:func:`plan`), calibrated
once per process and checkpoint by :func:`warmup` (with loading the checkpoint and compiling the
env kernel: the one-time costs no budget pays) and corrected by every decode it times
afterwards, so a loaded machine plans fewer starts. When not even one rollout fits, one is
decoded all the same and ``info["budget_exceeded"]`` says so. The method decodes one batch: its
one iteration, so ``MaxIterations`` and ``NoImprovement`` never cut it short (:mod:`solvers.stop`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from nco.policies.threads import one_thread
from nco_core import features as feature_table
from nco_core.errors import UnsupportedFeature
from nco_core.instance import Instance
from nco_core.paths import shipped_data
from nco_core.solution import Solution
from solvers.base import Options, Solver
from solvers.budget import finish_reserve
from solvers.stop import Budget

__all__ = [
    "CHECKPOINT_DIR",
    "SOLVER",
    "Neural",
    "NeuralOptions",
    "candidates",
    "checkpoint_for",
    "load",
    "plan",
    "shipped_size",
    "predicted_seconds",
    "warmup",
]

CHECKPOINT_DIR = shipped_data("checkpoints")

PLANNED_SHARE = 0.9  # of the remaining budget planned for decoding: the cost model's error margin


def _cards(directory: Path) -> list[dict[str, Any]]:
    """The cards in ``directory``, parsed once per version of the files (every hybrid call asks,
    inside its budget)."""
    paths = sorted(directory.glob("*.json"))
    return _parsed_cards(tuple((str(path), path.stat().st_mtime_ns) for path in paths))


@lru_cache(maxsize=16)
def _parsed_cards(stamped: tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
    cards = []
    for name, _ in stamped:
        path = Path(name)
        card = json.loads(path.read_text())
        unknown = feature_table.unknown_knobs(card.get("flags", {}))
        if unknown:
            raise ValueError(f"checkpoint card {name}: flags {unknown} are no variant knob (nco_core.features.KNOBS)")
        card["checkpoint_path"] = str(path.parent / card["checkpoint"])
        cards.append(card)
    return cards


def checkpoint_for(instance: Instance, directory: Path = CHECKPOINT_DIR) -> str:
    """Path of the shipped checkpoint for ``instance`` (variant match, then nearest size)."""
    cards = _cards(directory)
    features = instance.features()
    refused = feature_table.unsupported_by_env(features)
    if refused:
        raise UnsupportedFeature("neural", ", ".join(refused))
    fitting = [card for card in cards if feature_table.fits(card["flags"], features)]
    if not fitting:
        used = [name for name, on in features.items() if on] or ["none"]
        shipped = ", ".join(f"{card['checkpoint']} ({card['problem']}, n={card['size']})" for card in cards) or "none"
        raise UnsupportedFeature(
            "neural",
            f"no checkpoint fits instance {instance.name!r} (features: {', '.join(used)}); "
            f"shipped in {directory}: {shipped}. Train one with `nco train` and pass --checkpoint",
        )
    best = min(fitting, key=lambda card: (abs(card["size"] - instance.num_customers), -card["size"]))
    return best["checkpoint_path"]


def shipped_size(path: str, directory: Path = CHECKPOINT_DIR) -> int | None:
    """The size a shipped checkpoint (as :func:`checkpoint_for` names it) was trained at, per its card."""
    return next((int(card["size"]) for card in _cards(directory) if card["checkpoint_path"] == path), None)


@lru_cache(maxsize=4)
def load(path: str):
    """The policy stored at ``path``, loaded once per process (loading is not charged to budgets)."""
    from nco.training.checkpoint import load_policy

    return load_policy(path)[0]


def candidates(
    instance: Instance,
    k: int,
    *,
    seed: int = 0,
    checkpoint: str | None = None,
    samples: int = 0,
    augment: bool = False,
    starts: int | None = None,
) -> list[Solution]:
    """Up to ``k`` distinct neural solutions, best first: the hybrid's initial population."""
    path = str(checkpoint or checkpoint_for(instance))
    policy = load(path)
    started = time.perf_counter()
    with one_thread():
        found = policy.solutions([instance], k=k, samples=samples, augment=augment, starts=starts, seed=seed)[0]
    model = _COSTS.get(path)
    if model is not None:
        model.observe(instance, _starts(instance, starts), samples, augment, time.perf_counter() - started)
    return found


def _starts(instance: Instance, starts: int | None) -> int:
    """Greedy rollouts decoded for ``starts`` (``None``: every customer; 0: one without a POMO start)."""
    return max(instance.num_customers if starts is None else min(starts, instance.num_customers), 1)


@dataclasses.dataclass
class _CostModel:
    """Decoding time ``t = (a n^2 + b n) * views + c n^2 * rows``: the encoder and per-step
    overhead grow with the nodes (and the augmented views), the kernel and the network's step
    with rows x nodes at each of ~n steps. A multiplicative ``correction`` follows what decodes
    actually took (machine load), learnt as a running mean of measured / predicted."""

    a: float
    b: float
    c: float
    correction: float = 1.0

    def raw(self, n: int, rows: int, views: int) -> float:
        return (self.a * n * n + self.b * n) * views + self.c * n * n * rows

    def seconds(self, instance: Instance, starts: int, samples: int = 0, augment: bool = False) -> float:
        views = 8 if augment else 1
        return self.correction * self.raw(instance.num_nodes, (starts + samples) * views, views)

    def observe(self, instance: Instance, starts: int, samples: int, augment: bool, seconds: float) -> None:
        predicted = self.seconds(instance, starts, samples, augment) / self.correction
        if predicted > 0:
            self.correction = min(max(0.7 * self.correction + 0.3 * seconds / predicted, 0.5), 20.0)


_COSTS: dict[str, _CostModel] = {}


def warmup(checkpoint: str) -> None:
    """Load ``checkpoint``, compile the env kernel and calibrate the decoding cost model, once per
    process (well under a second): the one-time costs that budgets exclude."""
    path = str(checkpoint)
    policy = load(path)
    if path in _COSTS:
        return
    from envs.fast import warmup as compile_kernels
    from envs.generators import sample_instance

    compile_kernels()
    card = Path(path).with_suffix(".json")
    problem, size = "acvrp", 50
    if card.exists():
        meta = json.loads(card.read_text())
        problem, size = meta.get("problem", problem), int(meta.get("size", size))
    big, small = sample_instance(problem, size, seed=0), sample_instance(problem, max(size // 2, 5), seed=1)
    many = min(size, 32)

    def timed(instance: Instance, starts: int) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            with one_thread():
                policy.solutions([instance], k=1, starts=starts)
            best = min(best, time.perf_counter() - started)
        return best

    n1, n0 = big.num_nodes, small.num_nodes
    one, lots, little = timed(big, 1), timed(big, many), timed(small, 1)
    c = max(lots - one, 0.0) / (n1 * n1 * (many - 1))
    # the fixed parts (a n^2 + b n) of the two sizes, then a and b from their two equations
    f1, f0 = max(one - c * n1 * n1, 0.0), max(little - c * n0 * n0, 0.0)
    a = max((f1 / n1 - f0 / n0) / (n1 - n0), 0.0)
    b = max(f1 / n1 - a * n1, 0.0)
    _COSTS[path] = _CostModel(a, b, c)


def predicted_seconds(
    instance: Instance, starts: int, *, checkpoint: str, samples: int = 0, augment: bool = False
) -> float:
    """Predicted wall time of decoding ``starts`` greedy rollouts (+ ``samples``) on ``instance``."""
    warmup(checkpoint)
    return _COSTS[str(checkpoint)].seconds(instance, max(starts, 1), samples, augment)


def plan(instance: Instance, seconds: float, *, checkpoint: str, samples: int = 0, augment: bool = False) -> int:
    """The most greedy POMO starts (up to every customer) whose decoding, with ``samples`` sampled
    rollouts, is predicted to fit in ``seconds``; 0 when not even one rollout more fits."""
    warmup(checkpoint)
    model = _COSTS[str(checkpoint)]
    n, views = instance.num_nodes, 8 if augment else 1
    fixed = model.correction * model.raw(n, samples * views, views)
    per_start = model.correction * model.c * n * n * views
    if fixed + per_start > seconds:
        return 0
    return int(min((seconds - fixed) / per_start, instance.num_customers)) if per_start > 0 else instance.num_customers


def _count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"neural solver: {name} must be an integer >= 0, got {value!r}")


@dataclasses.dataclass(frozen=True)
class NeuralOptions(Options):
    """``checkpoint``: a policy file (default: the shipped one fitting the instance); ``starts``:
    greedy POMO starts (``None``: as many as fit in the runtime bound, at least one; 0: one
    rollout without a POMO start); ``samples``: sampled rollouts decoded on top of the starts;
    ``augment``: each rollout on 8 symmetric copies."""

    checkpoint: str | None = None
    starts: int | None = None
    samples: int = 0
    augment: bool = False

    def __post_init__(self) -> None:
        if self.starts is not None:
            _count("starts", self.starts)
        _count("samples", self.samples)
        if not isinstance(self.augment, bool):
            raise ValueError(f"neural solver: augment must be True or False, got {self.augment!r}")


class Neural(Solver[NeuralOptions]):
    """One constructive pass of a trained attention policy (see the module docstring)."""

    name = "neural"
    options_type = NeuralOptions

    def prepare(self, instance: Instance, options: NeuralOptions) -> None:
        """:func:`warmup` of the instance's checkpoint; nothing when none fits (``solve`` then
        raises, inside the budget, what it cannot do)."""
        try:
            warmup(str(options.checkpoint or checkpoint_for(instance)))
        except UnsupportedFeature:
            pass

    def solve(
        self, instance: Instance, options: NeuralOptions, *, budget: Budget, seed: int, initial: Solution | None = None
    ) -> Solution:
        del initial  # one constructive pass; nothing to warm-start
        deadline = budget.deadline
        path = str(options.checkpoint or checkpoint_for(instance))
        warmup(path)
        starts, samples, augment = options.starts, options.samples, options.augment
        sized = starts is None
        exceeded = False
        if starts is None:
            left = PLANNED_SHARE * deadline.remaining(finish_reserve(instance.num_nodes))
            starts = plan(instance, left, checkpoint=path, samples=samples, augment=augment)
            exceeded = starts == 0
            starts = max(starts, 1)
        best = candidates(instance, 1, seed=seed, checkpoint=path, samples=samples, augment=augment, starts=starts)[0]
        runtime = deadline.elapsed()
        info = dict(
            best.info,
            checkpoint=path,
            samples=samples,
            augment=augment,
            starts=_starts(instance, starts),
            starts_sized_to_budget=sized,
            neural_time=runtime,
            refine_time=0.0,
            stop=budget.describe(),
            budget_exceeded=exceeded or runtime > deadline.seconds,
        )
        return dataclasses.replace(best, runtime=runtime, info=info)


SOLVER = Neural()
