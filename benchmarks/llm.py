"""Benchmark the LLM front end on the task set, with the metrics of "From Words to Routes".

For every task in ``data/llm_tasks``: run :func:`nco.llm.formulate` against the configured
endpoint, then score the *answer's routes on the expected instance* with nco's evaluator (so a
formulation that dropped a constraint cannot look feasible), and compare with a reference solve
of the expected instance.

* feasibility: the routes are feasible on the expected instance;
* optimality: feasible and within ``--tolerance`` (default 1%) of the reference cost; the mean
  gap is reported as well;
* efficiency: model rounds used and wall time;
plus how often the generated instance matches the expected one field by field, and how often
the loop itself declared the answer verified.

    NCO_LLM_ENDPOINT=http://localhost:8000/v1 NCO_LLM_MODEL=NAME python benchmarks/llm.py

Writes ``benchmarks/results/llm.md`` (machine, versions, model, one row per task, totals).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import nco
from nco.llm.client import ChatError, client_from_settings
from nco.llm.loop import formulate
from nco.llm.match import instance_differences
from nco.llm.sandbox import SandboxLimits, network_isolation
from nco_core import UnsupportedFeature
from nco_core.io import atomic_path
from nco_core.paths import shipped_data

ROOT = Path(__file__).resolve().parents[1]
TASKS = shipped_data("llm_tasks")
RESULTS = ROOT / "benchmarks" / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint")
    parser.add_argument("--model")
    parser.add_argument("--api-key")
    parser.add_argument("--max-rounds", type=int, default=5)
    parser.add_argument("--tasks", nargs="*", help="task ids (default: all)")
    parser.add_argument(
        "--reference-methods",
        default="pyvrp,ortools",
        help="tried in order; the first that supports the instance's features is used",
    )
    parser.add_argument("--reference-time", type=float, default=5.0, help="seconds for the reference solve")
    parser.add_argument("--tolerance", type=float, default=0.01, help="relative gap that counts as optimal")
    parser.add_argument("--out", type=Path, default=RESULTS / "llm.md")
    args = parser.parse_args()
    try:
        client = client_from_settings(args.endpoint, args.model, args.api_key)
    except ChatError as error:
        print(
            f"benchmarks/llm.py: {error}\nNothing to benchmark without a model; see nco/llm/README.md.", file=sys.stderr
        )
        return 2

    tasks = json.loads((TASKS / "tasks.json").read_text())["tasks"]
    if args.tasks:
        tasks = [task for task in tasks if task["id"] in set(args.tasks)]
    rows = []
    for task in tasks:
        expected = nco.read(TASKS / task["expected"])
        reference = _reference(expected, args.reference_methods.split(","), args.reference_time)
        start = time.monotonic()
        try:
            result = formulate(task["text"], client=client, max_rounds=args.max_rounds, limits=SandboxLimits())
            error = ""
        except ChatError as failure:
            result, error = None, str(failure)
        seconds = time.monotonic() - start
        row = {
            "id": task["id"],
            "rounds": len(result.rounds) if result else 0,
            "seconds": seconds,
            "verified": bool(result and result.verified),
            "feasible": False,
            "gap": None,
            "matches": False,
            "reference": reference.cost if reference.feasible else None,
            "note": error,
        }
        if result is not None and result.solution is not None:
            differences = instance_differences(result.instance, expected)
            row["matches"] = not differences
            scored = (
                nco.evaluate(expected, result.solution.routes, result.solution.vehicle_types)
                if result.instance.num_nodes == expected.num_nodes
                and len(result.instance.vehicle_types) == len(expected.vehicle_types)
                else None
            )
            row["feasible"] = bool(scored and scored.feasible)
            if scored and scored.feasible and reference.feasible:
                row["gap"] = (scored.cost - reference.cost) / abs(reference.cost) if reference.cost else 0.0
            row["note"] = "; ".join(differences[:3]) or (
                scored.violations[0].message if scored and scored.violations else ""
            )
        elif result is not None:
            row["note"] = result.problems[0].splitlines()[-1][:120] if result.problems else ""
        rows.append(row)
        print(
            f"{task['id']}: feasible={row['feasible']} gap={row['gap']} rounds={row['rounds']} "
            f"{seconds:.0f}s {row['note'][:80]}",
            file=sys.stderr,
        )
    _write(args, client.endpoint, client.model, rows)
    print(f"wrote {args.out}")
    return 0


def _reference(instance: nco.Instance, methods: list[str], seconds: float) -> nco.Solution:
    for method in methods[:-1]:
        try:
            return nco.solve(instance, method=method, time_limit=seconds)
        except UnsupportedFeature:
            continue
    return nco.solve(instance, method=methods[-1], time_limit=seconds)


def _write(args: argparse.Namespace, endpoint: str, model: str, rows: list[dict]) -> None:
    n = max(len(rows), 1)
    feasible = sum(row["feasible"] for row in rows)
    optimal = sum(row["gap"] is not None and row["gap"] <= args.tolerance for row in rows)
    gaps = [row["gap"] for row in rows if row["gap"] is not None]
    lines = [
        "# LLM front end on the task set",
        "",
        f"- model `{model}` at `{endpoint}`, up to {args.max_rounds} rounds per task",
        f"- machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- versions: nco {version('nco')}, pyvrp {version('pyvrp')}, ortools {version('ortools')}, "
        f"pyvroom {version('pyvroom')}, requests {version('requests')}",
        f"- sandbox: {'network namespace + ' if network_isolation() else ''}rlimits + audit hook",
        f"- reference: first of `{args.reference_methods}` that supports the task, for "
        f"{args.reference_time:g} s on the expected instance; "
        f"optimal = feasible and gap <= {100 * args.tolerance:g}%",
        "",
        "| task | rounds | time (s) | verified | instance matches | feasible | gap (%) | note |",
        "|---|---:|---:|:---:|:---:|:---:|---:|---|",
    ]
    for row in rows:
        gap = "" if row["gap"] is None else f"{100 * row['gap']:.2f}"
        note = row["note"].replace("|", "/").replace("\n", " ")[:100]
        lines.append(
            f"| {row['id']} | {row['rounds']} | {row['seconds']:.1f} | {'yes' if row['verified'] else 'no'} | "
            f"{'yes' if row['matches'] else 'no'} | {'yes' if row['feasible'] else 'no'} | {gap} | {note} |"
        )
    mean_gap = f"{100 * sum(gaps) / len(gaps):.2f}%" if gaps else "n/a"
    lines += [
        "",
        f"**feasibility {100 * feasible / n:.0f}%**, **optimality {100 * optimal / n:.0f}%** (mean gap of feasible "
        f"answers {mean_gap}), instance matches {100 * sum(r['matches'] for r in rows) / n:.0f}%, "
        f"verified {100 * sum(r['verified'] for r in rows) / n:.0f}%, "
        f"mean rounds {sum(r['rounds'] for r in rows) / n:.2f}, mean time {sum(r['seconds'] for r in rows) / n:.1f} s "
        f"over {len(rows)} tasks.",
        "",
    ]
    with atomic_path(args.out) as tmp:
        Path(tmp).write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
