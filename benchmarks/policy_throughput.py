"""Decoding throughput of the AM policy (3 layers, d=128, 8 heads) on CVRP100, batch 256:
greedy, and POMO multi-start greedy from all 100 customers — nco and rl4co side by side.

rl4co runs in its own interpreter (``--rl4co-python``, e.g. a venv with rl4co==0.7.0) because it
may pin other tensordict/lightning versions; this file re-runs itself there with ``--child rl4co``.
Multi-start on 25,600 rollouts is decoded in chunks of instances (``--chunk``) to bound memory.
nco decodes as its inference does (``nco.solve``, ``policy.solutions``): the compiled env engine,
greedy without the log-softmax (``log_likelihood=False``); rl4co as its ``decode_type="greedy"``.

    python benchmarks/policy_throughput.py --rl4co-python /tmp/rl4co-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import alternate, describe, publish  # noqa: E402  (stdlib only: also fine in the rl4co venv)

SIZE, BATCH, STARTS = 100, 256, 100


def _timings(decode, greedy_starts, multi_starts) -> dict[str, float]:
    """Seconds and decoding steps (summed over chunks) of greedy and multi-start decoding. Steps
    differ between the libraries' untrained policies (how often each returns to the depot), so
    the table also shows time per step."""
    result = {}
    for name, starts in (("greedy", greedy_starts), ("multistart", multi_starts)):
        start = time.perf_counter()
        steps = decode(starts)
        result[name] = time.perf_counter() - start
        result[f"{name}_steps"] = steps
    return result


def run_nco(chunk: int) -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from envs.env import RoutingEnv
    from envs.generators import generate
    from nco.policies import RoutingPolicy

    torch.manual_seed(0)
    policy = RoutingPolicy(model="am", dim=128, layers=3, heads=8).eval()
    env = RoutingEnv()
    batch = generate("acvrp", BATCH, SIZE, seed=0)

    def decode(starts: int) -> int:
        steps = 0
        with torch.inference_mode():
            step = chunk if starts else BATCH
            for lo in range(0, BATCH, step):
                rollout = policy.rollout(
                    env.reset(batch[lo : lo + step]), env, strategy="greedy", num_starts=starts, log_likelihood=False
                )
                steps += rollout.actions.shape[1]
        return steps

    decode(0)  # warm-up
    return _timings(decode, 0, STARTS)


def run_rl4co(chunk: int) -> dict[str, float]:
    from rl4co.envs import CVRPEnv
    from rl4co.models import AttentionModelPolicy

    torch.manual_seed(0)
    env = CVRPEnv(generator_params={"num_loc": SIZE})
    policy = AttentionModelPolicy(env_name=env.name, embed_dim=128, num_encoder_layers=3, num_heads=8).eval()
    td = env.reset(batch_size=[BATCH])

    def decode(starts: int | None) -> int:
        steps = 0
        with torch.inference_mode():
            step = chunk if starts else BATCH
            for lo in range(0, BATCH, step):
                part = td[lo : lo + step].clone()
                kind = "multistart_greedy" if starts else "greedy"
                steps += policy(part, env, phase="test", decode_type=kind, num_starts=starts, return_actions=True)[
                    "actions"
                ].shape[1]
        return steps

    decode(None)
    return _timings(decode, None, STARTS)


def _versions(python: str) -> str:
    code = (
        "import torch, tensordict, lightning; print(torch.__version__, tensordict.__version__, lightning.__version__)"
    )
    try:
        code_rl4co = code.replace("lightning;", "lightning, rl4co;").replace(
            "lightning.__version__)", "lightning.__version__, rl4co.__version__)"
        )
        return subprocess.run([python, "-c", code_rl4co], capture_output=True, text=True, check=True).stdout.strip()
    except subprocess.CalledProcessError:
        return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rl4co-python", help="interpreter with rl4co installed (omit to time nco only)")
    parser.add_argument("--chunk", type=int, default=32, help="instances per multi-start chunk")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per library (fastest kept)")
    parser.add_argument("--child", choices=["rl4co"], help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "policy_throughput.md"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(run_rl4co(args.chunk)))
        return

    notes = []
    child = None
    if args.rl4co_python:
        child = [
            args.rl4co_python,
            __file__,
            "--child",
            "rl4co",
            "--chunk",
            str(args.chunk),
            "--threads",
            str(args.threads),
        ]
        notes.append(
            f"rl4co interpreter: {args.rl4co_python} (torch, tensordict, lightning, rl4co: "
            f"{_versions(args.rl4co_python)})"
        )
    else:
        notes.append("rl4co not timed (no --rl4co-python given)")
    runs = alternate(args.rounds, lambda: run_nco(args.chunk), child)
    rows = {name: min(results, key=lambda r: r["greedy"] + r["multistart"]) for name, results in runs.items()}
    notes.append(f"Fastest of {args.rounds} alternating rounds per library")

    lines = [
        "# Policy decoding throughput: AM (3 layers, d=128, 8 heads), CVRP100, batch 256",
        "",
        describe(),
        f"torch threads {torch.get_num_threads()}.",
        *[f"{note}." for note in notes],
        f"Multi-start: {STARTS} starts x {BATCH} instances, decoded {args.chunk} instances at a time. "
        "Untrained weights (throughput only).",
        "",
        "Steps: decoding steps summed over the chunks (customers + depot returns of the longest "
        "rollout in each chunk).",
        "",
        "| library | greedy (s) | steps | ms/step | multi-start x100 greedy (s) | steps | ms/step |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {name} | {r['greedy']:.2f} | {r['greedy_steps']} | {1000 * r['greedy'] / r['greedy_steps']:.1f} "
            f"| {r['multistart']:.2f} | {r['multistart_steps']} | "
            f"{1000 * r['multistart'] / r['multistart_steps']:.1f} |"
            for name, r in rows.items()
        ],
        "",
    ]
    publish(Path(args.out), "\n".join(lines))


if __name__ == "__main__":
    main()
