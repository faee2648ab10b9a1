"""The settings of one ``nco train`` run, apart from the code that runs it, so that the command
line can show its defaults without importing torch and Lightning (seconds per ``nco`` call).

Every field is an ``nco train`` option (``--batch-size`` for ``batch_size``; a ``bool`` that is on
by default becomes ``--no-<name>``): the command builds its parser from these fields and their
metadata (``help``, ``choices``, ``metavar``), so the two cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrainConfig"]


def _option(default: Any, help: str = "", **argparse: Any) -> Any:
    """A field with its command-line help and any other ``add_argument`` keywords (choices, metavar)."""
    return field(default=default, metadata={"help": help, **argparse})


@dataclass
class TrainConfig:
    algorithm: str = _option(
        "rl",
        "rl: REINFORCE/POMO on generated instances; imitation: teacher forcing on --labels",
        choices=["rl", "imitation"],
    )
    labels: str | None = _option(
        None,
        "label directory from nco data label (--algorithm imitation; arcs: several, comma-separated)",
        metavar="DIR",
    )
    orderings: int = _option(8, "imitation: route orders per label, each starting with another route")
    problem: str = _option("acvrp", "preset name from envs/presets.py (acvrp, acvrptw, atsp, ...)")
    size: int = _option(50, "customers per instance")
    data: str = _option(
        "synthetic",
        "real: city pools of --cities (synthetic when none exist); synthetic: the unit square",
        choices=["real", "synthetic"],
    )
    cities: str = _option("train", "city split to train on")
    val_cities: str = _option("test", "city split of the validation set")
    distribution: str = _option("uniform", "customer locations", choices=["uniform", "cluster", "mixed"])
    model: str = _option(
        "matrix",
        "encoder: matrix-aware or AM; camp: the profile-aware policy for profiled fleets",
        choices=["matrix", "am", "camp"],
    )
    dim: int = _option(128, "embedding width")
    layers: int = _option(3, "encoder layers")
    heads: int = _option(8, "attention heads")
    epochs: int = _option(50)
    batch_size: int = _option(64, "instances per step")
    steps_per_epoch: int = _option(100)
    num_starts: int = _option(0, "POMO starts per instance (0: one per customer)")
    baseline: str = _option(
        "shared", "REINFORCE baseline: POMO shared or greedy rollout", choices=["shared", "rollout"]
    )
    lr: float = _option(1e-4, "Adam learning rate")
    weight_decay: float = _option(1e-6, "Adam weight decay (L2)")
    grad_clip: float = _option(1.0, "gradient norm clip")
    val_size: int = _option(32, "validation instances (fixed seed)")
    reference_time: float = _option(
        1.0, "PyVRP wall-clock seconds per validation reference (with --reference-iterations: a cap)"
    )
    reference_iterations: int | None = _option(
        None, "PyVRP iterations per validation reference: gaps that do not depend on the machine's load", metavar="N"
    )
    checkpoint_every: int = _option(50, "training steps between mid-epoch checkpoints")
    snapshot_every: float = _option(
        0.0, "CPU seconds between policy snapshots OUT/snapshots/cpuN-stepK.pt (0: none)", metavar="SECONDS"
    )
    threads: int = _option(
        0, "torch threads of this process (0: torch's default, one per core; 1 for a job beside others)"
    )
    accelerator: str = _option("auto", "Lightning accelerator (cpu, gpu, auto)")
    devices: str = _option("auto", "Lightning devices (a count, or auto)")
    num_nodes: int = _option(1, "Lightning nodes")
    strategy: str = _option("auto", "Lightning strategy (ddp, auto)")
    precision: str | None = _option(None, "Lightning precision (default: bf16-mixed on GPU, 32-true otherwise)")
    seed: int = _option(0)
    out: str = _option("runs/train", "output directory (checkpoints, logs)")
    resume: str | None = _option(None, "continue from a Lightning checkpoint ('last' = OUT/last.ckpt)", metavar="CKPT")
    init: str | None = _option(
        None, "start from this policy checkpoint's weights (same model; fresh optimizer)", metavar="PT"
    )
    progress: bool = _option(True, "a progress bar")
