"""``nco train``: train a routing policy with REINFORCE (POMO shared or greedy-rollout baseline) or by
imitation of labelled solutions (``nco data label``)."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from nco.training.config import TrainConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train an attention policy with RL or imitation (Lightning)")
    # the arc scorer (nco/training/arcs.py) is trained by this command too, with its own config
    algorithm = next(option for option in dataclasses.fields(TrainConfig) if option.name == "algorithm")
    arcs = {
        "choices": [*algorithm.metadata["choices"], "arcs"],
        "help": f"{algorithm.metadata['help']}; arcs: the arc scorer of learned PyVRP neighbourhoods, supervised "
        "on --labels (writes OUT/arcs.pt)",
    }
    for option in dataclasses.fields(TrainConfig):
        _add_option(parser, option, **(arcs if option is algorithm else {}))
    parser.add_argument(
        "--label-limit", type=int, metavar="N", help="arcs: at most N labels from each --labels directory"
    )
    parser.set_defaults(func=run)


def _add_option(parser: argparse.ArgumentParser, option: dataclasses.Field, **override: Any) -> None:
    """``--name-with-dashes`` of the field's type (``X | None``: ``X``) and default; ``bool`` fields that are
    on by default become ``--no-name``."""
    kind = typing.get_type_hints(TrainConfig)[option.name]
    keywords = {**option.metadata, **override}
    flag = option.name.replace("_", "-")
    if kind is bool:
        parser.add_argument(f"--no-{flag}", dest=option.name, action="store_false", help=f"no {keywords['help']}")
        return
    base = next(arg for arg in typing.get_args(kind) if arg is not type(None)) if typing.get_args(kind) else kind
    if option.default is not None:
        keywords["help"] = f"{keywords['help']} (default {option.default})".lstrip()
    parser.add_argument(f"--{flag}", type=base, default=option.default, **keywords)


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
    given = {
        key: getattr(args, key)
        for key in ("epochs", "batch_size", "lr", "seed")
        if getattr(args, key) != getattr(default, key)
    }
    out = Path(args.out) / "arcs.pt"
    config = ArcsConfig(
        labels=args.labels.split(","), out=str(out), limit=args.label_limit, progress=args.progress, **given
    )
    _, card = train_arcs(config)
    best, base = card["best"], card["proximity"]
    print(
        f"arc scorer: {out} (card {out.with_suffix('.json')}); held-out recall@5 {best['recall@5']:.3f} "
        f"vs proximity {base['recall@5']:.3f}, recall@10 {best['recall@10']:.3f} vs {base['recall@10']:.3f}"
    )
    return 0
