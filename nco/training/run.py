"""One training run from a plain config: data, validation references, Lightning trainer, outputs.

``algorithm="rl"`` trains by REINFORCE on generated instances (``module.py``); ``"imitation"`` by
teacher forcing on labelled solutions (``imitation.py``, labels from ``nco data label``). Both share
the validation, checkpoints and outputs below.

Output directory layout::

    out/last.ckpt        Lightning checkpoint (optimizer, loops, data position) for --resume
    out/policy.pt        policy weights + hyper-parameters after the last epoch (weights_only)
    out/best.pt          the same for the epoch with the best validation gap
    out/snapshots/       with --snapshot-every S: the policy every S CPU seconds (cpuN-stepK.pt)
    out/reference.json   cached reference costs of the validation set
    out/logs/            CSV and TensorBoard logs (tensorboard --logdir out/logs)
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from envs.env import RoutingEnv
from envs.presets import variant
from nco.training.checkpoint import (
    RESUME_WEIGHTS_ONLY,
    check_resumable,
    load_policy,
    save_policy,
)
from nco.training.config import TrainConfig
from nco.training.data import BatchStream, DataSpec, load_cities, validation_instances
from nco.training.imitation import ImitationModule, LabelStream
from nco.training.labels import Label, read_shards
from nco.training.module import RoutingModule
from nco.training.reference import reference_costs
from nco_core.io import atomic_path

__all__ = ["TrainConfig", "train"]


class _CheckpointWriter(L.Callback):
    """``last.ckpt`` every few steps and at each epoch end, written atomically; the small policy
    files (``policy.pt``, ``best.pt``) at each epoch end; with ``snapshot_every``, a policy file
    every that many CPU seconds (``snapshots/cpu{seconds}-step{step}.pt``) for gap-versus-training-time curves.

    The run's clocks (CPU seconds of this process, user + system, and wall seconds) and its best
    validation gap travel in ``last.ckpt``, so a run resumed on another day (or machine) keeps
    counting from where it stopped and does not let a worse epoch overwrite ``best.pt``. CPU time is
    what a shared machine cannot inflate: a run at low priority beside other jobs is slower on the
    wall clock, not costlier. Under DDP the figures are rank 0's process alone."""

    def __init__(self, config: TrainConfig, meta: dict[str, Any]) -> None:
        self.config, self.meta = config, meta
        self.out = Path(config.out)
        self.best = math.inf
        self.cpu_before = self.wall_before = 0.0  # spent by earlier sessions of this run (from last.ckpt)
        self.cpu_started, self.wall_started = time.process_time(), time.perf_counter()
        self.next_snapshot = self._snapshot_after(0.0)

    def _snapshot_after(self, cpu: float) -> float:
        """The CPU second of the first snapshot after ``cpu``: snapshots fall on multiples of
        ``snapshot_every``, in a resumed run too."""
        every = self.config.snapshot_every
        return (cpu // every + 1) * every if every else math.inf

    def cpu_seconds(self) -> float:
        return self.cpu_before + time.process_time() - self.cpu_started

    def wall_seconds(self) -> float:
        return self.wall_before + time.perf_counter() - self.wall_started

    def state_dict(self) -> dict[str, float]:
        return dict(
            cpu_seconds=self.cpu_seconds(),
            wall_seconds=self.wall_seconds(),
            best=self.best,
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cpu_before, self.wall_before = float(state["cpu_seconds"]), float(state["wall_seconds"])
        self.cpu_started, self.wall_started = time.process_time(), time.perf_counter()
        self.best = float(state["best"])
        self.next_snapshot = self._snapshot_after(self.cpu_before)

    def _save_full(self, trainer: L.Trainer) -> None:
        """Optimizer and loop state too (--resume needs them). Every rank takes part (Lightning gathers the
        state, then waits at a barrier) but only rank 0 writes, so only rank 0 goes through a temporary file."""
        target = self.out / "last.ckpt"
        with atomic_path(target) if trainer.is_global_zero else nullcontext(str(target)) as path:
            trainer.save_checkpoint(path, weights_only=False)

    def _meta(self, trainer: L.Trainer, module: RoutingModule, epoch: int) -> dict[str, Any]:
        return dict(
            self.meta,
            epoch=epoch,
            global_step=trainer.global_step,
            val_gap=module.last_gap,
            train_seconds=round(self.wall_seconds(), 1),
            cpu_seconds=round(self.cpu_seconds(), 1),
        )

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: Any) -> None:
        if self.config.checkpoint_every and trainer.global_step % self.config.checkpoint_every == 0:
            self._save_full(trainer)
        cpu = self.cpu_seconds()
        if cpu >= self.next_snapshot:
            assert isinstance(module, RoutingModule)
            if trainer.is_global_zero:
                meta = self._meta(trainer, module, trainer.current_epoch)
                name = f"cpu{meta['cpu_seconds']:07.0f}-step{trainer.global_step}.pt"  # sorts by CPU time
                save_policy(module.policy, self.out / "snapshots" / name, **meta)
            self.next_snapshot = self._snapshot_after(cpu)

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        assert isinstance(module, RoutingModule)
        improved = module.last_gap < self.best
        self.best = min(self.best, module.last_gap)  # before last.ckpt takes the callback's state
        self._save_full(trainer)
        if not trainer.is_global_zero:
            return
        meta = self._meta(trainer, module, trainer.current_epoch + 1)
        for logger in trainer.loggers:
            logger.log_metrics({"train/cpu_seconds": meta["cpu_seconds"]}, step=trainer.global_step)
        save_policy(module.policy, self.out / "policy.pt", **meta)
        if improved:
            save_policy(module.policy, self.out / "best.pt", **meta)


def _devices(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def train(config: TrainConfig) -> Path | None:
    """Run (or resume) training; returns the output directory (``None`` on the other DDP ranks,
    so that only rank 0 reports)."""
    if config.threads:  # two jobs of two threads each on two cores spend their CPU time waiting on each other
        torch.set_num_threads(config.threads)
    L.seed_everything(config.seed, workers=True, verbose=False)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    resume = str(out / "last.ckpt") if config.resume == "last" else config.resume
    if resume:
        check_resumable(resume)  # before any data or reference solving: a bad file fails at once
    cities = load_cities(config.cities) if config.data == "real" else ()
    val_cities = load_cities(config.val_cities) if config.data == "real" else ()
    if config.data not in ("real", "synthetic"):
        raise ValueError(f"data: expected 'real' or 'synthetic', got {config.data!r}")
    if config.algorithm not in ("rl", "imitation"):
        raise ValueError(f"algorithm: expected 'rl' or 'imitation', got {config.algorithm!r}")
    labels = _read_labels(config) if config.algorithm == "imitation" else []
    spec = DataSpec(config.problem, config.size, cities, config.distribution)  # type: ignore[arg-type]
    val_spec = DataSpec(config.problem, config.size, val_cities, config.distribution)  # type: ignore[arg-type]
    val_instances = validation_instances(val_spec, config.val_size, seed=12345)
    references = reference_costs(
        val_instances,
        out / "reference.json",
        time_limit=config.reference_time,
        iterations=config.reference_iterations,
    )

    policy_hparams = dict(model=config.model, dim=config.dim, layers=config.layers, heads=config.heads)
    module = (ImitationModule if labels else RoutingModule)(
        policy_hparams,
        baseline=config.baseline,
        num_starts=config.num_starts,
        lr=config.lr,
        weight_decay=config.weight_decay,
        epochs=config.epochs,
        val_references=references,
    )
    if config.init:
        _initialise(module, config.init)
    module.val_instances = val_instances
    if config.baseline == "rollout":
        module.baseline_batch = RoutingEnv().reset(
            spec.generate(4 * config.batch_size, np.random.default_rng([config.seed, 424242]))
        )

    gpu = config.accelerator in ("gpu", "cuda") or (config.accelerator == "auto" and torch.cuda.is_available())
    precision = config.precision or ("bf16-mixed" if gpu else "32-true")
    loggers = [L.pytorch.loggers.CSVLogger(out, name="logs"), L.pytorch.loggers.TensorBoardLogger(out, name="logs")]
    flags = dataclasses.asdict(variant(config.problem))
    meta = dict(
        problem=config.problem,
        flags=flags,
        size=config.size,
        data="real" if cities else "synthetic",
        cities=[c.name for c in cities],
        val_cities=[c.name for c in val_cities] or ["synthetic"],
        command=_command(config),
        machine=f"{platform.machine()} {platform.processor() or ''} x{os.cpu_count()}".strip(),
        torch=str(torch.__version__),
    )
    if labels:
        first = labels[0].meta
        meta.update(
            algorithm="imitation",
            labels=dict(
                directory=config.labels,
                count=len(labels),  # at the start: the stream re-reads them each epoch
                solver=first["solver"],
                time_limit=first["time_limit"],
                generator_version=first["generator_version"],
                cities=first["cities"],
                seed=first["seed"],
            ),
        )
    trainer = L.Trainer(
        max_epochs=config.epochs,
        accelerator=config.accelerator,
        devices=_devices(config.devices),
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=precision,  # type: ignore[arg-type]
        gradient_clip_val=config.grad_clip,
        logger=loggers,
        callbacks=[_CheckpointWriter(config, meta)],
        enable_checkpointing=False,
        enable_progress_bar=config.progress,
        enable_model_summary=False,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
    )
    rank = trainer.global_rank
    train_data: LabelStream | BatchStream
    if labels:
        train_data = LabelStream(
            labels,
            config.batch_size,
            config.steps_per_epoch,
            config.seed,
            config.orderings,
            rank=rank,
            world=trainer.world_size,
            reload=lambda: _read_labels(config),
        )
    else:
        train_data = BatchStream(spec, config.batch_size, config.steps_per_epoch, config.seed, rank=rank)
    # a range is a map-style dataset (len and indexing), which torch's stub does not accept as a Dataset
    val_data: torch.utils.data.DataLoader[int] = torch.utils.data.DataLoader(
        range(len(val_instances)),  # type: ignore[arg-type]
        batch_size=16,
        collate_fn=list,
    )
    trainer.fit(
        module,
        train_dataloaders=train_data,
        val_dataloaders=val_data,
        ckpt_path=resume,
        weights_only=RESUME_WEIGHTS_ONLY,
    )
    return out if trainer.is_global_zero else None


def _read_labels(config: TrainConfig) -> list[Label]:
    """Feasible labels of the run's problem and size; anything else in the directory is an error."""
    if not config.labels:
        raise ValueError("--algorithm imitation needs --labels DIR (made by nco data label)")
    labels = list(read_shards(config.labels))
    if not labels:
        raise ValueError(f"--labels {config.labels}: no label shards there")
    for label in (labels[0], labels[-1]):
        if (label.problem, label.size) != (config.problem, config.size):
            raise ValueError(
                f"--labels {config.labels}: labels are {label.problem} N={label.size}, "
                f"the run trains {config.problem} N={config.size}"
            )
    return [label for label in labels if label.feasible]


def _initialise(module: RoutingModule, path: str) -> None:
    """Start from another run's weights (e.g. N=50 for N=100: attention is size-agnostic); the
    optimizer and data start fresh. A different architecture is refused, never partially loaded."""
    source, _ = load_policy(path)
    wanted, found = module.policy.hparams, source.hparams
    differ = sorted(key for key in wanted.keys() | found.keys() if wanted.get(key) != found.get(key))
    if differ:
        detail = ", ".join(f"{key}: checkpoint {found.get(key)!r}, requested {wanted.get(key)!r}" for key in differ)
        raise ValueError(f"--init {path!r}: model differs from the requested one ({detail})")
    module.policy.load_state_dict(source.state_dict())


def _command(config: TrainConfig) -> str:
    defaults = TrainConfig()
    parts = ["nco train"]
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        always = field.name in ("problem", "size", "data", "model", "epochs")
        if (always or value != getattr(defaults, field.name)) and field.name not in ("resume", "progress"):
            parts.append(f"--{field.name.replace('_', '-')} {value}")
    return " ".join(parts)
