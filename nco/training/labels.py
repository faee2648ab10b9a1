"""Labelled instances: a solver's solutions of reproducible generated instances, stored as shards.

Labels teach a policy by imitation (``nco train --algorithm imitation``) and are read by other
learners, so the format is plain and stable. An instance is never stored: it is named by its
recipe and rebuilt on demand with :func:`rebuild_instance`, which is
``sample_instance(problem, size, city=load_city(city), seed=seed, distribution=distribution)``.
That is exact only with the same generator, so each shard records ``GENERATOR_VERSION`` and a
shard of another version is refused, never silently mis-read.

Directory ``out/``: ``shard-00000.npz``, ``shard-00001.npz``, ... Shard ``k`` holds instances
``k * shard_size ... (k + 1) * shard_size - 1`` (the last may be shorter); instance ``i`` has
seed ``seed * 10**9 + i`` and city ``cities[i % len(cities)]``. Each shard is written atomically,
so a shard file is always complete and a re-run (same arguments) skips the shards that exist.

Shard keys (``np.load(path)`` works without pickles):

    meta      0-d str   JSON: format "nco-labels", format_version, generator_version, problem,
                        size, distribution, cities (the whole list), seed, shard_size, solver,
                        time_limit (seconds per instance), iterations (null, or the solver
                        iterations per instance: then time_limit is only a cap), solver_seed, shard
    seed      [S] int64    instance seeds
    city      [S] str      city pool names ("" = synthetic unit square)
    cost      [S] float64  the evaluator's cost of the stored routes
    feasible  [S] bool     the evaluator's verdict
    runtime   [S] float64  solver wall-clock seconds
    iterations [S] int64   solver iterations done (-1: the solver does not count them); absent in
                           shards written before it was recorded
    nodes     [M] int32    every instance's routes concatenated, each route followed by a 0
    offsets   [S+1] int64  instance j's routes are ``nodes[offsets[j]:offsets[j+1]]``
    types     [R] int32    the vehicle type of each route, in the same order
    type_offsets [S+1] int64

Usage: ``for label in read_shards("labels/acvrp100"): instance = label.instance(); label.routes``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from envs.generators import GENERATOR_VERSION, sample_instance
from nco_core.instance import Instance
from nco_core.io import atomic_path

__all__ = ["FORMAT_VERSION", "Label", "LabelJob", "read_shards", "rebuild_instance", "write_labels"]

FORMAT = "nco-labels"
FORMAT_VERSION = 1
SEED_STRIDE = 10**9  # instance i of a job with seed s has seed s * SEED_STRIDE + i
_JOB_KEYS = (
    "problem",
    "size",
    "distribution",
    "cities",
    "seed",
    "shard_size",
    "solver",
    "time_limit",
    "iterations",
    "solver_seed",
)


def rebuild_instance(problem: str, size: int, city: str, seed: int, distribution: str = "uniform") -> Instance:
    """The labelled instance, regenerated from its recipe (``city=""``: synthetic)."""
    return sample_instance(problem, size, city=city or None, seed=int(seed), distribution=distribution)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Label:
    """One labelled instance: its recipe, the solver's routes and the evaluator's cost."""

    problem: str
    size: int
    city: str
    seed: int
    distribution: str
    routes: list[list[int]]
    vehicle_types: list[int]
    cost: float
    feasible: bool
    meta: dict[str, Any] = field(repr=False, compare=False)

    def instance(self) -> Instance:
        return rebuild_instance(self.problem, self.size, self.city, self.seed, self.distribution)


@dataclass(frozen=True)
class LabelJob:
    """What to label; every field but ``workers``, ``num_instances`` and ``out`` goes into each
    shard's meta, and a re-run must repeat them to resume.

    ``time_limit`` is wall clock, so what a solver finds in it depends on how busy the machine is
    (ATSP100 labels made at 0.4 s beside two training jobs were 2.4 % above PyVRP 2 s, those made
    beside one 0.4 %). ``iterations`` makes a label depend on its recipe alone: the solver stops
    after that many iterations, and ``time_limit`` only caps a solve (a capped label is counted).
    """

    problem: str
    size: int
    cities: tuple[str, ...]  # empty: synthetic unit-square instances
    num_instances: int
    time_limit: float
    out: str
    workers: int = 1
    seed: int = 0
    shard_size: int = 100
    distribution: str = "uniform"
    solver: str = "pyvrp"
    solver_seed: int = 0
    iterations: int | None = None

    def __post_init__(self) -> None:
        if self.num_instances < 1 or self.shard_size < 1 or self.workers < 1 or self.size < 1:
            raise ValueError("num_instances, shard_size, workers and size must be >= 1")
        if self.iterations is not None and self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if not self.time_limit > 0:
            raise ValueError(f"time_limit must be positive, got {self.time_limit}")

    def meta(self, shard: int) -> dict[str, Any]:
        values = {key: getattr(self, key) for key in _JOB_KEYS}
        values["cities"] = list(self.cities)
        return dict(
            format=FORMAT, format_version=FORMAT_VERSION, generator_version=GENERATOR_VERSION, shard=shard, **values
        )

    def recipe(self, index: int) -> tuple[str, int]:
        """(city, seed) of instance ``index``."""
        city = self.cities[index % len(self.cities)] if self.cities else ""
        return city, self.seed * SEED_STRIDE + index


# ---------------------------------------------------------------------------------------------
# Reading


def _shard_paths(directory: Path) -> list[Path]:
    return sorted(directory.glob("shard-*.npz"))


def _read_meta(path: Path, archive: Any) -> dict[str, Any]:
    try:
        meta = json.loads(str(archive["meta"]))
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path}: not an nco label shard (meta: {error})") from None
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: format {meta.get('format')!r} version {meta.get('format_version')!r}, "
            f"expected {FORMAT!r} version {FORMAT_VERSION}"
        )
    if meta.get("generator_version") != GENERATOR_VERSION:
        raise ValueError(
            f"{path}: made with generator version {meta.get('generator_version')!r}, this nco generates "
            f"version {GENERATOR_VERSION}; its seeds name other instances now (relabel with this version)"
        )
    return meta


def read_shards(directory: str | os.PathLike) -> Iterator[Label]:
    """Every label of a directory, shard by shard, in instance order.

    Raises ``ValueError`` (naming the file) for a shard of another format or generator version."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"labels: {directory} is not a directory")
    for path in _shard_paths(directory):
        with np.load(path, allow_pickle=False) as archive:
            meta = _read_meta(path, archive)
            data = {
                key: archive[key]
                for key in ("seed", "city", "cost", "feasible", "nodes", "offsets", "types", "type_offsets")
            }
        nodes, offsets, types, type_offsets = data["nodes"], data["offsets"], data["types"], data["type_offsets"]
        for j in range(len(data["seed"])):
            part = nodes[offsets[j] : offsets[j + 1]].tolist()
            routes, current = [], []
            for node in part:
                if node:
                    current.append(node)
                else:
                    routes.append(current)
                    current = []
            yield Label(
                problem=meta["problem"],
                size=int(meta["size"]),
                city=str(data["city"][j]),
                seed=int(data["seed"][j]),
                distribution=meta["distribution"],
                routes=routes,
                vehicle_types=types[type_offsets[j] : type_offsets[j + 1]].tolist(),
                cost=float(data["cost"][j]),
                feasible=bool(data["feasible"][j]),
                meta=meta,
            )


# ---------------------------------------------------------------------------------------------
# Writing


def _solve(job: LabelJob, index: int) -> tuple[list[list[int]], list[int], float, bool, float, int]:
    from solvers.registry import get_solver  # imports a backend: only in the workers
    from solvers.stop import MaxIterations

    city, seed = job.recipe(index)
    instance = rebuild_instance(job.problem, job.size, city, seed, job.distribution)
    stop = MaxIterations(job.iterations) if job.iterations is not None else None
    solution = get_solver(job.solver)(instance, time_limit=job.time_limit, stop=stop, seed=job.solver_seed)
    done = int(solution.info.get("iterations", -1))
    return solution.routes, solution.vehicle_types, solution.cost, solution.feasible, solution.runtime, done


def _write_shard(path: Path, job: LabelJob, shard: int, indices: Sequence[int], results: Sequence[tuple]) -> None:
    nodes: list[int] = []
    offsets, types, type_offsets = [0], [], [0]
    for routes, kinds, *_ in results:
        for route in routes:
            nodes += list(route) + [0]
        offsets.append(len(nodes))
        types += list(kinds)
        type_offsets.append(len(types))
    recipes = [job.recipe(i) for i in indices]
    arrays = dict(
        meta=np.array(json.dumps(job.meta(shard))),
        seed=np.array([seed for _, seed in recipes], np.int64),
        city=np.array([city for city, _ in recipes], dtype=str),
        cost=np.array([r[2] for r in results], np.float64),
        feasible=np.array([r[3] for r in results], bool),
        runtime=np.array([r[4] for r in results], np.float64),
        iterations=np.array([r[5] for r in results], np.int64),
        nodes=np.array(nodes, np.int32),
        offsets=np.array(offsets, np.int64),
        types=np.array(types, np.int32),
        type_offsets=np.array(type_offsets, np.int64),
    )
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        np.savez_compressed(handle, allow_pickle=False, **arrays)


def _check_existing(path: Path, job: LabelJob, shard: int, count: int) -> None:
    """A shard on disk must come from the same job, or resuming would mix two data sets."""
    with np.load(path, allow_pickle=False) as archive:
        meta = _read_meta(path, archive)
        stored = len(archive["seed"])
    wanted = job.meta(shard)
    differ = [key for key in _JOB_KEYS if meta.get(key) != wanted[key]]
    if differ:
        detail = ", ".join(f"{key}: shard {meta.get(key)!r}, this run {wanted[key]!r}" for key in differ)
        raise ValueError(f"{path}: made by another labelling job ({detail}); use another --out or the same arguments")
    if stored != count:
        raise ValueError(
            f"{path}: holds {stored} instances, expected {count} (another --num-instances ends this shard differently)"
        )


def write_labels(job: LabelJob, progress: bool = True) -> dict[str, Any]:
    """Label ``job.num_instances`` instances into ``job.out``, skipping complete shards.

    Returns counts and the measured throughput (instances per hour of wall clock)."""
    from tqdm import tqdm

    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    shards = math.ceil(job.num_instances / job.shard_size)
    todo: list[tuple[int, list[int]]] = []
    for shard in range(shards):
        indices = list(range(shard * job.shard_size, min((shard + 1) * job.shard_size, job.num_instances)))
        path = out / f"shard-{shard:05d}.npz"
        if path.exists():
            _check_existing(path, job, shard, len(indices))
        else:
            todo.append((shard, indices))
    skipped = job.num_instances - sum(len(indices) for _, indices in todo)
    started = time.perf_counter()
    bar = tqdm(total=job.num_instances, initial=skipped, unit="inst", disable=not progress, smoothing=0.05)
    pool = ProcessPoolExecutor(job.workers, mp_context=get_context("spawn")) if job.workers > 1 else None
    infeasible = capped = 0
    try:
        for shard, indices in todo:
            if pool is None:
                results = []
                for index in indices:
                    results.append(_solve(job, index))
                    bar.update()
            else:
                results = []
                for result in pool.map(_solve, [job] * len(indices), indices):
                    results.append(result)
                    bar.update()
            infeasible += sum(not r[3] for r in results)
            if job.iterations is not None:  # the time cap fired first: this label depends on the load
                capped += sum(0 <= r[5] < job.iterations for r in results)
            _write_shard(out / f"shard-{shard:05d}.npz", job, shard, indices, results)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    elapsed = time.perf_counter() - started
    labelled = job.num_instances - skipped
    return dict(
        labelled=labelled,
        skipped=skipped,
        infeasible=infeasible,
        capped=capped,
        seconds=round(elapsed, 1),
        per_hour=round(3600 * labelled / elapsed) if labelled and elapsed > 0 else None,
    )
