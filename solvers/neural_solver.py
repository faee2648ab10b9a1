"""``method="neural"``: construct solutions with a trained attention policy.

Without ``checkpoint``, the shipped checkpoint is chosen from the cards in ``data/checkpoints``:
its training variant must match the instance's variant flags, and among those the nearest
training size wins. Decoding is greedy from every POMO start (plus ``samples`` sampled rollouts,
on 8 symmetric copies with ``augment``); the evaluator's best solution is returned.
``time_limit`` is not used: construction takes one pass of the network.
"""

from __future__ import annotations

import dataclasses
import json
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from nco.instance import Instance
from nco.solution import Solution
from solvers.errors import UnsupportedFeature

__all__ = ["CHECKPOINT_DIR", "candidates", "checkpoint_for", "load", "solve"]

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "data" / "checkpoints"

# Variant flag (envs/presets.py) -> whether an instance uses it (Instance.features()).
_MATCHED = {
    "capacity": lambda f: f["capacity"],
    "time_windows": lambda f: f["time_windows"],
    "backhaul": lambda f: f["backhaul"],
    "open_routes": lambda f: f["open_routes"],
    "max_duration": lambda f: f["max_duration"],
    "num_profiles": lambda f: f["multiple_profiles"] or f["allowed"] or f["preference"],
}


def _fits(flags: dict[str, float], features: dict[str, bool]) -> bool:
    """A flag trained at probability 1 needs the feature, at 0 forbids it, in between allows both."""
    for flag, used in _MATCHED.items():
        p = float(flags.get(flag, 0))
        if (p >= 1 and not used(features)) or (p <= 0 and used(features)):
            return False
    return True


def _cards(directory: Path) -> list[dict[str, Any]]:
    cards = []
    for path in sorted(directory.glob("*.json")):
        card = json.loads(path.read_text())
        card["checkpoint_path"] = str(path.parent / card["checkpoint"])
        cards.append(card)
    return cards


def checkpoint_for(instance: Instance, directory: Path = CHECKPOINT_DIR) -> str:
    """Path of the shipped checkpoint for ``instance`` (variant match, then nearest size)."""
    cards = _cards(directory)
    features = instance.features()
    fitting = [card for card in cards if _fits(card["flags"], features)]
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


@lru_cache(maxsize=4)
def load(path: str):
    """The policy stored at ``path``, loaded once per process (loading is not charged to budgets)."""
    from nco.training.checkpoint import load_policy

    return load_policy(path)[0]


@contextmanager
def _one_thread():
    """Decoding one instance runs many tiny kernels: intra-op threads only add contention there,
    and on a shared 2-core machine they made decoding 3-10x slower (measured)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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
    policy = load(str(checkpoint or checkpoint_for(instance)))
    with _one_thread():
        return policy.solutions([instance], k=k, samples=samples, augment=augment, starts=starts, seed=seed)[0]


def solve(
    instance: Instance,
    *,
    time_limit: float,
    seed: int,
    initial: Solution | None = None,
    checkpoint: str | None = None,
    samples: int = 0,
    augment: bool = False,
    starts: int | None = None,
    **options: Any,
) -> Solution:
    """``starts``: greedy POMO starts (``None``: every customer; decoding time grows with
    starts x N, so fewer starts is the speed knob on large instances)."""
    if options:
        raise TypeError(f"neural solver: unknown option(s) {sorted(options)}; use checkpoint, samples, augment, starts")
    if starts is not None and starts < 0:
        raise ValueError(f"neural solver: starts must be >= 0, got {starts}")
    del time_limit, initial  # one constructive pass; nothing to warm-start
    path = str(checkpoint or checkpoint_for(instance))
    load(path)
    start = time.perf_counter()
    samples, augment = int(samples or 0), bool(augment)
    best = candidates(instance, 1, seed=seed, checkpoint=path, samples=samples, augment=augment, starts=starts)[0]
    runtime = time.perf_counter() - start
    info = dict(best.info, checkpoint=path, samples=samples, augment=augment, starts=starts, neural_time=runtime)
    return dataclasses.replace(best, runtime=runtime, info=info)
