"""Reference costs for the validation gap: PyVRP with a short budget, computed once and cached.

A short wall-clock budget finds less on a busy machine: two ATSP100 runs' 1 s references of the same
16 instances, made under different loads, differed by 5 % on average, so their in-run gaps could not
be compared. An iteration budget (``iterations``; the time limit then only caps a solve) gives the
same references on any machine under any load.

The cache is a JSON file keyed by a hash of all of each instance's data (every field but its name)
and the budget, so a resumed run (or a second run on the same validation set) does not solve
the references again, and an instance that differs in any field (zones, preferences, ...) does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path

import numpy as np

from nco_core.instance import Instance
from nco_core.io import atomic_path
from solvers.registry import get_solver
from solvers.stop import MaxIterations

__all__ = ["instance_digest", "reference_costs"]


# Fields that name or describe an instance without changing what a solver finds.
_NOT_DATA = frozenset({"name", "best_known_cost"})


def instance_digest(instance: Instance) -> str:
    """Hash of every field of the instance (arrays by dtype, shape and bytes; the normalised
    fleet and scalars by repr), each under its name, so a field added to ``Instance`` is in the
    digest without anyone listing it here."""
    digest = hashlib.sha1()
    for field in dataclasses.fields(instance):
        if field.name in _NOT_DATA:
            continue
        value = getattr(instance, field.name)
        digest.update(f"{field.name}=".encode())
        if isinstance(value, np.ndarray):
            digest.update(f"{value.dtype.str}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        else:
            digest.update(repr(value).encode())
        digest.update(b";")
    return digest.hexdigest()


def _key(instance: Instance, method: str, time_limit: float, iterations: int | None = None) -> str:
    budget = f"{time_limit}" if iterations is None else f"{iterations}it<={time_limit}"
    return f"{method}:{budget}:{instance_digest(instance)}"


def _reference(instance: Instance, method: str, time_limit: float, iterations: int | None = None) -> float:
    stop = MaxIterations(iterations) if iterations is not None else None
    solution = get_solver(method)(instance, time_limit=time_limit, stop=stop, seed=0)
    return solution.cost if solution.feasible else float("nan")


def reference_costs(
    instances: Sequence[Instance],
    cache: str | os.PathLike,
    method: str = "pyvrp",
    time_limit: float = 1.0,
    jobs: int = 1,
    iterations: int | None = None,
) -> list[float]:
    """Cost of ``method``'s solution for each instance (``nan`` when it found no feasible one).

    ``jobs`` > 1 solves the missing ones in that many processes: each solver is single-threaded
    and gets its own core, so a 10 s reference set takes 1/jobs of the time at the same quality.
    """
    path = Path(cache)
    known: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}
    keys = [_key(instance, method, time_limit, iterations) for instance in instances]
    missing = {key: instance for key, instance in zip(keys, instances, strict=True) if key not in known}
    if missing:
        if jobs > 1 and len(missing) > 1:
            with ProcessPoolExecutor(min(jobs, len(missing))) as pool:
                costs = pool.map(_reference, missing.values(), repeat(method), repeat(time_limit), repeat(iterations))
                known.update(zip(missing, costs, strict=True))
        else:
            known.update(
                (key, _reference(instance, method, time_limit, iterations)) for key, instance in missing.items()
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temp:
            Path(temp).write_text(json.dumps(known, indent=0))
    return [known[key] for key in keys]
