"""Arc scorer: how likely each candidate arc (i, j) is to join i and j in a near-optimal solution.

It ranks the neighbour lists of PyVRP's local search (:mod:`solvers.neighbours`). The local search
is what decides quality after the first fraction of a second, and it tries the neighbours of each
client in list order, so the scorer has to be cheap (a few ms at N = 100 on one core) and only
scores O(N K) arcs: each client's K nearest by PyVRP's own proximity, not all N^2.

Features are computed from PyVRP's ``ProblemData`` (the integer model the search optimises:
arc cost, travel time, windows, demand), relative to each instance's own scale, so one model
serves any city and unit. The model is an edge MLP, a max-pool of each client's edge embeddings
(its context: how good its best alternatives are), and a second MLP over the arc, its tail's
and its head's context: a one-round graph network over the candidate graph.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyvrp
import torch
from torch import nn

from nco.io import atomic_path

__all__ = ["NUM_FEATURES", "ArcScorer", "arc_features", "load_scorer", "save_scorer"]

NUM_FEATURES = 20


def _client_data(data: pyvrp.ProblemData) -> dict[str, np.ndarray]:
    clients = data.clients()
    depot = data.depots()[0]
    windows = np.array([[depot.tw_early, depot.tw_late]] + [[c.tw_early, c.tw_late] for c in clients], dtype=np.float64)
    service = np.array([0] + [c.service_duration for c in clients], dtype=np.float64)
    demand = np.array([0] + [sum(c.delivery) + sum(c.pickup) for c in clients], dtype=np.float64)
    return {"windows": windows, "service": service, "demand": demand}


def arc_features(data: pyvrp.ProblemData, candidates: np.ndarray) -> np.ndarray:
    """``(C, K, NUM_FEATURES)`` float32 features of the arcs ``i -> candidates[i - 1, k]``.

    ``candidates`` holds location ids (clients are 1..C; node 0, the depot, never appears), one row
    per client. Vehicle profile 0 and vehicle type 0 describe the instance (the shipped variants
    have one of each).
    """
    if data.num_depots != 1:
        raise ValueError(f"arc features: one depot expected, got {data.num_depots}")
    cost = np.asarray(data.distance_matrix(0), dtype=np.float64)
    travel = np.asarray(data.duration_matrix(0), dtype=np.float64)
    num_clients, k = candidates.shape
    tails = np.arange(1, num_clients + 1)[:, None]
    heads = candidates
    info = _client_data(data)
    forward, backward = cost[tails, heads], cost[heads, tails]
    scale = max(float(np.mean(forward)), 1.0)
    # each client's nearest out- and in-neighbour among its candidates sets its local scale
    near_out = np.maximum(forward.min(axis=1, keepdims=True), 1.0)
    near_in = np.maximum(backward.min(axis=1), 1.0)[heads - 1]
    position = np.broadcast_to(np.arange(k, dtype=np.float64) / k, (num_clients, k))
    # where i stands in j's own list (k when absent): mutual neighbours are likelier route neighbours
    in_back = candidates[heads - 1] == tails[:, :, None]  # (C, K, K): is i in j's list, and where
    back_position = np.where(in_back.any(axis=2), in_back.argmax(axis=2), k) / k
    by_cost = np.argsort(np.argsort(forward, axis=1), axis=1) / k
    by_back = np.argsort(np.argsort(backward, axis=1), axis=1) / k
    to_depot, from_depot = cost[:, 0], cost[0, :]
    savings = (cost[tails, 0] + cost[0, heads] - forward) / scale
    capacity = max(float(data.vehicle_type(0).capacity[0]), 1.0)
    windows, service, demand = info["windows"], info["service"], info["demand"]
    horizon = max(windows[0, 1] - windows[0, 0], 1.0)
    arrival = windows[tails, 0] + service[tails] + travel[tails, heads]
    width = (windows[:, 1] - windows[:, 0]) / horizon
    columns = [
        forward / scale,
        backward / scale,
        np.log1p(forward / near_out),
        np.log1p(forward / near_in),
        np.log1p(backward / np.maximum(backward.min(axis=1, keepdims=True), 1.0)),
        position,
        back_position,
        by_cost,
        by_back,
        np.broadcast_to(from_depot[tails] / scale, (num_clients, k)),
        to_depot[heads] / scale,
        savings,
        np.broadcast_to(demand[tails] / capacity, (num_clients, k)),
        demand[heads] / capacity,
        np.clip((windows[heads, 0] - arrival) / horizon, -1, 1),  # waiting at j if i is served first
        np.clip((windows[heads, 1] - arrival) / horizon, -1, 1),  # < 0: j after i misses j's window
        np.broadcast_to(width[tails], (num_clients, k)),
        width[heads],
        travel[tails, heads] / max(float(np.mean(travel[tails, heads])), 1.0),
        np.clip((windows[tails, 1] - windows[heads, 0]) / horizon, -1, 1),  # j before i possible?
    ]
    return np.stack(columns, axis=-1).astype(np.float32)


class ArcScorer(nn.Module):
    """Logit per candidate arc; ``forward(features (B, C, K, F), heads (B, C, K) 0-based client ids)``."""

    def __init__(self, features: int = NUM_FEATURES, hidden: int = 64, candidates: int = 24) -> None:
        super().__init__()
        self.hparams = {"features": features, "hidden": hidden, "candidates": candidates}
        self.edge = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.out = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    @property
    def candidates(self) -> int:
        return self.hparams["candidates"]

    def forward(self, features: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
        edges = self.edge(features)  # (B, C, K, H)
        context = edges.max(dim=2).values  # (B, C, H): a client's view of its candidates
        batch, clients, k, hidden = edges.shape
        head_context = torch.gather(
            context, 1, heads.reshape(batch, clients * k, 1).expand(-1, -1, hidden)
        ).reshape(batch, clients, k, hidden)
        tail_context = context.unsqueeze(2).expand(-1, -1, k, -1)
        return self.out(torch.cat([edges, tail_context, head_context], dim=-1)).squeeze(-1)

    @torch.no_grad()
    def score(self, data: pyvrp.ProblemData, candidates: np.ndarray) -> np.ndarray:
        """``(C, K)`` logits for ``candidates`` (location ids) of one instance."""
        features = torch.from_numpy(arc_features(data, candidates))[None]
        heads = torch.from_numpy(candidates - 1)[None]
        return self(features, heads)[0].numpy()


def save_scorer(scorer: ArcScorer, path: str | os.PathLike, **card: Any) -> Path:
    """``path`` (.pt: hparams + weights, loads with ``weights_only``) and its card ``path.json``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in scorer.state_dict().items()}
    with atomic_path(path) as temp:
        torch.save({"hparams": dict(scorer.hparams), "state_dict": state}, temp)
    card = {"checkpoint": path.name, "model": dict(scorer.hparams),
            "parameters": sum(p.numel() for p in scorer.parameters()), **card}
    with atomic_path(path.with_suffix(".json")) as temp:
        Path(temp).write_text(json.dumps(card, indent=1, default=str))
    return path


def load_scorer(path: str | os.PathLike) -> ArcScorer:
    """The scorer stored at ``path`` (eval mode)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"arc scorer checkpoint {str(path)!r} does not exist") from None
    if set(payload) != {"hparams", "state_dict"}:
        raise ValueError(f"arc scorer checkpoint {str(path)!r}: expected hparams and state_dict, got {sorted(payload)}")
    scorer = ArcScorer(**payload["hparams"])
    scorer.load_state_dict(payload["state_dict"])
    return scorer.eval()
