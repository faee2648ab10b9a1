"""Quality of the shipped policies alone: gap to PyVRP on real-city instances from test-split cities.

    python benchmarks/policy_quality.py                  # every card in data/checkpoints, PyVRP 10 s
    python benchmarks/policy_quality.py --update-cards   # also write the figures into the cards
    python benchmarks/policy_quality.py --directory runs/acvrp100 --out mine.md   # a training run's policy.pt / best.pt

For each shipped checkpoint: ``--num-instances`` instances of its problem and size sampled from the
test-split city pools (the validation set ``nco train`` uses: ``validation_instances``, seed 12345),
decoded four ways (one greedy rollout, the hybrid's fast path; greedy from every POMO start; + 8
coordinate symmetries; + 128 samples), each cost from nco's evaluator against PyVRP's with
``--reference-time`` seconds per instance, beside PyVRP's own answer in ``--fast-time`` seconds (the
bar one rollout has to clear to be worth its milliseconds). Then the size scaling: every ACVRP
checkpoint on ACVRP instances of each ``--scale-sizes`` size.

PyVRP references are cached (``--cache``, keyed by instance data and time limit) and solved in
``--jobs`` processes. Writes ``benchmarks/results/policy_quality.md`` and ``.csv``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import ROOT, describe, publish  # noqa: E402

from nco.training.checkpoint import load_policy  # noqa: E402
from nco.training.data import DataSpec, load_cities, validation_instances  # noqa: E402
from nco.training.reference import reference_costs  # noqa: E402
from nco_core.io import atomic_path  # noqa: E402
from nco_core.paths import shipped_data  # noqa: E402

CHECKPOINTS = shipped_data("checkpoints")
RESULTS = ROOT / "benchmarks" / "results"
DECODINGS = {
    "one_start": {"starts": 0},
    "greedy_pomo": {},
    "pomo_augment8": {"augment": True},
    "pomo_plus_128_samples": {"samples": 128},
}


def measure(policy, instances, references: np.ndarray, decodings: dict[str, dict]) -> dict[str, dict]:
    """Mean gap (%), feasible share and seconds per instance of each decoding."""
    policy.solutions(instances[:1], k=1, starts=0)  # one-time set-up (kernels, caches) is not a decoding's time
    result = {}
    for label, options in decodings.items():
        start = time.perf_counter()
        best = [solutions[0] for solutions in policy.solutions(instances, k=1, **options)]
        seconds = (time.perf_counter() - start) / len(instances)
        costs = np.array([s.cost if s.feasible else np.nan for s in best])
        result[label] = {
            "gap_percent": round(float(np.nanmean(100 * (costs / references - 1))), 2),
            "feasible": float(np.isfinite(costs).mean()),
            "seconds_per_instance": round(seconds, 3),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--directory",
        default=str(CHECKPOINTS),
        help="folder of checkpoints (shipped ones with cards, or a training run's out/)",
    )
    parser.add_argument("--checkpoints", default="", help="comma-separated card names (default: every card)")
    parser.add_argument("--num-instances", type=int, default=32)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--reference-time", type=float, default=10.0, help="PyVRP seconds per instance")
    parser.add_argument("--fast-time", type=float, default=0.02, help="PyVRP seconds of the fast comparison")
    parser.add_argument("--scale-sizes", default="50,100,200", help="ACVRP sizes for the scaling table ('' = skip)")
    parser.add_argument("--jobs", type=int, default=2, help="processes solving references")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "nco" / "references.json"))
    parser.add_argument("--update-cards", action="store_true", help="write each checkpoint's figures into its card")
    parser.add_argument("--out", default=str(RESULTS / "policy_quality.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # the reference jobs get the other cores

    directory = Path(args.directory)
    checkpoints = sorted(directory.glob("*.pt"))
    if args.checkpoints:
        wanted = set(args.checkpoints.split(","))
        checkpoints = [p for p in checkpoints if p.stem in wanted]
    loaded = [(path, *load_policy(path)) for path in checkpoints]
    if not args.checkpoints:  # CAMP policies are scored by their own objective (benchmarks/camp.py), not by this gap
        loaded = [item for item in loaded if item[1].hparams.get("model") != "camp"]
    loaded.sort(key=lambda item: (item[2]["size"], item[0].name))
    cities = load_cities("test")

    @functools.cache
    def instances_of(problem: str, size: int) -> tuple[list, np.ndarray]:
        instances = validation_instances(DataSpec(problem, size, cities), args.num_instances, seed=args.seed)
        references = reference_costs(instances, args.cache, time_limit=args.reference_time, jobs=args.jobs)
        return instances, np.array(references)

    @functools.cache
    def pyvrp_fast(problem: str, size: int) -> dict:
        """PyVRP's own answer in ``--fast-time`` seconds, in a decoding's figures: the bar for one rollout."""
        instances, references = instances_of(problem, size)
        # one process, so that each short solve has a core as the policies' decoding has
        costs = np.array(reference_costs(instances, args.cache, time_limit=args.fast_time, jobs=1))
        return {
            "gap_percent": round(float(np.mean(100 * (costs / references - 1))), 2),
            "feasible": float(np.isfinite(costs).mean()),
            "seconds_per_instance": args.fast_time,
        }

    rows, scale_rows = [], []
    for checkpoint, policy, meta in loaded:
        # a shipped checkpoint has a card; a training run's policy.pt / best.pt only its meta
        path = checkpoint.with_suffix(".json")
        card = (
            json.loads(path.read_text())
            if path.exists()
            else dict(checkpoint=checkpoint.name, meta=meta, **{k: meta[k] for k in ("problem", "size")})
        )
        instances, references = instances_of(card["problem"], card["size"])
        figures = measure(policy, instances, references, DECODINGS)
        figures["pyvrp_fast"] = pyvrp_fast(card["problem"], card["size"])
        rows.append((card, figures))
        if args.update_cards and path.exists():
            card["validation"] = {
                "instances": len(instances),
                "seed": args.seed,
                "cities": "test split",
                "reference": f"PyVRP (nco.solve method='pyvrp') {args.reference_time:g} s per instance, seed 0",
                **figures,
            }
            with atomic_path(path) as temp:
                Path(temp).write_text(json.dumps(card, indent=1, default=str))
        if card["problem"] == "acvrp" and args.scale_sizes:
            for size in map(int, args.scale_sizes.split(",")):
                instances, references = instances_of("acvrp", size)
                decodings = {k: DECODINGS[k] for k in ("greedy_pomo", "pomo_augment8")}
                scale_rows.append((card["checkpoint"], size, measure(policy, instances, references, decodings)))

    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["checkpoint", "instances_n", "decoding", "gap_percent", "feasible", "seconds_per_instance"])
    for card, figures in rows:
        for label, f in figures.items():
            writer.writerow(
                [card["checkpoint"], card["size"], label, f["gap_percent"], f["feasible"], f["seconds_per_instance"]]
            )
    for name, size, figures in scale_rows:
        for label, f in figures.items():
            writer.writerow([name, size, label, f["gap_percent"], f["feasible"], f["seconds_per_instance"]])
    csv_path = Path(args.out).with_suffix(".csv")
    with atomic_path(csv_path) as temp:
        Path(temp).write_text(table.getvalue())

    def cell(f: dict) -> str:
        return f"{f['gap_percent']:.2f} ({f['seconds_per_instance']:.3f} s)" + (
            "" if f["feasible"] == 1 else f", {f['feasible']:.0%} feasible"
        )

    lines = [
        "# Policy quality: gap of the shipped checkpoints to PyVRP on test-split real-city instances",
        "",
        describe(),
        f"{args.num_instances} instances per row (validation set, seed {args.seed}, cities never used in training); "
        f"reference PyVRP {args.reference_time:g} s per instance; gap = mean(cost / reference - 1) in %, "
        "decoding time per instance in brackets (1 torch thread); PyVRP in "
        f"{args.fast_time:g} s on the same instances is the bar for one rollout. "
        "`python benchmarks/policy_quality.py`",
        "",
        f"| checkpoint | problem | n | training (s) | PyVRP {args.fast_time:g} s | greedy, one start | greedy, every "
        "POMO start | + 8x augment | + 128 samples |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for card, f in rows:
        lines.append(
            f"| `{card['checkpoint']}` | {card['problem']} | {card['size']} | {card.get('training_wall_seconds', '?')} "
            f"| {f['pyvrp_fast']['gap_percent']:.2f} | {cell(f['one_start'])} | {cell(f['greedy_pomo'])} "
            f"| {cell(f['pomo_augment8'])} | {cell(f['pomo_plus_128_samples'])} |"
        )
    if scale_rows:
        lines += [
            "",
            "## Size scaling (ACVRP checkpoints on ACVRP instances of other sizes)",
            "",
            "| checkpoint | instances n | greedy, every POMO start | + 8x augment |",
            "|---|---|---|---|",
            *[
                f"| `{name}` | {size} | {cell(f['greedy_pomo'])} | {cell(f['pomo_augment8'])} |"
                for name, size, f in scale_rows
            ],
        ]
    publish(Path(args.out), "\n".join(lines) + "\n")
    if args.update_cards:  # the table lists every card, also those not measured in this run
        update_card_table(directory / "README.md", table_cards(directory), args.fast_time)


def table_cards(directory: Path) -> list[dict]:
    """The cards of the README's table: every measured one but the CAMP policies (camp-cards.md has
    theirs), smallest size first, as the policies are loaded."""
    cards = [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]
    kept = [c for c in cards if "validation" in c and c.get("model", {}).get("model") != "camp"]
    return sorted(kept, key=lambda card: (card["size"], card["checkpoint"]))


def update_card_table(readme: Path, cards: list[dict], fast_time: float) -> None:
    """Rewrite the table between the ``<!-- cards -->`` markers of the checkpoints' README."""

    def gaps(validation: dict) -> str:
        """Every column of the table; a card measured before a column existed shows a dash there."""
        keys = ["pyvrp_fast", *DECODINGS, "instances"]
        figure = lambda v: str(v) if isinstance(v, int) else f"{v['gap_percent']:.2f}"  # noqa: E731
        return " | ".join(figure(validation[k]) if k in validation else "–" for k in keys)

    def imitation(stage: dict) -> str:
        taught = stage.get("algorithm") == "imitation" or "--algorithm imitation" in stage.get("command", "")
        return " (imitation)" if taught else ""

    def stages(card: dict) -> str:
        curriculum = card.get("curriculum") or [
            dict(size=card["size"], epochs=card["meta"]["epoch"], steps=card["meta"]["global_step"])
        ]
        return (
            " → ".join(f"{c['size']}×{c['epochs']}{imitation(c)}" for c in curriculum)
            + f" | {sum(c['steps'] for c in curriculum)}"
        )

    table = [
        f"| checkpoint | problem | n | stages (N × epochs) | steps | train s | PyVRP {fast_time:g} s % | one start % | "
        "greedy POMO % | + 8x augment % | + 128 samples % | instances |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[
            f"| `{c['checkpoint']}` | {c['problem']} | {c['size']} | {stages(c)} | "
            f"{c.get('training_wall_seconds', '?')} | {gaps(c['validation'])} |"
            for c in cards
        ],
    ]
    text = readme.read_text()
    start, end = text.index("<!-- cards -->") + len("<!-- cards -->"), text.index("<!-- /cards -->")
    with atomic_path(readme) as temp:
        Path(temp).write_text(text[:start] + "\n" + "\n".join(table) + "\n" + text[end:])


if __name__ == "__main__":
    main()
