"""``nco llm TEXT``: a routing task in plain language -> generated program -> checked solution."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nco_core.io import atomic_path, write


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "llm",
        help="formulate and solve a routing task written in plain language, with an LLM",
        description="An OpenAI-compatible model writes a program that builds the instance and calls nco.solve; "
        "it runs sandboxed and its answer is checked by nco's evaluator. Answer quality depends on the model.",
    )
    parser.add_argument("text", help="the task in plain language, @FILE to read it from a file, or - for stdin")
    parser.add_argument(
        "--endpoint",
        help="base URL of the chat-completions API, e.g. http://localhost:8000/v1 (default: $NCO_LLM_ENDPOINT)",
    )
    parser.add_argument("--model", help="model name (default: $NCO_LLM_MODEL)")
    parser.add_argument("--api-key", help="API key (default: $NCO_LLM_API_KEY or $OPENAI_API_KEY)")
    parser.add_argument(
        "--max-rounds",
        type=int,
        default=5,
        metavar="N",
        help="model replies at most, including self-debugging and self-verification rounds (default 5)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=60.0,
        metavar="S",
        help="wall-clock seconds per run of the generated program (default 60)",
    )
    parser.add_argument("--memory-mb", type=int, default=3072, metavar="MB", help="memory limit of the program")
    parser.add_argument("--request-timeout", type=float, default=300.0, metavar="S", help="seconds per model request")
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="where bubblewrap is unavailable, run the generated code anyway, UNCONFINED, as you "
        "(it can read your files); never with a model you do not trust",
    )
    parser.add_argument("--show-code", action="store_true", help="print the generated program")
    parser.add_argument("--out", metavar="DIR", help="write instance.json, solution.json and program.py to DIR")
    parser.add_argument("--transcript", metavar="PATH", help="write the conversation as JSON")
    parser.set_defaults(func=run)


def _task_text(argument: str) -> str:
    if argument == "-":
        return sys.stdin.read()
    if argument.startswith("@"):
        return Path(argument[1:]).read_text()
    return argument


def run(args: argparse.Namespace) -> int:
    from nco.llm.client import ChatError, client_from_settings
    from nco.llm.loop import Round, formulate
    from nco.llm.sandbox import SandboxLimits, confinement_problem

    text = _task_text(args.text)
    limits = SandboxLimits(
        wall_time=args.time_limit,
        cpu_time=max(1, int(args.time_limit * 2)),
        memory_mb=args.memory_mb,
        unsafe_no_sandbox=args.unsafe_no_sandbox,
    )

    def progress(index: int, done: Round) -> None:
        problems = done.problems
        status = "ok" if not problems else f"{len(problems)} problem(s): {problems[0].splitlines()[0][:150]}"
        print(f"round {index + 1}: {status}", file=sys.stderr)

    try:
        client = client_from_settings(args.endpoint, args.model, args.api_key, timeout=args.request_timeout)
    except ChatError as error:
        print(f"nco llm: error: {error}", file=sys.stderr)
        return 2
    problem = confinement_problem()  # checked before the model is asked anything
    if problem is not None and not args.unsafe_no_sandbox:
        print(
            f"nco llm: error: {problem}.\nGenerated code is never run without OS-level confinement; "
            "--unsafe-no-sandbox runs it unconfined as you (never with an untrusted model).",
            file=sys.stderr,
        )
        return 2
    if problem is not None:
        print(
            f"nco llm: WARNING: running generated code WITHOUT A SANDBOX (--unsafe-no-sandbox): {problem}",
            file=sys.stderr,
        )
    try:
        result = formulate(text, client=client, max_rounds=args.max_rounds, limits=limits, on_round=progress)
    except ChatError as error:
        print(f"nco llm: error: {error}", file=sys.stderr)
        return 2
    if args.transcript:
        _write_text(Path(args.transcript), json.dumps(list(result.transcript), indent=1))
    if args.show_code and result.code:
        print(f"--- generated program ---\n{result.code}\n-------------------------")
    print(f"{len(result.rounds)} round(s), {result.seconds:.1f} s")
    if result.solution is None or result.instance is None:
        print("NOT SOLVED: no round produced a result")
        for problem in result.problems:
            print(f"  {problem}")
        return 1
    print(f"{result.instance!r}")
    print(result.solution)
    for r, route in enumerate(result.solution.routes):
        print(f"  route {r + 1} (vehicle type {result.solution.vehicle_types[r]}): {' '.join(map(str, route))}")
    print("VERIFIED" if result.verified else "NOT VERIFIED:")
    for problem in result.problems:
        print(f"  {problem}")
    if args.out:
        folder = Path(args.out)
        write(result.instance, folder / "instance.json")
        write(result.solution, folder / "solution.json")
        _write_text(folder / "program.py", result.code or "")
    return 0 if result.verified else 1


def _write_text(path: Path, text: str) -> None:
    """Atomic, like every file nco writes."""
    with atomic_path(path) as temp:
        Path(temp).write_text(text)
