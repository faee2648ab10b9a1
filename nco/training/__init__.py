"""RL training of routing policies with Lightning: REINFORCE, baselines, data, checkpoints."""

from nco.training.checkpoint import load_policy, save_policy

__all__ = ["load_policy", "save_policy"]
