"""RL alone vs imitation vs imitation + RL from one checkpoint, at matched training time, on common references.

    python benchmarks/imitation_vs_rl.py \
        "start=CKPT@0" "rl=CKPT@SECONDS" ... "imitation=CKPT@SECONDS" "imitation+rl=CKPT@SECONDS" \
        --note "how each checkpoint was made" --out benchmarks/results/imitation_vs_rl-acvrp100.md

Each argument names an arm, one of its checkpoints and the training seconds that had gone into it
(labelling time is stated in the note, not added). Every checkpoint is measured the same way as
``benchmarks/policy_quality.py``: greedy POMO from every start and with 8 symmetries, on the
``--num-instances`` validation instances of test-split cities (seed 12345), against PyVRP
``--reference-time`` s references that all arms share (cached as policy_quality caches them), so
the arms' in-run validation curves (each against its own 1 s references, solved under different
load) need not be compared.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, publish  # noqa: E402
from policy_quality import measure  # noqa: E402

from nco.training.checkpoint import load_policy  # noqa: E402
from nco.training.data import DataSpec, load_cities, validation_instances  # noqa: E402
from nco.training.reference import reference_costs  # noqa: E402

DECODINGS = {"greedy_pomo": {}, "pomo_augment8": {"augment": True}}


def parse(entry: str) -> tuple[str, Path, float]:
    arm, _, rest = entry.partition("=")
    path, _, seconds = rest.rpartition("@")
    if not arm or not path or not seconds:
        raise SystemExit(f"expected ARM=CHECKPOINT@SECONDS, got {entry!r}")
    return arm, Path(path), float(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("entries", nargs="+", help="ARM=CHECKPOINT@TRAINING_SECONDS")
    parser.add_argument("--problem", default="acvrp")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--num-instances", type=int, default=16)
    parser.add_argument("--reference-time", type=float, default=10.0)
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "nco" / "references.json"))
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    entries = [parse(entry) for entry in args.entries]
    instances = validation_instances(
        DataSpec(args.problem, args.size, load_cities("test")), args.num_instances, seed=12345
    )
    started = time.perf_counter()
    references = np.array(reference_costs(instances, args.cache, time_limit=args.reference_time, jobs=1))
    reference_seconds = time.perf_counter() - started
    lines = [
        f"# RL alone vs imitation vs imitation + RL: {args.problem.upper()}{args.size}",
        "",
        f"Written by `benchmarks/imitation_vs_rl.py` on {time.strftime('%Y-%m-%d %H:%M')}: {len(instances)} "
        f"test-city instances (seed 12345), gap = mean(cost / PyVRP {args.reference_time:g} s - 1) in %, the same "
        f"references for every row (took {reference_seconds:.0f} s, 0 when cached).",
        "",
        describe(),
        "",
        args.note,
        "",
        "| arm | checkpoint | training s | greedy POMO gap % | x8 augmented gap % | ms / instance (greedy) |",
        "|---|---|---|---|---|---|",
    ]
    for arm, path, seconds in entries:
        policy, _ = load_policy(path)
        figures = measure(policy, instances, references, DECODINGS)
        greedy, augmented = figures["greedy_pomo"], figures["pomo_augment8"]
        lines.append(
            f"| {arm} | `{path}` | {seconds:.0f} | {greedy['gap_percent']:.2f} | {augmented['gap_percent']:.2f} "
            f"| {1000 * greedy['seconds_per_instance']:.0f} |"
        )
        print(lines[-1], flush=True)
    publish(args.out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
