"""Transformer building blocks shared by the encoders.

Attention takes an optional additive bias ``[B, H, N, N]`` so that edge information (asymmetric
distances, durations, angles) can enter the attention scores without O(N^2 * d) tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Normalization", "TransformerLayer"]


class Normalization(nn.Module):
    """Instance norm (POMO: statistics over the nodes of one instance) or layer norm (per node)."""

    def __init__(self, dim: int, kind: str = "instance") -> None:
        super().__init__()
        if kind not in ("instance", "layer"):
            raise ValueError(f"norm: expected 'instance' or 'layer', got {kind!r}")
        self.kind = kind
        self.norm = nn.InstanceNorm1d(dim, affine=True) if kind == "instance" else nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "instance":
            return self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.norm(x)


class TransformerLayer(nn.Module):
    """Post-norm multi-head self-attention + feed-forward block (the AM/POMO encoder layer)."""

    def __init__(self, dim: int, heads: int, ff_hidden: int, norm: str = "instance") -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"embedding dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim)
        self.norm1 = Normalization(dim, norm)
        self.ff = nn.Sequential(nn.Linear(dim, ff_hidden), nn.ReLU(), nn.Linear(ff_hidden, dim))
        self.norm2 = Normalization(dim, norm)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        batch, nodes, dim = x.shape
        q, k, v = self.qkv(x).view(batch, nodes, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        if bias is not None:
            bias = bias.to(q.dtype)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        x = self.norm1(x + self.out(attended.transpose(1, 2).reshape(batch, nodes, dim)))
        return self.norm2(x + self.ff(x))
