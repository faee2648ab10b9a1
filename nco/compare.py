"""Side-by-side comparison of methods over instances and time budgets.

The gap reference of an instance is its ``best_known_cost`` when it has one, else the best feasible
cost any compared method found on it. Only feasible solutions count towards gaps; infeasible or
failed runs show up in the feasible share instead. With ``workers`` or ``scheduler`` the runs go
through the batch engine (:mod:`nco.batch`: Dask, streamed rows, resume) and the same table is
built from its rows.
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nco.api import solve
from nco.method_spec import parse_method
from nco_core.errors import UnsupportedFeature
from nco_core.instance import Instance
from nco_core.io import atomic_path

__all__ = ["ComparisonRow", "ComparisonTable", "compare", "table_from_batch"]


@dataclass
class ComparisonRow:
    instance: str
    method: str
    time_limit: float
    cost: float
    feasible: bool
    runtime: float
    neural_time: float = 0.0
    gap: float = math.nan  # percent above the reference; NaN when infeasible
    supported: bool = True  # False when the method cannot model the instance (see note)
    note: str = ""


@dataclass
class ComparisonTable:
    rows: list[ComparisonRow]

    def summary(self) -> list[dict[str, Any]]:
        """Per method and budget: mean gap over feasible runs, mean time, feasible share; instances
        the method cannot model are counted apart, not as infeasible."""
        groups: dict[tuple[str, float], list[ComparisonRow]] = defaultdict(list)
        for row in self.rows:
            groups[(row.method, row.time_limit)].append(row)
        summary = []
        for (method, budget), group in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0])):
            rows = [row for row in group if row.supported]
            gaps = [row.gap for row in rows if row.feasible and math.isfinite(row.gap)]
            summary.append(
                {
                    "method": method,
                    "time_limit": budget,
                    "mean_gap_percent": sum(gaps) / len(gaps) if gaps else math.nan,
                    "mean_time": sum(row.runtime for row in rows) / len(rows) if rows else math.nan,
                    "feasible_share": sum(row.feasible for row in rows) / len(rows) if rows else math.nan,
                    "instances": len(rows),
                    "unsupported": len(group) - len(rows),
                }
            )
        return summary

    def markdown(self) -> str:
        lines = [
            "| method | budget (s) | mean gap (%) | mean time (s) | feasible | instances | unsupported |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for item in self.summary():
            lines.append(
                f"| {item['method']} | {item['time_limit']:g} | {item['mean_gap_percent']:.2f} | "
                f"{item['mean_time']:.3f} | {100 * item['feasible_share']:.0f}% | {item['instances']} | "
                f"{item['unsupported']} |"
            )
        return "\n".join(lines) + "\n"

    def write(self, directory: str | os.PathLike[str], stem: str = "compare") -> dict[str, Path]:
        """CSV of every run, markdown summary and gap-vs-time plot; each file written atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {kind: directory / f"{stem}.{kind}" for kind in ("csv", "md", "png")}
        with atomic_path(paths["csv"]) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(asdict(self.rows[0])))
            writer.writeheader()
            writer.writerows(asdict(row) for row in self.rows)
        with atomic_path(paths["md"]) as tmp:
            Path(tmp).write_text(self.markdown())
        self._plot(paths["png"])
        return paths

    def _plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(figsize=(6, 4))
        by_method: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in self.summary():
            by_method[str(item["method"])].append(item)
        for method, items in by_method.items():
            axes.plot([i["mean_time"] for i in items], [i["mean_gap_percent"] for i in items], "o-", label=method)
        axes.set_xscale("log")
        axes.set_xlabel("mean wall time per instance (s)")
        axes.set_ylabel("mean gap (%)")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        figure.tight_layout()
        try:
            with atomic_path(path) as tmp:
                figure.savefig(tmp, dpi=120, format="png")
        finally:
            plt.close(figure)


def compare(
    instances: Iterable[Instance],
    methods: Sequence[str] = ("pyvrp", "ortools", "vroom"),
    time_limits: Sequence[float] = (1.0,),
    *,
    seed: int = 0,
    progress: bool = True,
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | os.PathLike[str] | None = None,
) -> ComparisonTable:
    """Run every method at every budget on every instance; a method that cannot model an instance
    (``UnsupportedFeature``) gets an infeasible row whose note says why. Methods are configurations
    of :mod:`nco.method_spec`: ``"hybrid:ga"`` (the hybrid with a given refiner),
    ``"pyvrp+neighbours=learned"`` (a method with options).

    ``workers`` (processes of an embedded Dask cluster) or ``scheduler`` (a running cluster's
    address) run the tasks in parallel through :func:`nco.batch.run_batch`, streaming rows to
    ``out`` (a re-run with the same ``out`` resumes; default: a temporary directory)."""
    instances = list(instances)
    for method in methods:
        parse_method(method)  # a typo costs no solver time
    if workers is not None or scheduler is not None:
        return _compare_on_cluster(instances, list(methods), list(time_limits), seed, progress, workers, scheduler, out)
    runs = [(instance, method, budget) for instance in instances for budget in time_limits for method in methods]
    rows = []
    for instance, method, budget in tqdm(runs, desc="compare", disable=not progress, unit="run"):
        spec = parse_method(method)
        try:
            solution = solve(instance, method=spec.method, time_limit=budget, seed=seed, **spec.options)
        except UnsupportedFeature as error:
            rows.append(
                ComparisonRow(instance.name, method, budget, math.inf, False, 0.0, supported=False, note=str(error))
            )
            continue
        rows.append(
            ComparisonRow(
                instance.name,
                method,
                budget,
                solution.cost,
                solution.feasible,
                solution.runtime,
                float(solution.info.get("neural_time", 0.0)),
                note="" if solution.feasible else "; ".join(v.message for v in solution.violations[:3]),
            )
        )
    _fill_gaps(rows, {i.name: i.best_known_cost for i in instances if i.best_known_cost is not None})
    return ComparisonTable(rows)


def table_from_batch(batch_rows: Iterable[dict[str, object]]) -> ComparisonTable:
    """The comparison table of batch rows (``results.csv``), gaps recomputed over the whole batch:
    a streamed row only knows its gap when its instance has a best-known cost."""
    rows, known = [], {}
    for item in batch_rows:
        ok = item["status"] == "ok"
        note = str(item.get("violations") or "") if ok else str(item.get("error") or "")
        rows.append(
            ComparisonRow(
                str(item["instance"]),
                str(item["method"]),
                float(item["budget"]),  # type: ignore[arg-type]
                float(item["cost"]) if ok else math.inf,  # type: ignore[arg-type]
                bool(item["feasible"]) and ok,
                float(item["runtime"]) if ok else 0.0,  # type: ignore[arg-type]
                float(item.get("neural_time") or 0.0) if ok else 0.0,  # type: ignore[arg-type]
                supported=item["status"] != "unsupported",
                note=note,
            )
        )
        if item.get("best_known") is not None:
            known[str(item["instance"])] = float(item["best_known"])  # type: ignore[arg-type]
    _fill_gaps(rows, known)
    return ComparisonTable(rows)


def _compare_on_cluster(
    instances: list[Instance],
    methods: list[str],
    time_limits: list[float],
    seed: int,
    progress: bool,
    workers: int | None,
    scheduler: str | None,
    out: str | os.PathLike[str] | None,
) -> ComparisonTable:
    import tempfile

    from nco.batch import plan, run_batch

    tasks = plan(instances, methods, time_limits, seed)
    with tempfile.TemporaryDirectory(prefix="nco-compare-") as scratch:
        result = run_batch(
            tasks,
            {i.name: i for i in instances},
            out or scratch,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
        )
    if result.interrupted:
        raise KeyboardInterrupt
    return table_from_batch(result.rows)


def _fill_gaps(rows: list[ComparisonRow], known: dict[str, float]) -> None:
    """Gaps against ``known`` best-known costs, else the best feasible cost among ``rows``."""
    best: dict[str, float] = {}
    for row in rows:
        if row.feasible:
            best[row.instance] = min(best.get(row.instance, math.inf), row.cost)
    best.update(known)
    for row in rows:
        reference = best.get(row.instance, math.nan)
        if row.feasible and reference and math.isfinite(reference):
            row.gap = 100.0 * (row.cost - reference) / abs(reference)
