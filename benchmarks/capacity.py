"""Does model capacity pay on a CPU? Encoder depth and width at equal training time, and their inference cost.

    python benchmarks/capacity.py --labels labels/acvrp50 --problem acvrp --size 50 --seconds 900 \
        --arms d128-l3,d128-l6,d64-l3,d192-l3 --parallel 2

Each arm (``dDIM-lLAYERS``) trains a policy of that shape from scratch by imitation on the same labels
(same seed, batch, learning rate) for the same wall seconds on one thread; ``timeout`` stops the run,
which keeps its last finished epoch's weights (``policy.pt``), and the CPU seconds the run really used
are recorded (``os.wait4``), so arms that shared the machine unevenly can be read per CPU second.
Every arm's last weights (not its best in-run checkpoint: the in-run validation instances are the
ones measured here) are then measured as ``benchmarks/policy_quality.py`` does: greedy POMO from every
start and with 8 symmetries on ``--num-instances`` test-city instances against shared PyVRP
``--reference-time`` s references, plus inference latency on one thread: one greedy rollout (the
hybrid's fast path) and all starts, median of ``--repeats`` calls. The encoder's depth and width are
the knobs studied: the decoder (one attention glimpse and a pointer) has none.
Writes ``benchmarks/results/capacity-PROBLEMSIZE.md``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import ROOT, describe, publish  # noqa: E402
from policy_quality import measure  # noqa: E402

from nco.training.checkpoint import load_policy  # noqa: E402
from nco.training.data import DataSpec, load_cities, validation_instances  # noqa: E402
from nco.training.reference import reference_costs  # noqa: E402

DECODINGS = {"greedy_pomo": {}, "pomo_augment8": {"augment": True}}


def shape(arm: str) -> tuple[int, int]:
    match = re.fullmatch(r"d(\d+)-l(\d+)", arm)
    if not match:
        raise SystemExit(f"an arm is dDIM-lLAYERS (e.g. d128-l3), got {arm!r}")
    return int(match[1]), int(match[2])


def command(args: argparse.Namespace, arm: str) -> list[str]:
    dim, layers = shape(arm)
    return [
        "nco", "train", "--algorithm", "imitation", "--labels", args.labels, "--problem", args.problem,
        "--size", str(args.size), "--data", "real", "--model", "matrix", "--dim", str(dim), "--layers", str(layers),
        "--batch-size", str(args.batch_size), "--epochs", "100000", "--steps-per-epoch", str(args.steps_per_epoch),
        "--lr", str(args.lr), "--val-size", "8", "--seed", "0", "--no-progress", "--out", str(args.out / arm),
    ]  # fmt: skip


def train(args: argparse.Namespace, arms: list[str]) -> dict[str, dict[str, float]]:
    """Run the arms, ``--parallel`` at a time, each for ``--seconds`` of wall clock."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done: dict[str, dict[str, float]] = {}
    waiting = list(arms)
    running: dict[int, tuple[str, subprocess.Popen, float]] = {}
    stopped: set[int] = set()
    while waiting or running:
        while waiting and len(running) < args.parallel:
            arm = waiting.pop(0)
            (args.out / arm).mkdir(parents=True, exist_ok=True)
            log = open(args.out / f"{arm}.log", "w")  # noqa: SIM115 (closed with the run)
            process = subprocess.Popen(command(args, arm), env=env, stdout=log, stderr=subprocess.STDOUT)
            running[process.pid] = (arm, process, time.perf_counter())
        for _arm, process, began in running.values():  # (no poll(): wait4 below reaps the children)
            if time.perf_counter() - began >= args.seconds and process.pid not in stopped:
                process.send_signal(signal.SIGINT)  # Lightning stops after the running step, keeps policy.pt
                stopped.add(process.pid)
        pid, status, usage = os.wait4(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(1)
            continue
        arm, process, began = running.pop(pid)
        process.returncode = os.waitstatus_to_exitcode(status)
        done[arm] = {"wall": time.perf_counter() - began, "cpu": usage.ru_utime + usage.ru_stime}
        print(f"{arm}: {done[arm]}", flush=True)
    return done


def latency(policy, instance, repeats: int) -> dict[str, float]:
    """Median seconds of one greedy rollout and of greedy decoding from every start."""
    result = {}
    for label, starts in (("one_rollout", 0), ("all_starts", None)):
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            policy.solutions([instance], k=1, starts=starts)
            times.append(time.perf_counter() - began)
        result[label] = float(np.median(times))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--problem", default="acvrp")
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--arms", default="d128-l3,d128-l6,d64-l3,d192-l3")
    parser.add_argument("--seconds", type=float, default=900.0, help="training wall seconds per arm")
    parser.add_argument("--parallel", type=int, default=2, help="arms trained at once (one thread each)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps-per-epoch", type=int, default=50)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--num-instances", type=int, default=16)
    parser.add_argument("--reference-time", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "nco" / "references.json"))
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "capacity")
    parser.add_argument("--skip-training", action="store_true", help="measure the arms' existing runs in --out")
    args = parser.parse_args(argv)
    arms = args.arms.split(",")
    for arm in arms:
        shape(arm)
    used = {} if args.skip_training else train(args, arms)
    torch.set_num_threads(1)
    instances = validation_instances(
        DataSpec(args.problem, args.size, load_cities("test")), args.num_instances, seed=12345
    )
    references = np.array(reference_costs(instances, args.cache, time_limit=args.reference_time, jobs=1))
    lines = [
        f"# Model capacity at equal training time: {args.problem.upper()}{args.size}, imitation from scratch",
        "",
        f"Written by `benchmarks/capacity.py {' '.join(argv if argv is not None else sys.argv[1:])}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Each arm: imitation on `{args.labels}` for {args.seconds:g} s wall "
        f"on one thread ({args.parallel} arms at a time), batch {args.batch_size}, lr {args.lr:g}; its last weights "
        f"measured on {len(instances)} test-city instances (seed 12345) against PyVRP {args.reference_time:g} s; "
        "latency on one thread, the first instance, median of "
        f"{args.repeats} calls.",
        "",
        describe(),
        "",
        "| arm | parameters | steps | CPU s | greedy POMO gap % | x8 augmented gap % | one rollout ms "
        "| all starts ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm in arms:
        policy, meta = load_policy(args.out / arm / "policy.pt")
        figures = measure(policy, instances, references, DECODINGS)
        timing = latency(policy, instances[0], args.repeats)
        cpu = used.get(arm, {}).get("cpu", float("nan"))
        lines.append(
            f"| {arm} | {sum(p.numel() for p in policy.parameters()):,} | {meta.get('global_step', '?')} | {cpu:.0f} "
            f"| {figures['greedy_pomo']['gap_percent']:.2f} | {figures['pomo_augment8']['gap_percent']:.2f} "
            f"| {1000 * timing['one_rollout']:.1f} | {1000 * timing['all_starts']:.1f} |"
        )
        print(lines[-1], flush=True)
    publish(ROOT / "benchmarks" / "results" / f"capacity-{args.problem}{args.size}.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
