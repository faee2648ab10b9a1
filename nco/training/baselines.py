"""REINFORCE baselines: what a rollout's reward is compared against to get its advantage.

``shared``: POMO's shared baseline, the mean reward over the rollouts of the same instance (needs
several starts or samples per instance). ``rollout``: the greedy reward of a frozen copy of the
policy (Kool et al.), replaced by the current policy at an epoch end when the current one is better
on a fixed batch.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from nco.policies.policy import RoutingPolicy

__all__ = ["RolloutBaseline", "shared_advantage"]


def shared_advantage(reward: torch.Tensor) -> torch.Tensor:
    """``reward [B, R]`` (R rollouts per instance) minus its per-instance mean."""
    if reward.shape[1] < 2:
        raise ValueError("the shared (POMO) baseline needs at least 2 rollouts per instance")
    return reward - reward.mean(dim=1, keepdim=True)


class RolloutBaseline(nn.Module):
    """A frozen greedy copy of the policy. It is a submodule, so its weights are saved in
    Lightning's checkpoint and restored on resume."""

    policy: RoutingPolicy

    def __init__(self, policy: RoutingPolicy) -> None:
        super().__init__()
        self.policy = copy.deepcopy(policy).eval().requires_grad_(False)

    def train(self, mode: bool = True) -> RolloutBaseline:
        super().train(mode)
        self.policy.eval()  # always greedy and deterministic
        return self

    def update(self, policy: nn.Module) -> None:
        self.policy.load_state_dict(policy.state_dict())
