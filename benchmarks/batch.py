"""Batch engine throughput: 1 vs 2 Dask workers, side by side in one run.

    python benchmarks/batch.py                 # about 2-3 minutes on 2 cores
    python benchmarks/batch.py --rounds 3

Kinds of task (each a fresh ``nco.batch.run_batch`` into an empty OUT, on an already started and
warmed cluster of 1 or 2 single-thread workers, the two clusters taking turns every round so load
drift hits both): PyVRP 0.5 s on ACVRP100, neural on ACVRP100 (budget 3 s, so every POMO start fits
and the work per task is equal), and tiny PyVRP tasks (0.02 s on ACVRP10) that expose the engine's own cost per task.
``overhead per task`` = (batch wall x workers - sum of task wall times) / tasks: scheduling,
transfers, the client's row and solution writes, idle cores. Quality per task is compared on the
same instances and seeds (mean cost 2 workers / 1 worker). Writes ``benchmarks/results/batch.md``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import ROOT, describe, publish  # noqa: E402

from envs.cities import city_infos  # noqa: E402
from nco.batch import Recipe, plan, run_batch  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
KINDS = {  # name: (problem, size, method, budget)
    "pyvrp 0.5 s, ACVRP100": ("acvrp", 100, "pyvrp", 0.5),
    "neural (3 s budget: all 100 starts fit), ACVRP100": ("acvrp", 100, "neural", 3.0),
    "tiny: pyvrp 0.02 s, ACVRP10": ("acvrp", 10, "pyvrp", 0.02),
}
NEURAL = list(KINDS)[1]


def recipes(problem: str, size: int, count: int) -> list[Recipe]:
    cities = [info.name for info in city_infos("test") if info.points > size]
    return [Recipe(problem, size, cities[i % len(cities)], 100 + i) for i in range(count)]


def warm() -> None:
    """Per worker, outside the timing: import the solvers, load and calibrate the ACVRP100 policy."""
    import nco

    for size, method in ((100, "neural"), (10, "pyvrp")):
        nco.solve(Recipe("acvrp", size, "oslo", 0).build(), method=method, time_limit=0.2)


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def client_write_ms(scratch: Path, rows: int = 200) -> tuple[float, float]:
    """The client's serial share of every task: one solution file and one CSV row (ms), and
    reading the rows back on resume (ms per 1000 rows)."""
    from nco.batch.store import ResultStore
    from nco.batch.tasks import Task, run_task

    recipe = Recipe("acvrp", 100, "oslo", 0)
    row, solution = run_task(recipe, Task(recipe.name, "pyvrp", 0.05))
    with ResultStore(scratch / "writes") as store:
        started = time.perf_counter()
        for i in range(rows):
            store.append(dict(row, instance=f"i{i}"), solution)
        write = (time.perf_counter() - started) / rows
        started = time.perf_counter()
        store.latest()
        read = (time.perf_counter() - started) / rows
    return 1000 * write, 1e6 * read


def plain_decodes(count: int) -> float:
    """Seconds per neural decode in this process, no Dask (after a warm-up decode)."""
    import nco

    problem, size, method, budget = KINDS[NEURAL]
    instances = [recipe.build() for recipe in recipes(problem, size, count)]
    nco.solve(instances[0], method=method, time_limit=budget)
    started = time.perf_counter()
    for instance in instances:
        nco.solve(instance, method=method, time_limit=budget)
    return (time.perf_counter() - started) / count


def machine_ceiling(count: int) -> float:
    """What two plain processes decoding at once get over one, without Dask: the speed-up this
    machine allows right now (other jobs on it included)."""
    child = [sys.executable, __file__, "--plain-decodes", str(count)]

    def seconds(done: subprocess.CompletedProcess) -> float:
        if done.returncode != 0:
            raise SystemExit(f"plain decoding child failed: {done.stderr.strip()[-500:]}")
        return float(done.stdout.strip().splitlines()[-1])

    alone = seconds(subprocess.run(child, capture_output=True, text=True))
    pair = [subprocess.Popen(child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    together = [seconds(subprocess.CompletedProcess(p.args, p.wait(), *p.communicate())) for p in pair]
    return 2 * alone / statistics.fmean(together)


def measure(address: str, workers: int, kind: str, count: int, scratch: Path) -> dict[str, float]:
    problem, size, method, budget = KINDS[kind]
    sources = recipes(problem, size, count)
    tasks = plan(sources, [method], [budget])
    out = Path(tempfile.mkdtemp(dir=scratch))
    started = time.perf_counter()
    result = run_batch(tasks, {s.name: s for s in sources}, out, scheduler=address, progress=False)
    wall = time.perf_counter() - started
    assert result.ran == len(tasks) and result.failed == 0, f"{kind}: {result.failed} failed"
    busy = sum(row["wall_time"] for row in result.rows)
    return {
        "throughput": len(tasks) / wall,
        "overhead_ms": 1000 * (wall * workers - busy) / len(tasks),
        "runtime": statistics.fmean(row["runtime"] for row in result.rows),
        "cost": statistics.fmean(row["cost"] for row in result.rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--counts", default="12,24,40", help="tasks per kind (pyvrp, neural, tiny)")
    parser.add_argument("--out", type=Path, default=RESULTS / "batch.md")
    parser.add_argument("--plain-decodes", type=int, help=argparse.SUPPRESS)  # child of machine_ceiling()
    args = parser.parse_args()
    if args.plain_decodes:
        print(plain_decodes(args.plain_decodes))
        return
    counts = dict(zip(KINDS, (int(c) for c in args.counts.split(",")), strict=True))

    from distributed import Client, LocalCluster

    clusters, addresses, start_s = {}, {}, {}
    for workers in (1, 2):
        started = time.perf_counter()
        clusters[workers] = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        addresses[workers] = clusters[workers].scheduler_address
        with Client(addresses[workers]) as client:
            start_s[workers] = time.perf_counter() - started
            client.run(warm)
            memory = max(client.run(rss_mb).values())
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="nco-batch-bench-") as scratch:
        for _ in range(args.rounds):
            for kind, count in counts.items():
                for workers in (1, 2):
                    runs.setdefault((kind, workers), []).append(
                        measure(addresses[workers], workers, kind, count, Path(scratch))
                    )
        writes = client_write_ms(Path(scratch))
    for cluster in clusters.values():
        cluster.close()
    ceiling = machine_ceiling(counts[NEURAL] // 2)
    publish(args.out, report(runs, counts, start_s, args.rounds, memory, writes, ceiling))


def report(
    runs: dict,
    counts: dict[str, int],
    start_s: dict[int, float],
    rounds: int,
    memory: float,
    writes: tuple[float, float],
    ceiling: float,
) -> str:
    def median(kind: str, workers: int, field: str) -> float:
        return statistics.median(run[field] for run in runs[(kind, workers)])

    lines = [
        "# Batch engine: 1 vs 2 Dask workers",
        "",
        f"`python benchmarks/batch.py` ({rounds} rounds, the 1- and 2-worker clusters taking turns; "
        "medians over rounds).",
        "Workers are single-thread processes of a `LocalCluster` on loopback, started and warmed before timing.",
        "",
        "| tasks | n | tasks/s 1 worker | tasks/s 2 workers | speed-up | overhead/task 1w (ms) | "
        "overhead/task 2w (ms) | mean solver time 1w / 2w (s) | mean cost 2w / 1w |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, count in counts.items():
        one, two = median(kind, 1, "throughput"), median(kind, 2, "throughput")
        lines.append(
            f"| {kind} | {count} | {one:.2f} | {two:.2f} | {two / one:.2f}x | {median(kind, 1, 'overhead_ms'):.0f} | "
            f"{median(kind, 2, 'overhead_ms'):.0f} | {median(kind, 1, 'runtime'):.3f} / "
            f"{median(kind, 2, 'runtime'):.3f} | "
            f"{median(kind, 2, 'cost') / median(kind, 1, 'cost'):.4f} |"
        )
    pyvrp, neural = list(counts)[0], NEURAL
    load = os.getloadavg()[0]
    lines += [
        "",
        f"Cluster start (scheduler + workers + client, before warm-up): 1 worker {start_s[1]:.1f} s, "
        f"2 workers {start_s[2]:.1f} s; "
        "a warmed worker (solvers imported, ACVRP100 policy loaded and calibrated) holds "
        f"{memory:.0f} MB. The client's serial "
        f"share of a task (solution JSON written atomically + one CSV row): {writes[0]:.2f} ms; "
        "reading rows back on resume: "
        f"{writes[1]:.1f} ms per 1000 rows.",
        "",
        "**The machine is shared**: other agents' jobs ran alongside (1-minute load average "
        f"{load:.1f} on 2 cores at the end), "
        "so the 2-worker figures are depressed: the two workers did not get two free cores. The mean "
        "solver time per task "
        f"shows it: neural decoding took {median(neural, 1, 'runtime'):.3f} s per instance on 1 worker and "
        f"{median(neural, 2, 'runtime'):.3f} s on 2, and two plain processes decoding the same "
        "instances at once, without "
        f"Dask, got {ceiling:.2f}x the throughput of one (measured right after): the ceiling this "
        "machine allowed, against "
        "which the engine's neural speed-up is to be read. Budgeted PyVRP tasks reach ~2x the "
        "tasks/s by construction (each "
        "stops at its budget, core or no core); whether the second worker had a real core shows in their cost instead "
        f"(mean cost 2w / 1w: {median(pyvrp, 2, 'cost') / median(pyvrp, 1, 'cost'):.4f}, i.e. fewer search iterations "
        "when it is above 1). So the goal, >= 1.8x on 2 cores *at equal quality*, is not "
        "demonstrated on this machine; it "
        "needs a quiet one to be judged.",
        "",
        "## What limits it at 100 workers (on paper)",
        "",
        "- **Scheduler**: one central Python process; Dask documents about 1 ms of scheduler "
        "overhead per task, i.e. on the "
        "order of 1000 tasks/s. 100 workers on 0.5 s tasks ask for 200 tasks/s (about a fifth of "
        "it), on 1 s tasks 100/s. "
        "Tasks below ~0.1 s (1000/s at 100 workers) make the scheduler the bottleneck: bundle "
        "several instances per task "
        "there (not implemented).",
        "- **Client (result volume)**: every result (~1 KB pickled for N=100) and every row passes "
        "through the one client, "
        f"serially, at {writes[0]:.2f} ms each here: ~{1000 / writes[0]:.0f} rows/s, well above "
        "200/s. Solution files are a "
        "few KB at N=100 (tens of KB at N=1000); 10^6 tasks give a results.csv of ~300 MB that a resume reads in "
        f"~{writes[1]:.0f} s.",
        "- **Inputs (task size)**: a generated instance travels as its recipe (~100 bytes) and is "
        "sampled on the worker; "
        "instances read from files leave the client once each (N=100: ~160 KB, N=1000: ~16 MB of matrices), so 1000 "
        "N=1000 files are 16 GB out of one network card: keep such files on shared storage (workers reading paths is "
        "not implemented).",
        f"- **Per-worker start-up and memory**: each worker imports torch and the solvers and, per checkpoint, loads, "
        "compiles and calibrates the policy (seconds, excluded from budgets but not from throughput; "
        "amortised after a "
        f"few tasks) and holds ~{memory:.0f} MB: 100 workers need ~{memory * 100 / 1024:.0f} GB across their machines.",
        "- **Submission**: every task is submitted at once; the scheduler keeps a few KB per task, "
        "so batches of millions "
        "of tasks would want submission in waves (not implemented).",
        "",
        "## Machine",
        "",
        describe(("torch", "pyvrp", "dask", "distributed")).rstrip(),
        "",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
