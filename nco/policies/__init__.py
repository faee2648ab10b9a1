"""Attention policies for routing: encoders, a pointer decoder and decoding strategies."""

from nco.policies.policy import Rollout, RoutingPolicy

__all__ = ["Rollout", "RoutingPolicy"]
