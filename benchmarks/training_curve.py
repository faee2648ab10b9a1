"""Validation gap against training time, epoch by epoch, from a run's own logs (no re-training).

    python benchmarks/training_curve.py runs/acvrp100-imit runs/acvrp100-imit-rl \\
        --out benchmarks/results/imitation_acvrp100.md

Reads the run's TensorBoard events (wall time of each logged value) and writes one markdown row
per epoch: optimizer steps, wall minutes since the run started, labels drawn from (imitation runs
that log ``train/labels``), mean training loss and accuracy of the epoch, and the in-run validation
gap (greedy POMO on the run's validation set, against its cached PyVRP references).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, publish  # noqa: E402


def _scalars(run: Path) -> dict[str, list[tuple[float, int, float]]]:
    """tag -> [(wall_time, step, value)] over every TensorBoard event file of the run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    series: dict[str, list[tuple[float, int, float]]] = {}
    for events in sorted(run.glob("logs/*/events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            series.setdefault(tag, []).extend((e.wall_time, e.step, e.value) for e in accumulator.Scalars(tag))
    if "val/gap" not in series:
        raise SystemExit(f"{run}: no validation gap logged yet (no finished epoch)")
    return series


def curve(run: Path) -> list[dict[str, float]]:
    series = _scalars(run)
    start = min(t for values in series.values() for t, _, _ in values)
    rows, previous = [], -1
    for epoch, (wall, step, gap) in enumerate(sorted(series["val/gap"])):
        within = lambda tag, low=previous, high=step: [v for _, s, v in series.get(tag, []) if low < s <= high]  # noqa: E731
        labels = within("train/labels")
        rows.append(
            dict(
                epoch=epoch + 1,
                steps=step + 1,
                minutes=(wall - start) / 60,
                gap=gap,
                loss=float(np.mean(within("train/loss") or [np.nan])),
                accuracy=float(np.mean(within("train/accuracy") or [np.nan])),
                labels=labels[-1] if labels else np.nan,
            )
        )
        previous = step
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="training runs' output directories")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--note", default="", help="a paragraph on how the runs were made (commands, load)")
    args = parser.parse_args()
    lines = ["# Validation gap by epoch", "", describe(), args.note]
    for run in args.runs:
        lines += [
            "",
            f"## `{run}`",
            "",
            "| epoch | steps | wall min | labels | train loss | train accuracy | val gap % |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in curve(run):
            shown = lambda key, digits, r=r: "" if np.isnan(r[key]) else f"{r[key]:.{digits}f}"  # noqa: E731
            lines.append(
                f"| {r['epoch']} | {r['steps']} | {r['minutes']:.1f} | {shown('labels', 0)} | {shown('loss', 3)} "
                f"| {shown('accuracy', 3)} | {r['gap']:.2f} |"
            )
    publish(args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
