"""Over- or under-fitting? Checkpoints' teacher-forcing loss on labels they trained on and on fresh ones.

    nco data label --problem acvrp --size 100 --cities train --num-instances 256 --time-limit 0.4 \
        --seed 7 --out labels/acvrp100-fresh
    python benchmarks/label_fit.py --trained labels/acvrp100 --fresh labels/acvrp100-fresh \
        runs/arms/start-rl-curriculum.pt runs/acvrp100-imit4/policy.pt

Fresh labels come from the same recipe under another ``--seed``, so no run has seen them. The loss
is training's (``nco.training.imitation``): negative log-likelihood per scored decision, each label
unrolled in ``--orderings`` route orders, the first move included; the orderings' seed is fixed, so
every checkpoint is scored on the same targets. A fresh loss well above the trained one says the run
memorises its labels and more of them would pay; equal losses say the model, not the data, is the
limit. List the runs' starting checkpoint too: it saw neither set, so its difference is how the two
sets differ by themselves (instances, label quality). The spread is the standard error over chunks
of ``--chunk`` labels (unpaired: the two sets hold different instances). Label quality matters too:
compare sets made under the same budget (``nco data label --iterations`` makes that independent of
the machine's load); ``--quality-time T`` measures it: each set's first ``--quality-count`` labels
against PyVRP given T seconds on the same instances.
Writes ``benchmarks/results/label_fit-PROBLEMSIZE.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import ROOT, describe, publish  # noqa: E402

from envs.env import RoutingEnv  # noqa: E402
from nco.training.checkpoint import load_policy  # noqa: E402
from nco.training.imitation import decision_scores, target_actions, teacher_forcing  # noqa: E402
from nco.training.labels import Label, read_shards  # noqa: E402
from nco.training.reference import reference_costs  # noqa: E402


def first_labels(directory: str, count: int) -> list[Label]:
    labels = []
    for label in read_shards(directory):
        if label.feasible:
            labels.append(label)
        if len(labels) == count:
            return labels
    raise SystemExit(f"{directory}: only {len(labels)} feasible labels, --num-labels asks for {count}")


def chunk_scores(policy, labels: list[Label], orderings: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Loss and argmax accuracy per scored decision, one value per chunk of labels."""
    env = RoutingEnv("cpu")
    losses, accuracies = [], []
    for start in range(0, len(labels), chunk):
        part = labels[start : start + chunk]
        instances = [label.instance() for label in part]
        targets = target_actions(part, instances, orderings, np.random.default_rng([0, start]))
        with torch.no_grad():
            loss, accuracy = decision_scores(teacher_forcing(policy, env.reset(instances), env, targets))
        losses.append(float(loss))
        accuracies.append(float(accuracy))
    return np.array(losses), np.array(accuracies)


def label_excess(labels: list[Label], seconds: float, cache: Path) -> np.ndarray:
    """Per label, % above what PyVRP finds in ``seconds`` on its instance."""
    references = reference_costs([label.instance() for label in labels], cache, time_limit=seconds)
    return 100 * (np.array([label.cost for label in labels]) / np.array(references) - 1)


def spread(values: np.ndarray, digits: int = 4) -> str:
    error = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return f"{values.mean():.{digits}f} ± {error:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--trained", required=True, help="label directory the checkpoints trained on")
    parser.add_argument("--fresh", required=True, help="labels of the same recipe that no run has seen")
    parser.add_argument("--num-labels", type=int, default=256, help="labels from each directory (its first ones)")
    parser.add_argument("--orderings", type=int, default=8, help="route orders per label, as the runs used")
    parser.add_argument("--chunk", type=int, default=32)
    parser.add_argument("--quality-time", type=float, default=0.0, help="PyVRP seconds to grade labels by (0: skip)")
    parser.add_argument("--quality-count", type=int, default=12, help="labels graded per set")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "nco" / "references.json")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)

    sets = {"trained": first_labels(args.trained, args.num_labels), "fresh": first_labels(args.fresh, args.num_labels)}
    problem, size = sets["trained"][0].problem, sets["trained"][0].size
    if (sets["fresh"][0].problem, sets["fresh"][0].size) != (problem, size):
        raise SystemExit(f"--fresh holds {sets['fresh'][0].problem} N={sets['fresh'][0].size}, not {problem} N={size}")
    rows = []
    for path in args.checkpoints:
        policy, _ = load_policy(path)
        policy.eval()
        scores = {name: chunk_scores(policy, labels, args.orderings, args.chunk) for name, labels in sets.items()}
        gap = scores["fresh"][0].mean() - scores["trained"][0].mean()
        rows.append(
            f"| `{path}` | {spread(scores['trained'][0])} | {spread(scores['fresh'][0])} | {gap:+.4f} "
            f"| {100 * scores['trained'][1].mean():.1f} | {100 * scores['fresh'][1].mean():.1f} |"
        )
        print(rows[-1], flush=True)

    quality = ""
    if args.quality_time > 0:
        graded = {name: labels[: args.quality_count] for name, labels in sets.items()}
        excess = {name: label_excess(labels, args.quality_time, args.cache) for name, labels in graded.items()}
        quality = (
            f"\nLabel quality, % above PyVRP {args.quality_time:g} s on the first {args.quality_count} labels of each "
            f"set (mean ± s.e.): trained {spread(excess['trained'], 2)}, fresh {spread(excess['fresh'], 2)}.\n"
        )
    trained_meta, fresh_meta = sets["trained"][0].meta, sets["fresh"][0].meta
    budget = {key: (trained_meta.get(key), fresh_meta.get(key)) for key in ("time_limit", "iterations", "seed")}
    text = (
        f"# Label fit: {problem}{size}, loss on labels trained on vs fresh ones\n\n{describe()}\n"
        f"`python benchmarks/label_fit.py --trained {args.trained} --fresh {args.fresh} ...`: the first "
        f"{args.num_labels} feasible labels of each directory, {args.orderings} route orders each (fixed seed); "
        f"loss = negative log-likelihood per scored decision (first move included), mean ± s.e. over chunks of "
        f"{args.chunk}; accuracy = share of decisions where the label's move is the policy's argmax. "
        f"Labelling (trained, fresh): {budget}.\n\n"
        "| checkpoint | loss, trained labels | loss, fresh labels | fresh - trained | accuracy trained % | "
        "accuracy fresh % |\n|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n" + quality
    )
    publish(args.out or ROOT / "benchmarks" / "results" / f"label_fit-{problem}{size}.md", text)


if __name__ == "__main__":
    main()
