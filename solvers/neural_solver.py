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
from functools import lru_cache
from pathlib import Path
from typing import Any

from nco.instance import Instance
from nco.solution import Solution

__all__ = ["CHECKPOINT_DIR", "checkpoint_for", "solve"]

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
        raise ValueError(
            f"instance {instance.name!r}: no neural checkpoint fits its features ({', '.join(used)}); "
            f"shipped in {directory}: {shipped}. Train one with `nco train` and pass --checkpoint"
        )
    best = min(fitting, key=lambda card: (abs(card["size"] - instance.num_customers), -card["size"]))
    return best["checkpoint_path"]


@lru_cache(maxsize=4)
def _policy(path: str):
    from nco.training.checkpoint import load_policy

    return load_policy(path)[0]


def solve(
    instance: Instance,
    *,
    time_limit: float,
    seed: int,
    initial: Solution | None = None,
    checkpoint: str | None = None,
    samples: int = 0,
    augment: bool = False,
    **options: Any,
) -> Solution:
    if options:
        raise TypeError(f"neural solver: unknown option(s) {sorted(options)}; use checkpoint, samples, augment")
    del time_limit, initial  # one constructive pass; nothing to warm-start
    start = time.perf_counter()
    path = str(checkpoint or checkpoint_for(instance))
    policy = _policy(path)
    best = policy.solutions([instance], k=1, samples=int(samples or 0), augment=bool(augment), seed=seed)[0][0]
    info = dict(best.info, checkpoint=path, samples=int(samples or 0), augment=bool(augment))
    return dataclasses.replace(best, runtime=time.perf_counter() - start, info=info)
