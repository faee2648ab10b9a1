"""Env throughput: nco's compiled rollout engine (``envs/fast.py``) and its reference ``RoutingEnv``
against rl4co 0.7.0's ``CVRPEnv`` / ``CVRPTWEnv``.

Random-policy rollouts (uniform over the action mask, the same function for both libraries) of
ACVRP100 / ACVRPTW100 with batch 1024, full episodes, at 1 and 2 torch threads. Every
(library, problem, threads) cell runs in its own fresh subprocess, so rl4co never has to be
importable next to nco: it lives only in the benchmark's venv.

How to run (rl4co is not a project dependency; its pins pull tensordict 0.14.3 / torchrl 0.14.1,
which stay inside the venv; ``--system-site-packages`` reuses the local CPU torch)::

    python -m venv --system-site-packages /tmp/bench-venv
    /tmp/bench-venv/bin/pip install rl4co==0.7.0
    python benchmarks/env_throughput.py --rl4co-python /tmp/bench-venv/bin/python

Writes ``benchmarks/results/env_throughput.md``. Timings are the best of ``--repeats`` rollouts
after one warm-up (the machine is shared; best-of is the least load-sensitive figure), wall clock.
"steps/s" counts batched steps (one ``step`` call advances all B instances), "instance-steps/s"
is B times that; "env only" times the ``step`` calls alone, without the policy. The rollout
time includes computing the reward (rl4co: the tour length from the actions, without its
solution check; nco: read off the accumulated cost). Episodes differ
in length: rl4co ends an episode at the last customer (its reward adds the way back), nco at the
depot, and nco keeps route state (time, duration slack, distance, cost) that rl4co recomputes
from coordinates at the end, so the rollout time per batch is reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = {"ACVRP": ("acvrp", "CVRPEnv"), "ACVRPTW": ("acvrptw", "CVRPTWEnv")}


def uniform_over_mask(mask: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The r-th allowed action for a uniform r: exact, and cheap enough not to hide the env."""
    count = mask.cumsum(1, dtype=torch.int32)
    r = (torch.rand(mask.shape[0], generator=generator) * count[:, -1]).int() + 1
    return torch.searchsorted(count, r.minimum(count[:, -1])[:, None]).squeeze(1)


def _nco_rollouts(problem: str, batch: int, size: int, city: str | None, repeats: int) -> list[dict]:
    from envs.env import RoutingEnv
    from envs.generators import generate

    env = RoutingEnv()
    instances = generate(PROBLEMS[problem][0], batch, size, city=city, seed=0)
    generator = torch.Generator().manual_seed(0)
    runs = []
    for _ in range(repeats + 1):
        td = env.reset(instances)
        steps, env_time, start = 0, 0.0, time.perf_counter()
        while not bool(td["done"].all()):
            td["action"] = uniform_over_mask(td["action_mask"], generator)
            tick = time.perf_counter()
            td = env.step(td)
            env_time += time.perf_counter() - tick
            steps += 1
        env.get_reward(td)
        runs.append(
            {
                "steps": steps,
                "wall": time.perf_counter() - start,
                "env": env_time,
                "complete": bool(td["complete"].all()),
            }
        )
    return runs[1:]


def _rl4co_rollouts(problem: str, batch: int, size: int, repeats: int) -> list[dict]:
    import rl4co.envs

    env = getattr(rl4co.envs, PROBLEMS[problem][1])(generator_params={"num_loc": size}, check_solution=False)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    runs = []
    for _ in range(repeats + 1):
        td = env.reset(batch_size=[batch])
        steps, env_time, start, actions = 0, 0.0, time.perf_counter(), []
        while not bool(td["done"].all()):
            td["action"] = uniform_over_mask(td["action_mask"], generator)
            actions.append(td["action"])
            tick = time.perf_counter()
            td = env.step(td)["next"]
            env_time += time.perf_counter() - tick
            steps += 1
        env.get_reward(td, torch.stack(actions, 1))  # rl4co's tour length, from the actions
        runs.append({"steps": steps, "wall": time.perf_counter() - start, "env": env_time, "complete": True})
    return runs[1:]


def _fast_rollouts(problem: str, batch: int, size: int, city: str | None, repeats: int) -> list[dict]:
    """The same random episodes through the compiled engine the policies decode with. The env's
    reset (which the engine reads its static data from) is outside the timing, as for the
    other libraries; building the engine's state is inside."""
    import numpy as np

    from envs.env import RoutingEnv
    from envs.fast import FastEnv
    from envs.generators import generate

    env = RoutingEnv()
    instances = generate(PROBLEMS[problem][0], batch, size, city=city, seed=0)
    generator = torch.Generator().manual_seed(0)
    runs = []
    for _ in range(repeats + 1):
        td = env.reset(instances)
        start = time.perf_counter()
        fast = FastEnv(td, np.arange(batch), np.ones(batch))
        steps, env_time = 0, 0.0
        while not fast.all_done():
            action = uniform_over_mask(fast.mask, generator)
            tick = time.perf_counter()
            fast.step(action)
            env_time += time.perf_counter() - tick
            steps += 1
        fast.cost  # noqa: B018  (the reward, as the other libraries compute theirs)
        runs.append(
            {
                "steps": steps,
                "wall": time.perf_counter() - start,
                "env": env_time,
                "complete": bool(fast.complete.all()),
            }
        )
    return runs[1:]


def worker(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    if args.worker in ("nco", "nco-fast"):
        rollouts = _fast_rollouts if args.worker == "nco-fast" else _nco_rollouts
        runs = rollouts(args.problem, args.batch, args.size, args.city, args.repeats)
        versions = {"tensordict": _version("tensordict")}
    else:
        runs = _rl4co_rollouts(args.problem, args.batch, args.size, args.repeats)
        versions = {"tensordict": _version("tensordict"), "rl4co": _version("rl4co"), "torchrl": _version("torchrl")}
    print(
        json.dumps({"runs": runs, "versions": versions, "torch": torch.__version__, "threads": torch.get_num_threads()})
    )


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------------------------------


def _run_worker(python: str, library: str, problem: str, threads: int, args: argparse.Namespace) -> dict:
    command = [
        python,
        str(Path(__file__).resolve()),
        "--worker",
        library,
        "--problem",
        problem,
        "--threads",
        str(threads),
    ]
    command += ["--batch", str(args.batch), "--size", str(args.size), "--repeats", str(args.repeats)]
    if args.city and library.startswith("nco"):
        command += ["--city", args.city]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if result.returncode != 0:
        return {
            "error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        }
    return json.loads(result.stdout.strip().splitlines()[-1])


def _summary(cell: dict, batch: int) -> dict:
    runs = cell["runs"]
    best_wall = min(runs, key=lambda r: r["wall"] / r["steps"])
    best_env = min(runs, key=lambda r: r["env"] / r["steps"])
    return {
        "steps": statistics.median(r["steps"] for r in runs),
        "steps_per_s": best_wall["steps"] / best_wall["wall"],
        "median_steps_per_s": statistics.median(r["steps"] / r["wall"] for r in runs),
        "env_steps_per_s": best_env["steps"] / best_env["env"],
        "instance_steps_per_s": batch * best_wall["steps"] / best_wall["wall"],
        "rollout_s": min(r["wall"] for r in runs),
        "complete": all(r["complete"] for r in runs),
    }


def _machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "envs"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "commit": commit + (" (envs/ modified)" if dirty else ""),
    }


def _default_city() -> str | None:
    """A real road-network pool when the shipped cities are there (asymmetric distance and
    duration, like the 'A' in the names), else the unit square."""
    try:
        from envs.cities import list_cities
    except ImportError:
        return None
    names = list_cities("train")
    return names[0] if names else None


def _write(path: Path, text: str) -> None:
    from nco_core.io import atomic_path  # not at the top: the rl4co worker runs this file in its own venv

    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def main(args: argparse.Namespace) -> None:
    if args.city == "auto":
        args.city = _default_city()
    machine = _machine()
    load_before = os.getloadavg()
    rows, versions = [], {}
    for threads in args.threads_list:
        for problem in PROBLEMS:
            fast = _run_worker(sys.executable, "nco-fast", problem, threads, args)
            nco = _run_worker(sys.executable, "nco", problem, threads, args)
            rl4co = (
                _run_worker(args.rl4co_python, "rl4co", problem, threads, args)
                if args.rl4co_python
                else {"error": "not run (no --rl4co-python)"}
            )
            if "versions" in nco:
                versions["tensordict"] = nco["versions"]["tensordict"]
            if "versions" in rl4co:
                versions.update(
                    {f"{k} (rl4co venv)": v for k, v in rl4co["versions"].items()},
                    **{"torch (rl4co venv)": rl4co["torch"]},
                )
            rows.append((problem, threads, {"nco-fast": fast, "nco": nco, "rl4co": rl4co}))
            print(
                problem,
                threads,
                json.dumps({k: v.get("error") or _summary(v, args.batch) for k, v in rows[-1][2].items()}),
                flush=True,
            )
    load_after = os.getloadavg()

    lines = [
        "# Env throughput: nco's compiled engine (nco-fast) and RoutingEnv (nco) vs rl4co",
        "",
        "Written by `benchmarks/env_throughput.py` (how to run: see its docstring) on "
        f"{time.strftime('%Y-%m-%d %H:%M')}.",
        f"Random policy uniform over the action mask (same function for both), batch {args.batch}, N "
        f"= {args.size}, full episodes,",
        f"best of {args.repeats} rollouts after a warm-up, each cell in a fresh process. nco instances: "
        + (f"city pool `{args.city}` (road km / minutes, asymmetric)." if args.city else "unit square (Euclidean)."),
        "rl4co: its own generators (unit square), `CVRPEnv` / `CVRPTWEnv` with `num_loc` = N.",
        "",
        f"- machine: {machine['cpu']}, {machine['cores']} cores; load average (1/5/15 min) "
        f"{' / '.join(f'{x:.2f}' for x in load_before)} before, {' / '.join(f'{x:.2f}' for x in load_after)} after "
        "(shared machine: other jobs were running)",
        f"- python {machine['python']}, torch {torch.__version__}, nco commit {machine['commit']}, "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        "",
        "| problem | threads | lib | steps/episode | steps/s | (median) | env-only steps/s | "
        "instance-steps/s | rollout s | vs rl4co steps/s | vs rl4co env-only | vs rl4co rollout |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for problem, threads, cells in rows:
        summaries = {name: None if "error" in cell else _summary(cell, args.batch) for name, cell in cells.items()}
        for name, s in summaries.items():
            if s is None:
                lines.append(f"| {problem}{args.size} | {threads} | {name} | error: {cells[name]['error']} |||||||||")
                continue
            r = summaries["rl4co"]
            if name != "rl4co" and r:
                ratio = (
                    f"| **{s['steps_per_s'] / r['steps_per_s']:.2f}x** | "
                    f"{s['env_steps_per_s'] / r['env_steps_per_s']:.2f}x | {r['rollout_s'] / s['rollout_s']:.2f}x"
                )
            else:
                ratio = "| | |"
            lines.append(
                f"| {problem}{args.size} | {threads} | {name} | {s['steps']:.0f} | "
                f"{s['steps_per_s']:.0f} | {s['median_steps_per_s']:.0f} | "
                f"{s['env_steps_per_s']:.0f} | {s['instance_steps_per_s']:.3g} | {s['rollout_s']:.3f} {ratio} |"
            )
    if args.notes:
        lines += ["", Path(args.notes).read_text().rstrip()]
    _write(Path(args.output), "\n".join(lines) + "\n")
    print("\n".join(lines))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rl4co-python", default=None, help="python of a venv with rl4co==0.7.0 (omit to run nco alone)"
    )
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads-list", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--city",
        default="auto",
        help="city pool for nco's instances; 'auto': the first shipped train city, else unit square",
    )
    parser.add_argument(
        "--notes", default=None, help="markdown file appended to the results (e.g. before/after figures)"
    )
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "env_throughput.md"))
    parser.add_argument("--worker", choices=["nco", "nco-fast", "rl4co"], help=argparse.SUPPRESS)
    parser.add_argument("--problem", choices=list(PROBLEMS), help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.worker:
        if arguments.city == "auto":
            arguments.city = None
        worker(arguments)
    else:
        main(arguments)
