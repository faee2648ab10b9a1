"""REINFORCE for the routing policy as a LightningModule.

Loss: ``-(advantage * log-likelihood).mean()``, the advantage coming from the POMO shared baseline
(mean over the starts of each instance) or from a greedy rollout of a frozen copy. Advantages are
divided by the instance's mean arc length so that road instances in km and unit-square ones train
with the same step size. Validation decodes a fixed set (greedy, every POMO start) and reports the
evaluator's cost against the cached reference costs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import lightning as L
import numpy as np
import torch

from envs.env import RoutingEnv
from nco.policies import build_policy
from nco.policies.features import distance_scale
from nco.training.baselines import RolloutBaseline, shared_advantage
from nco_core.instance import Instance

__all__ = ["RoutingModule"]


class RoutingModule(L.LightningModule):
    def __init__(
        self,
        policy: dict[str, Any],
        *,
        baseline: str = "shared",
        num_starts: int = 0,
        lr: float = 1e-4,
        weight_decay: float = 1e-6,
        epochs: int = 50,
        val_references: Sequence[float] = (),
    ) -> None:
        super().__init__()
        if baseline not in ("shared", "rollout"):
            raise ValueError(f"baseline: expected 'shared' or 'rollout', got {baseline!r}")
        self.save_hyperparameters(ignore=["val_references"])
        self.policy = build_policy(**policy)
        self.baseline = RolloutBaseline(self.policy) if baseline == "rollout" else None
        self.val_instances: list[Instance] = []
        self.val_references = list(val_references)
        self.baseline_batch: Any = None  # fixed TensorDict for the rollout baseline's update test
        self.last_gap = math.nan

    @property
    def env(self) -> RoutingEnv:
        return RoutingEnv(self.device)

    def training_step(self, td, batch_idx: int) -> torch.Tensor:
        env = self.env
        scale = distance_scale(td).float()
        if self.baseline is None:
            starts = self.hparams["num_starts"] or td["demand"].shape[1] - 1
            rollout = self.policy.rollout(td, env, strategy="sampling", num_starts=starts)
            reward = rollout.per_instance(rollout.reward.float())
            advantage = shared_advantage(reward) / scale[:, None]
            log_likelihood = rollout.per_instance(rollout.log_likelihood)
        else:
            with torch.no_grad():
                base = self.baseline.policy.rollout(td.clone(), env, strategy="greedy").reward.float()
            rollout = self.policy.rollout(td, env, strategy="sampling")
            reward = rollout.reward.float()[:, None]
            advantage = ((reward[:, 0] - base) / scale)[:, None]
            log_likelihood = rollout.log_likelihood[:, None]
        loss = -(advantage.detach() * log_likelihood).mean()
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/reward", reward.mean(), prog_bar=True)
        self.log("train/reward_max", reward.max(dim=1).values.mean())
        return loss

    def on_train_epoch_end(self) -> None:
        if self.baseline is None or self.baseline_batch is None:
            return
        env = self.env
        with torch.no_grad():
            current = self.policy.rollout(
                self.baseline_batch.clone().to(self.device), env, strategy="greedy"
            ).reward.mean()
            frozen = self.baseline.policy.rollout(
                self.baseline_batch.clone().to(self.device), env, strategy="greedy"
            ).reward.mean()
        if current > frozen:
            self.baseline.update(self.policy)
        self.log("train/baseline_updated", float(current > frozen))

    def validation_step(self, indices: list[int], batch_idx: int) -> None:
        instances = [self.val_instances[i] for i in indices]
        solutions = self.policy.solutions(instances, k=1)
        costs = np.array([best[0].cost if best[0].feasible else math.nan for best in solutions])
        references = np.array([self.val_references[i] for i in indices])
        gaps = 100 * (costs / references - 1)
        # with DDP each rank validates a share of the set: sync_dist averages the ranks' figures
        self.log("val/cost", float(np.nanmean(costs)), batch_size=len(indices), sync_dist=True)
        self.log("val/gap", float(np.nanmean(gaps)), prog_bar=True, batch_size=len(indices), sync_dist=True)
        self.log("val/feasible", float(np.isfinite(costs).mean()), batch_size=len(indices), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        gap = self.trainer.callback_metrics.get("val/gap")
        if gap is not None:
            self.last_gap = float(gap)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(
            self.policy.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        epochs = self.hparams.epochs
        milestones = sorted({max(1, int(0.8 * epochs)), max(1, int(0.95 * epochs))})
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
