"""The settings of one ``nco train`` run, apart from the code that runs it, so that the command
line can show its defaults without importing torch and Lightning (seconds per ``nco`` call)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrainConfig"]


@dataclass
class TrainConfig:
    algorithm: str = "rl"  # "rl": REINFORCE/POMO on generated instances; "imitation": teacher forcing on labels
    labels: str | None = None  # label directory (nco data label) for --algorithm imitation
    orderings: int = 8  # imitation: route orders per label, each starting with another route
    problem: str = "acvrp"
    size: int = 50
    data: str = "synthetic"  # "real": city pools of ``cities`` (synthetic when none exist)
    cities: str = "train"
    val_cities: str = "test"
    distribution: str = "uniform"
    model: str = "matrix"
    dim: int = 128
    layers: int = 3
    heads: int = 8
    epochs: int = 50
    batch_size: int = 64
    steps_per_epoch: int = 100
    num_starts: int = 0  # 0: one POMO start per customer
    baseline: str = "shared"
    lr: float = 1e-4
    grad_clip: float = 1.0
    val_size: int = 32
    reference_time: float = 1.0
    checkpoint_every: int = 50  # training steps between mid-epoch checkpoints
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | None = None  # default: bf16-mixed on GPU, 32-true otherwise
    seed: int = 0
    out: str = "runs/train"
    resume: str | None = None
    init: str | None = None  # weights-only policy checkpoint to start from (curriculum), same model
    progress: bool = True
