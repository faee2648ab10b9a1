"""Attention policies for routing: encoders, a pointer decoder and decoding strategies."""

from nco.policies.camp import CampPolicy
from nco.policies.policy import Rollout, RoutingPolicy

__all__ = ["CampPolicy", "Rollout", "RoutingPolicy", "build_policy"]


def build_policy(**hparams):
    """The policy a checkpoint's (or a run's) hyper-parameters describe: ``model="camp"`` is the
    profile-aware policy, every other model the routing policy with that encoder."""
    return CampPolicy(**hparams) if hparams.get("model") == "camp" else RoutingPolicy(**hparams)
