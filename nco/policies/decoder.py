"""Pointer decoder: one query per step, built from the graph, the current node and the vehicle state.

The query attends over the node embeddings (multi-head glimpse), then a single-head compatibility
gives the logits, clipped with ``clip * tanh`` as in AM/POMO. The distance from the current node to
each candidate is added to the logits with a learned scale (initialised to prefer near nodes), which
hands the model the asymmetric road distance of the very next move directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DecoderCache", "PointerDecoder"]


@dataclass
class DecoderCache:
    """Projections of the node embeddings computed once per instance, reused at every step."""

    embeddings: torch.Tensor  # [B, N, d]
    graph: torch.Tensor  # [B, d]  projected mean embedding
    glimpse_key: torch.Tensor  # [B, H, N, d/H]
    glimpse_value: torch.Tensor  # [B, H, N, d/H]
    logit_key: torch.Tensor  # [B, N, d]

    def repeat(self, times: int) -> "DecoderCache":
        """The batch tiled ``times`` times (row ``r * B + b``, the env's multi-start order)."""
        if times == 1:
            return self
        return DecoderCache(*(t.repeat(times, *[1] * (t.dim() - 1)) for t in vars(self).values()))


class PointerDecoder(nn.Module):
    def __init__(self, dim: int, state_dim: int, heads: int = 8, clip: float = 10.0) -> None:
        super().__init__()
        self.heads = heads
        self.clip = clip
        self.project_nodes = nn.Linear(dim, 3 * dim, bias=False)
        self.project_graph = nn.Linear(dim, dim, bias=False)
        self.project_current = nn.Linear(dim, dim, bias=False)
        self.project_state = nn.Linear(state_dim, dim, bias=False)
        self.project_out = nn.Linear(dim, dim, bias=False)
        self.distance_scale = nn.Parameter(torch.tensor(-1.0))

    def precompute(self, embeddings: torch.Tensor) -> DecoderCache:
        batch, nodes, dim = embeddings.shape
        key, value, logit_key = self.project_nodes(embeddings).chunk(3, dim=-1)
        split = lambda t: t.view(batch, nodes, self.heads, dim // self.heads).transpose(1, 2)  # noqa: E731
        graph = self.project_graph(embeddings.mean(dim=1))
        return DecoderCache(embeddings, graph, split(key), split(value), logit_key)

    def forward(
        self,
        cache: DecoderCache,
        current: torch.Tensor,
        state: torch.Tensor,
        mask: torch.Tensor,
        distance_row: torch.Tensor,
    ) -> torch.Tensor:
        """Log-probabilities ``[B, N]`` of the next node.

        ``current [B]`` node index, ``state [B, S]`` vehicle state features, ``mask [B, N]`` True
        where the move is feasible, ``distance_row [B, N]`` scaled distance from the current node.
        """
        batch, nodes, dim = cache.embeddings.shape
        here = cache.embeddings.gather(1, current.view(batch, 1, 1).expand(batch, 1, dim)).squeeze(1)
        query = cache.graph + self.project_current(here) + self.project_state(state.to(here.dtype))
        query = query.view(batch, self.heads, 1, dim // self.heads)
        attn_mask = mask[:, None, None, :]
        glimpse = F.scaled_dot_product_attention(query, cache.glimpse_key, cache.glimpse_value, attn_mask=attn_mask)
        glimpse = self.project_out(glimpse.reshape(batch, dim))
        compat = torch.einsum("bd,bnd->bn", glimpse, cache.logit_key) / math.sqrt(dim)
        logits = self.clip * torch.tanh(compat) + self.distance_scale * distance_row.to(compat.dtype)
        logits = logits.masked_fill(~mask, float("-inf"))
        return torch.log_softmax(logits.float(), dim=-1)
