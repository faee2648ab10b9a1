"""The hybrid's learned parts per budget: is the hybrid ever worse than PyVRP alone, and what did it use?

    python benchmarks/hybrid_starts.py --problem acvrp --num-instances 16
    python benchmarks/hybrid_starts.py --problem acvrptw --num-instances 16
    python benchmarks/hybrid_starts.py --files "../shared/benchmarks/cvrplib_x/X-n1[0-9]*.vrp" --name x

Side by side in one run, on the hybrid benchmark's real-city test instances (test-split cities
never trained on, seeds 1000 + i), every budget: ``pyvrp`` (nco's PyVRP with PyVRP's default
neighbourhood, seed 0: "PyVRP alone"), ``hybrid`` (its default: policy rollouts when one fits in
its 25 % share, else the arc-scorer-guided savings start; learned lists from 0.05 s) and
``pyvrp+neighbours=learned`` (goal 3: the learned lists alone, no start); ``--methods`` takes any
``nco compare`` configuration names (``hybrid+start=policy``, ``hybrid+neighbours=proximity``).
The order of the methods alternates from instance to instance so that drifting machine load does not favour one. Gap =
cost / PyVRP 10 s reference - 1 (references cached under ~/.cache/nco/neighbours/, as
``benchmarks/neighbours.py`` does), or against the best known cost of files that have one
(``--files``: CVRPLIB X with its ``.sol``; ORTEC has none, so PyVRP 10 s). Per budget the table
gives each method's mean gap, the paired
difference to PyVRP alone (mean and its standard error over instances: a difference within ~2
standard errors is noise), wins/ties/losses, and for the hybrids the share of instances on which
each start was used and the mean time the learned parts took (``neural_time``).
A time-to-quality table follows (goal 2: the PyVRP-alone budget that reaches each method's mean gap).
Writes ``benchmarks/results/hybrid_starts-PROBLEMSIZE.md`` and its gap-vs-budget plot ``.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid import city_instances  # noqa: E402
from machine import ROOT, describe, publish  # noqa: E402
from neighbours import reference  # noqa: E402

import nco  # noqa: E402
from nco.method_spec import parse_method  # noqa: E402

METHODS = ["pyvrp", "hybrid", "pyvrp+neighbours=learned"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", default="acvrp")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--num-instances", type=int, default=16)
    parser.add_argument("--budgets", default="0.02,0.05,0.1,0.2,0.5,1,2,5")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--reference-time", type=float, default=10.0)
    parser.add_argument("--files", help="instance files (a glob, read with nco.read) instead of city instances")
    parser.add_argument("--name", help="the results' name for --files (hybrid_starts-NAME.md)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    budgets = [float(b) for b in args.budgets.split(",")]
    methods = args.methods.split(",")
    specs = {method: parse_method(method) for method in methods}
    if args.files:
        paths = sorted(
            Path().glob(args.files) if not Path(args.files).is_absolute() else Path("/").glob(args.files[1:])
        )
        instances = [nco.read(path) for path in paths[: args.num_instances]]
        if not instances:
            raise SystemExit(f"no instance files match {args.files!r}")
        title = args.name or "files"
    else:
        instances = city_instances(args.problem, args.size, args.num_instances)
        title = f"{args.problem}{args.size}"
    started = time.perf_counter()
    references = [instance.best_known_cost or reference(instance, args.reference_time).cost for instance in instances]
    reference_seconds = time.perf_counter() - started
    for method in methods:  # one-time costs (imports, checkpoints, scorers, kernels) before any clock
        nco.solve(instances[0], method=specs[method].method, time_limit=0.1, **specs[method].options)

    gaps: dict[tuple[str, float], list[float]] = defaultdict(list)
    walls: dict[tuple[str, float], list[float]] = defaultdict(list)
    learned_time: dict[tuple[str, float], list[float]] = defaultdict(list)
    starts: dict[tuple[str, float], Counter[str]] = defaultdict(Counter)
    lists: dict[tuple[str, float], Counter[str]] = defaultdict(Counter)
    infeasible: Counter[tuple[str, float]] = Counter()
    for index, (instance, ref) in enumerate(zip(instances, references, strict=True)):
        order = methods if index % 2 == 0 else methods[::-1]
        for budget in budgets:
            for method in order:
                spec = specs[method]
                tic = time.perf_counter()
                solution = nco.solve(instance, method=spec.method, time_limit=budget, seed=0, **spec.options)
                walls[method, budget].append(time.perf_counter() - tic)
                if not solution.feasible:
                    infeasible[method, budget] += 1
                gaps[method, budget].append(100 * (solution.cost / ref - 1) if solution.feasible else np.nan)
                if method != "pyvrp":
                    if spec.method == "hybrid":
                        starts[method, budget][solution.info.get("start", "?")] += 1
                    lists[method, budget][str(solution.info.get("neighbours", "?"))] += 1
                    extra = (
                        solution.info.get("neighbours_time", 0.0)
                        if solution.info.get("neighbours") == "learned"
                        else 0.0
                    )
                    learned_time[method, budget].append(solution.info.get("neural_time", 0.0) + extra)
        print(f"{instance.name}: done", flush=True)

    lines = [
        f"# Hybrid starts and neighbourhoods per budget: {title}",
        "",
        f"Written by `benchmarks/hybrid_starts.py {' '.join(argv if argv is not None else sys.argv[1:])}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}. {len(instances)} instances ({', '.join(i.name for i in instances)}); "
        f"gap = cost / reference - 1 in % (reference: the best known cost where the file has one, else PyVRP "
        f"{args.reference_time:g} s); Δ = paired gap difference to `pyvrp` (negative: better) "
        "with its standard error; W/T/L = instances better / within 0.01 % / worse than `pyvrp`; method order "
        f"alternates by instance. References took {reference_seconds:.0f} s (0 when cached).",
        "",
        describe(),
        "",
        "| budget (s) | method | mean gap % | Δ vs pyvrp (± s.e.) | W/T/L | wall / budget (max) | starts used "
        "| lists | learned parts ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for budget in budgets:
        base = np.array(gaps["pyvrp", budget])
        for method in methods:
            gap = np.array(gaps[method, budget])
            diff = gap - base
            delta, se = np.nanmean(diff), np.nanstd(diff, ddof=1) / np.sqrt(np.sum(~np.isnan(diff)))
            wins, losses = int(np.sum(diff < -0.01)), int(np.sum(diff > 0.01))
            ratio = max(walls[method, budget]) / budget
            used = ", ".join(f"{k} {v}/{len(instances)}" for k, v in sorted(starts[method, budget].items())) or "—"
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(lists[method, budget].items())) or "—"
            spent = f"{1000 * np.mean(learned_time[method, budget]):.1f}" if learned_time[method, budget] else "—"
            shown = "—" if method == "pyvrp" else f"{delta:+.2f} ± {se:.2f}"
            wtl = "—" if method == "pyvrp" else f"{wins}/{len(instances) - wins - losses}/{losses}"
            note = f" ({infeasible[method, budget]} infeasible)" if infeasible[method, budget] else ""
            cells = [f"{budget:g}", f"`{method}`", f"{np.nanmean(gap):.2f}{note}", shown, wtl, f"{ratio:.2f}", used]
            lines.append("| " + " | ".join([*cells, kinds, spent]) + " |")
    means = {(m, b): float(np.nanmean(gaps[m, b])) for m in methods for b in budgets}
    lines += ["", *time_to_quality(means, methods, budgets)]
    out = ROOT / "benchmarks" / "results" / f"hybrid_starts-{title}.md"
    plot(means, methods, budgets, title, out.with_suffix(".png"))
    lines += ["", f"Mean gap against budget: `{out.with_suffix('.png').name}`."]
    publish(out, "\n".join(lines) + "\n")
    print(out.read_text())
    return 0


def equivalent_time(gap: float, budgets: list[float], curve: list[float]) -> float:
    """The budget at which a method with mean gaps ``curve`` over ``budgets`` reaches ``gap``:
    linear in log-time between the two measured budgets around it (its running minimum, so that
    a noisy rise does not count); ``nan`` outside the measured range."""
    best = np.minimum.accumulate(np.array(curve))
    if gap > best[0]:
        return float("nan")  # better than this method's smallest budget reaches: below the range
    for i in range(1, len(budgets)):
        if best[i] <= gap:
            if best[i - 1] == best[i]:
                return budgets[i]
            share = (best[i - 1] - gap) / (best[i - 1] - best[i])
            return float(np.exp(np.log(budgets[i - 1]) + share * (np.log(budgets[i]) - np.log(budgets[i - 1]))))
    return float("nan")  # not reached within the largest budget


def time_to_quality(means: dict[tuple[str, float], float], methods: list[str], budgets: list[float]) -> list[str]:
    """Goal 2's table: per budget, the time PyVRP alone needs to reach each method's mean gap
    there, and the ratio (> 1: the method reaches that quality sooner)."""
    pyvrp = [means["pyvrp", b] for b in budgets]
    others = [m for m in methods if m != "pyvrp"]
    lines = [
        "Time-to-quality: the budget PyVRP alone needs to reach each method's mean gap at a budget (log-linear "
        "between measured budgets, on PyVRP's running minimum; — where the gap lies outside PyVRP's measured "
        "range), and the ratio to that budget (x > 1: sooner than PyVRP alone). Goal 2 reads at 0.1 s (5x: "
        "PyVRP's 0.5 s quality) and ~0.33 s (3x: its 1 s quality).",
        "",
        "| budget (s) | " + " | ".join(f"`{m}`: PyVRP s (ratio)" for m in others) + " |",
        "|---|" + "---|" * len(others),
    ]
    for b in budgets:
        cells = []
        for m in others:
            t = equivalent_time(means[m, b], budgets, pyvrp)
            cells.append("—" if np.isnan(t) else f"{t:.3g} ({t / b:.1f}x)")
        lines.append(f"| {b:g} | " + " | ".join(cells) + " |")
    return lines


def plot(
    means: dict[tuple[str, float], float], methods: list[str], budgets: list[float], title: str, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for method in methods:
        axes.plot(budgets, [means[method, b] for b in budgets], marker="o", label=method)
    axes.set(xscale="log", xlabel="budget (s)", ylabel="mean gap (%)", title=f"hybrid vs PyVRP alone: {title}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    raise SystemExit(main())
