"""Decoding strategies: how the next node is chosen from the decoder's log-probabilities."""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["Strategy", "select"]

Strategy = Literal["greedy", "sampling"]


def select(log_probs: torch.Tensor, strategy: Strategy, generator: torch.Generator | None = None) -> torch.Tensor:
    """One node per row of ``log_probs [B, N]`` (infeasible nodes are ``-inf``)."""
    if strategy == "greedy":
        return log_probs.argmax(dim=-1)
    if strategy == "sampling":
        return torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(-1)
    raise ValueError(f"decoding strategy: expected 'greedy' or 'sampling', got {strategy!r}")
