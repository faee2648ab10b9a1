"""Graph encoders: node features (+ coordinates, + travel matrices) -> node embeddings ``[B, N, d]``.

``AttentionEncoder`` is the AM/POMO encoder: it only sees coordinates and node features, so it
assumes Euclidean-like travel. ``MatrixEncoder`` follows the ideas of RRNCO for real road data:
node embeddings also come from each node's distances to and from a sample of other nodes (fused
with the coordinate embedding by a learned gate), and every attention layer adds a learned bias
computed elementwise from the asymmetric distance/duration matrices and bearing angles, so the
direction of travel reaches the attention at O(N^2) scalars per head.

Inputs are plain tensors, already scaled by :mod:`nco.policies.features`:
``nodes [B, N, F]``, ``coords [B, N, 2] | None``, ``distance``/``duration [B, N, N]``.
"""

from __future__ import annotations

import torch
from torch import nn

from nco.policies.layers import TransformerLayer

__all__ = ["AttentionEncoder", "MatrixEncoder", "sample_matrix_features"]


class AttentionEncoder(nn.Module):
    def __init__(self, node_dim: int, dim: int = 128, layers: int = 3, heads: int = 8, norm: str = "instance") -> None:
        super().__init__()
        self.embed = nn.Linear(node_dim + 2, dim)
        self.layers = nn.ModuleList(TransformerLayer(dim, heads, 4 * dim, norm) for _ in range(layers))

    def forward(
        self,
        nodes: torch.Tensor,
        coords: torch.Tensor | None,
        distance: torch.Tensor,
        duration: torch.Tensor,
    ) -> torch.Tensor:
        if coords is None:
            raise ValueError("the 'am' encoder needs node coordinates; use the 'matrix' encoder for matrix-only data")
        x = self.embed(torch.cat([coords, nodes], dim=-1))
        for layer in self.layers:
            x = layer(x)
        return x


def sample_matrix_features(distance: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each node, distances to and from ``k`` other nodes sampled with probability ~ 1/distance.

    Sorting by outgoing distance makes the features independent of node order, and favouring near
    nodes describes the local road neighbourhood, where the asymmetry matters most. Returns
    ``[B, N, 2k]`` (sampled with replacement when fewer than ``k`` other nodes exist).
    """
    batch, nodes, _ = distance.shape
    eye = torch.eye(nodes, dtype=torch.bool, device=distance.device)
    weights = (1.0 / (distance + distance.transpose(1, 2) + 1e-3)).masked_fill(eye, 0.0)
    weights = weights.view(batch * nodes, nodes).float()
    picks = torch.multinomial(weights, k, replacement=nodes - 1 < k, generator=generator).view(batch, nodes, k)
    out = distance.gather(2, picks)
    into = distance.transpose(1, 2).gather(2, picks)
    order = out.argsort(dim=-1)
    return torch.cat([out.gather(2, order), into.gather(2, order)], dim=-1)


class EdgeBias(nn.Module):
    """Elementwise MLP over edge features (d_ij, d_ji, t_ij, t_ji, cos, sin of the bearing)
    giving one additive attention bias per head and layer."""

    def __init__(self, heads: int, layers: int, hidden: int = 16) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(6, hidden), nn.ReLU())
        self.heads = nn.ModuleList(nn.Linear(hidden, heads) for _ in range(layers))

    def forward(
        self, distance: torch.Tensor, duration: torch.Tensor, coords: torch.Tensor | None
    ) -> list[torch.Tensor]:
        if coords is None:
            angle = torch.zeros(distance.shape + (2,), dtype=distance.dtype, device=distance.device)
        else:
            delta = coords[:, None, :, :] - coords[:, :, None, :]
            angle = torch.nn.functional.normalize(delta, dim=-1)
        edges = torch.stack([distance, distance.transpose(1, 2), duration, duration.transpose(1, 2)], dim=-1)
        hidden = self.hidden(torch.cat([edges, angle], dim=-1))
        return [head(hidden).permute(0, 3, 1, 2) for head in self.heads]


class MatrixEncoder(nn.Module):
    def __init__(
        self,
        node_dim: int,
        dim: int = 128,
        layers: int = 3,
        heads: int = 8,
        norm: str = "instance",
        samples: int = 16,
    ) -> None:
        super().__init__()
        self.samples = samples
        self.coord_embed = nn.Linear(node_dim + 2, dim)
        self.matrix_embed = nn.Linear(node_dim + 4 * samples, dim)
        self.gate = nn.Linear(2 * dim, dim)
        self.bias = EdgeBias(heads, layers)
        self.layers = nn.ModuleList(TransformerLayer(dim, heads, 4 * dim, norm) for _ in range(layers))

    def forward(
        self,
        nodes: torch.Tensor,
        coords: torch.Tensor | None,
        distance: torch.Tensor,
        duration: torch.Tensor,
    ) -> torch.Tensor:
        # evaluation must be repeatable: the same batch always gets the same sampled neighbours (an
        # instance's draws depend on its position in the batch; nco.solve decodes one at a time)
        generator = None
        if not self.training:
            generator = torch.Generator(device=distance.device).manual_seed(0)
        rows = torch.cat(
            [
                sample_matrix_features(distance, self.samples, generator),
                sample_matrix_features(duration, self.samples, generator),
            ],
            dim=-1,
        )
        xy = (
            coords
            if coords is not None
            else torch.zeros(nodes.shape[:2] + (2,), dtype=nodes.dtype, device=nodes.device)
        )
        from_coords = self.coord_embed(torch.cat([xy, nodes], dim=-1))
        from_matrix = self.matrix_embed(torch.cat([rows, nodes], dim=-1))
        gate = torch.sigmoid(self.gate(torch.cat([from_coords, from_matrix], dim=-1)))
        x = gate * from_coords + (1 - gate) * from_matrix
        for layer, bias in zip(self.layers, self.bias(distance, duration, coords), strict=True):
            x = layer(x, bias)
        return x
