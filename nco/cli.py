"""The ``nco`` console script: one sub-command per module in :mod:`nco.commands`.

Exit status (every sub-command): 0 success (``nco solve``: the evaluator accepts the solution),
1 ``nco solve``: the solution is infeasible, 2 bad input, usage, or a feature the method cannot model,
3 internal error, 130 interrupted. Errors are one line on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import traceback
from importlib import import_module

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
# what a user can cause and fix: malformed files and arguments (ValueError, InstanceFileError...),
# missing or unreadable paths (OSError), features a method cannot model (UnsupportedFeature), and an
# environment that lacks something (OSRM, a sandbox, a reachable server: their RuntimeError subclasses)
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, NotImplementedError)

# each module defines ``register(subparsers)``, which adds its parser and sets ``func``
COMMANDS = ["solve", "llm", "train", "data", "compare", "solve-many"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nco", description="Vehicle routing on real road networks: learned construction and refinement."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"nco.commands.{name.replace('-', '_')}").register(subparsers)
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error")
    _accept_debug_everywhere(parser)
    return parser


def _accept_debug_everywhere(parser: argparse.ArgumentParser) -> None:
    """``--debug`` may also follow any (sub-)sub-command: ``nco solve x.vrp --debug``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
                _accept_debug_everywhere(sub)


def _environment_errors() -> tuple[type[BaseException], ...]:
    """RuntimeError subclasses that mean "something this machine lacks", not a bug in nco."""
    from envs.osrm.binaries import OSRMUnavailable
    from envs.osrm.build import OSRMBuildError
    from envs.osrm.client import OSRMError

    found: list[type[BaseException]] = [OSRMUnavailable, OSRMBuildError, OSRMError]
    try:
        from nco.llm.client import ChatError
        from nco.llm.sandbox import SandboxUnavailable

        found += [ChatError, SandboxUnavailable]
    except ImportError:  # the LLM front end is optional
        pass
    return tuple(found)


def _one_line(error: BaseException) -> str:
    return " | ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__


def interruptible() -> None:
    """A command started in the background by a non-interactive shell (nohup ... &, a recipe's stage, a CI
    job) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt: `timeout -s INT` or
    `kill -INT` could not stop a training run or a labelling job cleanly (last epoch's weights, finished
    shards kept). Every command takes Ctrl-C as in a terminal."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    interruptible()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"nco {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the one place where every failure becomes an exit status
        if debug:
            traceback.print_exc()
        if isinstance(error, USER_ERRORS + _environment_errors()):
            print(f"nco {args.command}: error: {_one_line(error)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(
            f"nco {args.command}: internal error: {type(error).__name__}: {_one_line(error)}"
            + ("" if debug else " (rerun with --debug for the traceback)"),
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
