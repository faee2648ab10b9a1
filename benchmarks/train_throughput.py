"""POMO training throughput on CVRP50: REINFORCE steps per second (sampling from all 50 starts,
shared baseline, backward, Adam) for the same AM policy (3 layers, d=128, 8 heads) in nco and rl4co.

Both sides run the same hand-written step (no Lightning loop), so only policy + env differ.
rl4co runs in its own interpreter (``--rl4co-python``); this file re-runs itself there.

    python benchmarks/train_throughput.py --rl4co-python /tmp/rl4co-venv/bin/python
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

SIZE = 50


def _steps_per_second(step, steps: int) -> float:
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def _reinforce(reward: torch.Tensor, log_likelihood: torch.Tensor, optimizer: torch.optim.Optimizer, params) -> None:
    """reward/log_likelihood [B, S]: POMO shared baseline."""
    advantage = reward - reward.mean(dim=1, keepdim=True)
    loss = -(advantage.detach() * log_likelihood).mean()
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()


def run_nco(batch: int, steps: int) -> float:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from envs.env import RoutingEnv
    from envs.generators import generate
    from nco.policies import RoutingPolicy

    torch.manual_seed(0)
    policy = RoutingPolicy(model="am", dim=128, layers=3, heads=8)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-4)
    env = RoutingEnv()
    seed = iter(range(10**6))

    def step() -> None:
        rollout = policy.rollout(env.reset(generate("acvrp", batch, SIZE, seed=next(seed))), env, num_starts=SIZE)
        _reinforce(
            rollout.per_instance(rollout.reward.float()),
            rollout.per_instance(rollout.log_likelihood),
            optimizer,
            policy.parameters(),
        )

    return _steps_per_second(step, steps)


def run_rl4co(batch: int, steps: int) -> float:
    from rl4co.envs import CVRPEnv
    from rl4co.models import AttentionModelPolicy
    from rl4co.utils.ops import unbatchify

    torch.manual_seed(0)
    env = CVRPEnv(generator_params={"num_loc": SIZE})
    policy = AttentionModelPolicy(env_name=env.name, embed_dim=128, num_encoder_layers=3, num_heads=8)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-4)

    def step() -> None:
        td = env.reset(batch_size=[batch])
        out = policy(td, env, phase="train", decode_type="multistart_sampling", num_starts=SIZE)
        reward = unbatchify(out["reward"], SIZE)
        log_likelihood = unbatchify(out["log_likelihood"], SIZE)
        _reinforce(reward, log_likelihood, optimizer, policy.parameters())

    return _steps_per_second(step, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rl4co-python", help="interpreter with rl4co installed (omit to time nco only)")
    parser.add_argument("--batch", type=int, default=64, help="instances per step (x50 starts)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per library (fastest kept)")
    parser.add_argument("--child", choices=["rl4co"], help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_throughput.md"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(run_rl4co(args.batch, args.steps)))
        return

    note = "rl4co not timed (no --rl4co-python given)"
    child = None
    if args.rl4co_python:
        child = [
            args.rl4co_python,
            __file__,
            "--child",
            "rl4co",
            "--batch",
            str(args.batch),
            "--steps",
            str(args.steps),
            "--threads",
            str(args.threads),
        ]
        version = subprocess.run(
            [args.rl4co_python, "-c", "import rl4co, tensordict; print(rl4co.__version__, tensordict.__version__)"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        note = f"rl4co, tensordict in its interpreter: {version}"
    runs = alternate(args.rounds, lambda: run_nco(args.batch, args.steps), child)
    rows = {name: max(rates) for name, rates in runs.items()}
    lines = [
        f"# POMO training throughput: AM (3 layers, d=128), CVRP{SIZE}, batch {args.batch} x {SIZE} starts",
        "",
        describe(),
        f"torch threads {torch.get_num_threads()}.",
        f"{note}. Mean over {args.steps} steps after one warm-up step; fastest of {args.rounds} "
        "alternating rounds per library.",
        "",
        "| library | steps/s | s/step |",
        "|---|---|---|",
        *[f"| {name} | {rate:.3f} | {1 / rate:.2f} |" for name, rate in rows.items()],
        "",
    ]
    publish(Path(args.out), "\n".join(lines))


if __name__ == "__main__":
    main()
