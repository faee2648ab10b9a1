"""RL alone vs imitation vs imitation + RL from one checkpoint, at matched training time, on common references.

    python benchmarks/imitation_vs_rl.py \
        "start=CKPT@0" "rl=CKPT@SECONDS" ... "imitation=CKPT@SECONDS" "imitation+rl=RUN/snapshots@+SECONDS" \
        --note "how each checkpoint was made" --out benchmarks/results/imitation_vs_rl-acvrp100.md

Each argument names an arm, one of its checkpoints and the training seconds that had gone into it
(labelling time is stated in the note, not added). ``@+OFFSET`` takes the seconds from the
checkpoint itself (the ``cpu_seconds`` that ``nco train`` records, carried over resumes) plus
OFFSET, the training that came before that run (its ``--init``); a folder stands for every ``.pt``
in it, e.g. the ``snapshots/`` that ``nco train --snapshot-every`` writes. Also writes a ``.csv``
and a ``.png`` of gap against training hours beside ``--out``. Every checkpoint is measured the same way as
``benchmarks/policy_quality.py``: greedy POMO from every start and with 8 symmetries, on the
``--num-instances`` validation instances of test-split cities (seed 12345), against PyVRP
``--reference-time`` s references that all arms share (cached as policy_quality caches them), so
the arms' in-run validation curves (each against its own 1 s references, solved under different
load) need not be compared. Greedy decoding is deterministic, so each checkpoint's costs are cached
by its content (``--costs-cache``): a table re-made as the runs grow decodes only the new snapshots.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, publish  # noqa: E402

from nco.training.checkpoint import load_policy  # noqa: E402
from nco.training.data import DataSpec, load_cities, validation_instances  # noqa: E402
from nco.training.reference import instance_digest, reference_costs  # noqa: E402
from nco_core.io import atomic_path  # noqa: E402

DECODINGS = {"greedy_pomo": {}, "pomo_augment8": {"augment": True}}


def parse(entry: str) -> list[tuple[str, Path, float]]:
    """One entry's (arm, checkpoint, training seconds) rows."""
    arm, _, rest = entry.partition("=")
    path, _, seconds = rest.rpartition("@")
    if not arm or not path or not seconds:
        raise SystemExit(f"expected ARM=CHECKPOINT@SECONDS or ARM=CHECKPOINT@+OFFSET, got {entry!r}")
    paths = sorted(Path(path).glob("*.pt")) if Path(path).is_dir() else [Path(path)]
    if not paths:
        raise SystemExit(f"{entry!r}: no .pt files in {path}")
    if not seconds.startswith("+"):
        return [(arm, p, float(seconds)) for p in paths]
    rows = []
    for p in paths:
        meta = load_policy(p)[1]
        if "cpu_seconds" not in meta:
            raise SystemExit(f"{p}: no cpu_seconds in its meta (made before nco train kept its clocks); give @SECONDS")
        rows.append((arm, p, meta["cpu_seconds"] + float(seconds[1:])))
    return rows


def decoding_costs(path: Path, instances: list, cache: Path) -> dict[str, np.ndarray]:
    """Each decoding's cost per instance (``nan`` where infeasible), decoded once per checkpoint
    content and instance set and then read from ``cache``."""
    checkpoint = hashlib.sha1(path.read_bytes()).hexdigest()
    instance_set = hashlib.sha1("".join(map(instance_digest, instances)).encode()).hexdigest()
    known: dict[str, list] = json.loads(cache.read_text()) if cache.exists() else {}
    keys = {label: f"{checkpoint}:{label}:{instance_set}" for label in DECODINGS}
    if any(key not in known for key in keys.values()):
        policy, _ = load_policy(path)
        for label, options in DECODINGS.items():
            best = [solutions[0] for solutions in policy.solutions(instances, k=1, **options)]
            known[keys[label]] = [s.cost if s.feasible else None for s in best]
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as temp:
            Path(temp).write_text(json.dumps(known, indent=0))
    return {label: np.array([np.nan if c is None else c for c in known[key]], float) for label, key in keys.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("entries", nargs="+", help="ARM=CHECKPOINT@TRAINING_SECONDS")
    parser.add_argument("--problem", default="acvrp")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--num-instances", type=int, default=16)
    parser.add_argument("--reference-time", type=float, default=10.0)
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "nco" / "references.json"))
    parser.add_argument("--costs-cache", type=Path, default=Path.home() / ".cache" / "nco" / "policy-costs.json")
    parser.add_argument("--note", default="")
    parser.add_argument("--clock", default="CPU", help="what the seconds count (CPU or wall), for the headings")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    entries = [row for entry in args.entries for row in parse(entry)]
    arms = list(dict.fromkeys(arm for arm, _, _ in entries))
    entries.sort(key=lambda row: (arms.index(row[0]), row[2]))  # each arm's rows in training order
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
        f"| arm | checkpoint | training {args.clock} s | training {args.clock} h | greedy POMO gap % "
        "| x8 augmented gap % |",
        "|---|---|---|---|---|---|",
    ]
    rows = []
    for arm, path, seconds in entries:
        costs = decoding_costs(path, instances, args.costs_cache)
        greedy, augmented = (round(float(np.nanmean(100 * (costs[label] / references - 1))), 2) for label in DECODINGS)
        rows.append((arm, str(path), round(seconds), greedy, augmented))
        lines.append(f"| {arm} | `{path}` | {seconds:.0f} | {seconds / 3600:.2f} | {greedy:.2f} | {augmented:.2f} |")
        print(lines[-1], flush=True)
    out = Path(args.out)
    with atomic_path(out.with_suffix(".csv")) as temp:
        with open(temp, "w", newline="") as file:
            csv.writer(file).writerows([("arm", "checkpoint", f"{args.clock}_seconds", "greedy_gap", "x8_gap"), *rows])
    plot(rows, f"{args.problem.upper()}{args.size}", args.clock, args.reference_time, out.with_suffix(".png"))
    publish(out, "\n".join(lines) + "\n")
    return 0


def plot(rows: list[tuple], title: str, clock: str, reference_time: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for column, (axis, decoding) in enumerate(zip(axes, ("greedy POMO", "x8 augmented"), strict=True)):
        for arm in dict.fromkeys(row[0] for row in rows):
            points = sorted((row[2] / 3600, row[3 + column]) for row in rows if row[0] == arm)
            axis.plot(*zip(*points, strict=True), marker="o", label=arm)
        axis.set(xlabel=f"training {clock} hours", title=f"{title}: {decoding}")
        axis.grid(True, alpha=0.3)
    axes[0].set(ylabel=f"gap to PyVRP {reference_time:g} s (%)")
    axes[0].legend()
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=110, format="png")
    plt.close(figure)


if __name__ == "__main__":
    raise SystemExit(main())
