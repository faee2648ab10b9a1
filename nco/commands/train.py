"""``nco train``: train a routing policy with REINFORCE (POMO shared or greedy-rollout baseline) or by
imitation of labelled solutions (``nco data label``)."""

from __future__ import annotations

import argparse

from nco.training.config import TrainConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train an attention policy with RL or imitation (Lightning)")
    default = TrainConfig()
    add = parser.add_argument
    add("--algorithm", choices=["rl", "imitation", "arcs"], default=default.algorithm,
        help="rl: REINFORCE/POMO (default); imitation: teacher forcing on --labels; "
             "arcs: the arc scorer of learned PyVRP neighbourhoods, supervised on --labels (writes OUT/arcs.pt)")
    add("--labels", metavar="DIR", help="label directory from nco data label (--algorithm imitation or arcs; "
        "arcs takes several, comma-separated)")
    add("--label-limit", type=int, metavar="N", help="arcs: at most N labels from each --labels directory")
    add("--orderings", type=int, default=default.orderings,
        help="imitation: route orders per label, each starting with another route (default 8)")
    add("--problem", default="acvrp", help="preset name from envs/presets.py (acvrp, acvrptw, atsp, ...)")
    add("--size", type=int, default=50, help="customers per instance")
    add("--data", choices=["real", "synthetic"], default="synthetic", help="city pools or the unit square")
    add("--cities", default=default.cities, help="city split to train on (default train)")
    add("--val-cities", default=default.val_cities, help="city split of the validation set (default test)")
    add("--distribution", choices=["uniform", "cluster", "mixed"], default=default.distribution)
    add("--model", choices=["matrix", "am", "camp"], default=default.model,
        help="encoder: matrix-aware (default) or AM; camp: the profile-aware policy for profiled fleets")
    add("--dim", type=int, default=default.dim)
    add("--layers", type=int, default=default.layers)
    add("--heads", type=int, default=default.heads)
    add("--epochs", type=int, default=default.epochs)
    add("--batch-size", type=int, default=default.batch_size)
    add("--steps-per-epoch", type=int, default=default.steps_per_epoch)
    add("--num-starts", type=int, default=default.num_starts, help="POMO starts per instance (0 = every customer)")
    add("--baseline", choices=["shared", "rollout"], default=default.baseline)
    add("--lr", type=float, default=default.lr)
    add("--grad-clip", type=float, default=default.grad_clip)
    add("--val-size", type=int, default=default.val_size, help="validation instances (fixed seed)")
    add("--reference-time", type=float, default=default.reference_time, help="PyVRP seconds per validation reference")
    add("--checkpoint-every", type=int, default=default.checkpoint_every, help="steps between mid-epoch checkpoints")
    add("--accelerator", default=default.accelerator)
    add("--devices", default=default.devices)
    add("--num-nodes", type=int, default=default.num_nodes)
    add("--strategy", default=default.strategy)
    add("--precision", default=None, help="Lightning precision (default: bf16-mixed on GPU, 32-true on CPU)")
    add("--seed", type=int, default=default.seed)
    add("--out", default=default.out, help="output directory (checkpoints, logs)")
    add("--resume", metavar="CKPT", help="continue from a Lightning checkpoint ('last' = OUT/last.ckpt)")
    add("--init", metavar="PT", help="start from this policy checkpoint's weights (same model; fresh optimizer)")
    add("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.algorithm == "arcs":
        return _run_arcs(args)
    from nco.training.run import train

    values = {key: value for key, value in vars(args).items() if key in TrainConfig.__dataclass_fields__}
    out = train(TrainConfig(**values))
    if out is not None:
        print(f"policy: {out / 'policy.pt'}  best: {out / 'best.pt'}  resume: {out / 'last.ckpt'}")
    return 0


def _run_arcs(args: argparse.Namespace) -> int:
    """The arc scorer has its own defaults; --epochs, --batch-size, --lr and --seed override them
    only when given (the RL defaults are for another model)."""
    from pathlib import Path

    from nco.training.arcs import ArcsConfig, train_arcs

    if not args.labels:
        raise SystemExit("nco train --algorithm arcs needs --labels DIR[,DIR...] (made by nco data label)")
    default = TrainConfig()
    given = {key: getattr(args, key) for key in ("epochs", "batch_size", "lr", "seed")
             if getattr(args, key) != getattr(default, key)}
    out = Path(args.out) / "arcs.pt"
    config = ArcsConfig(labels=args.labels.split(","), out=str(out), limit=args.label_limit,
                         progress=args.progress, **given)
    _, card = train_arcs(config)
    best, base = card["best"], card["proximity"]
    print(f"arc scorer: {out} (card {out.with_suffix('.json')}); held-out recall@5 {best['recall@5']:.3f} "
          f"vs proximity {base['recall@5']:.3f}, recall@10 {best['recall@10']:.3f} vs {base['recall@10']:.3f}")
    return 0
