"""The ``nco`` console script: one sub-command per module in :mod:`nco.commands`."""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

# each module defines ``register(subparsers)``, which adds its parser and sets ``func``
COMMANDS = ["solve", "llm", "train", "data", "compare", "solve-many"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nco", description="Vehicle routing on real road networks: learned construction and refinement."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"nco.commands.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, NotImplementedError) as error:
        # user-facing failures (bad files, unsupported features) get one clear line, not a traceback
        print(f"nco {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
