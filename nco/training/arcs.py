"""Supervised training of the arc scorer (:mod:`nco.policies.arcs`) on labelled solutions.

Labels are the shards of ``nco data label`` (:mod:`nco.training.labels`: PyVRP solutions of
train-city instances; test places are never labelled). For every client ``i`` and each candidate
``j`` among its ``K`` nearest by PyVRP's proximity, the target is 1 when ``j`` is ``i``'s
predecessor or successor in the labelled solution: PyVRP's operators pair a client with each
neighbour in both directions, so both arcs are the ones worth trying first (the oracle
neighbourhood of benchmarks/neighbours.py puts them first). Loss: binary cross-entropy.

What counts is the ranking, so validation reports the recall of the labelled solution's arcs in
the first 5 / 10 entries of the learned list against PyVRP's proximity list, on held-out labels.
"""

from __future__ import annotations

import math
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nco.policies.arcs import ArcScorer, arc_features, save_scorer
from nco.training.labels import read_shards

__all__ = ["ArcsConfig", "Example", "evaluate", "examples", "train_arcs"]


@dataclass
class Example:
    """One labelled instance as the scorer sees it."""

    data: Any  # pyvrp.ProblemData
    params: Any  # pyvrp NeighbourhoodParams
    routes: list[list[int]]
    features: torch.Tensor  # (C, K, F)
    heads: torch.Tensor  # (C, K) 0-based client ids
    targets: torch.Tensor  # (C, K) 1 = route neighbour


@dataclass
class ArcsConfig:
    labels: Sequence[str] = ()
    out: str = "runs/arcs/arcs.pt"
    candidates: int = 24
    hidden: int = 32
    rounds: int = 2
    loss: str = "listwise"  # softmax over each client's candidates (+1 pt recall@5 over "bce", measured)
    epochs: int = 30
    batch_size: int = 16
    lr: float = 2e-3
    val_fraction: float = 0.1  # the last labels (of the last directory) are held out
    limit: int | None = None  # at most this many labels from each directory (all by default)
    seed: int = 0
    progress: bool = False  # print each epoch's figures
    notes: dict[str, Any] = field(default_factory=dict)


def _neighbour_targets(routes: list[list[int]], candidates: np.ndarray) -> np.ndarray:
    """(C, K) 1.0 where the candidate is the client's predecessor or successor (depot excluded)."""
    pred = np.zeros(candidates.shape[0] + 1, dtype=np.int64)
    succ = np.zeros_like(pred)
    for route in routes:
        pred[route[1:]] = route[:-1]
        succ[route[:-1]] = route[1:]
    tails = np.arange(1, candidates.shape[0] + 1)[:, None]
    return ((candidates == pred[tails]) | (candidates == succ[tails])).astype(np.float32)


def examples(instances_and_routes, candidates: int) -> list[Example]:
    """Features and targets of (instance, routes) pairs; infeasible labels must be dropped before."""
    from solvers.neighbours import proximity
    from solvers.pyvrp_solver import build_data, solver_params
    from solvers.scaling import integer_data

    out = []
    for instance, routes in instances_and_routes:
        scaled = integer_data(instance)
        data = build_data(instance, scaled)
        params = solver_params(scaled).neighbourhood
        lists = proximity(data, params, candidates)
        out.append(
            Example(
                data=data,
                params=params,
                routes=routes,
                features=torch.from_numpy(arc_features(data, lists)),
                heads=torch.from_numpy(lists - 1),
                targets=torch.from_numpy(_neighbour_targets(routes, lists)),
            )
        )
    return out


def _labelled(
    directories: Sequence[str], limit: int | None
) -> tuple[list[tuple[Any, list[list[int]]]], dict[str, Any]]:
    """Feasible (instance, routes) pairs and what the labels were (problems, sizes, solver time)."""
    pairs, kinds = [], set()
    for directory in directories:
        for taken, label in enumerate(read_shards(directory)):
            if limit is not None and taken >= limit:
                break
            if label.feasible:
                pairs.append((label.instance(), label.routes))
                kinds.add((label.problem, label.size, label.meta["solver"], label.meta["time_limit"]))
    if not pairs:
        raise ValueError(f"labels {list(directories)}: no feasible labelled solutions")
    problems, sizes, solvers, limits = (sorted({kind[i] for kind in kinds}) for i in range(4))
    return pairs, {"problems": problems, "sizes": sizes, "label_solver": solvers, "label_time_limit": limits}


def _batches(items: list[Example], batch_size: int, generator: torch.Generator):
    """Mini-batches of same-shaped examples (instances of one size stack)."""
    by_shape: dict[tuple, list[Example]] = {}
    for item in items:
        by_shape.setdefault(tuple(item.features.shape), []).append(item)
    batches = []
    for group in by_shape.values():
        order = torch.randperm(len(group), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            batches.append([group[i] for i in order[start : start + batch_size]])
    for i in torch.randperm(len(batches), generator=generator).tolist():
        batch = batches[i]
        yield (
            torch.stack([b.features for b in batch]),
            torch.stack([b.heads for b in batch]),
            torch.stack([b.targets for b in batch]),
        )


def _loss(kind: str, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if kind == "bce":
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    if kind == "listwise":  # the list order is what the search sees: rank the route neighbours first
        count = targets.sum(-1)
        nll = -(targets * torch.log_softmax(logits, dim=-1)).sum(-1) / count.clamp(min=1)
        return nll[count > 0].mean()
    raise ValueError(f"arc loss: expected 'bce' or 'listwise', got {kind!r}")


def evaluate(scorer: ArcScorer | None, items: list[Example], tops: Sequence[int] = (5, 10)) -> dict[str, float]:
    """Recall of the labelled arcs (pred and succ; succ alone) in the first ``top`` list entries:
    the learned list when ``scorer`` is given, else PyVRP's proximity list; and the mean loss."""
    from solvers.neighbours import learned, proximity, recall

    figures: dict[str, list[float]] = {}
    losses = []
    for item in items:
        if scorer is None:
            lists = proximity(item.data, item.params, max(tops))
        else:
            lists = learned(item.data, item.params, scorer, k=max(tops), head=max(tops))
            with torch.no_grad():
                logits = scorer(item.features[None], item.heads[None])[0]
            losses.append(float(torch.nn.functional.binary_cross_entropy_with_logits(logits, item.targets)))
        for top in tops:
            figures.setdefault(f"recall@{top}", []).append(recall(lists, item.routes, top))
            figures.setdefault(f"succ_recall@{top}", []).append(recall(lists, item.routes, top, successor_only=True))
    result = {key: round(float(np.mean(values)), 4) for key, values in figures.items()}
    if losses:
        result["loss"] = round(float(np.mean(losses)), 4)
    return result


def train_arcs(
    config: ArcsConfig, pairs: list[tuple[Any, list[list[int]]]] | None = None
) -> tuple[ArcScorer, dict[str, Any]]:
    """Train a scorer on ``config.labels`` (or on ``pairs``), keep the epoch with the best held-out
    recall@5, write it to ``config.out`` with its card, and return it with the card's figures."""
    started = clock.perf_counter()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    pairs, described = (pairs, {}) if pairs is not None else _labelled(config.labels, config.limit)
    items = examples(pairs, config.candidates)
    held = max(1, math.ceil(config.val_fraction * len(items))) if len(items) > 1 else 0
    train, val = items[: len(items) - held] or items, items[len(items) - held :] or items
    scorer = ArcScorer(hidden=config.hidden, candidates=config.candidates, rounds=config.rounds)
    optimizer = torch.optim.Adam(scorer.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(config.epochs, 1))
    history = [{"epoch": 0, **evaluate(scorer.eval(), val)}]
    best_state, best = {k: v.clone() for k, v in scorer.state_dict().items()}, history[0]
    for epoch in range(1, config.epochs + 1):
        scorer.train()
        total = count = 0.0
        for features, heads, targets in _batches(train, config.batch_size, generator):
            loss = _loss(config.loss, scorer(features, heads), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(features), count + len(features)
        schedule.step()
        figures = {"epoch": epoch, "train_loss": round(total / count, 4), **evaluate(scorer.eval(), val)}
        history.append(figures)
        if config.progress:
            print(" ".join(f"{key} {value}" for key, value in figures.items()), flush=True)
        if figures["recall@5"] >= best["recall@5"]:
            best_state, best = {k: v.clone() for k, v in scorer.state_dict().items()}, figures
    scorer.load_state_dict(best_state)
    scorer.eval()
    card = {
        **described,
        "labels": [str(Path(d)) for d in config.labels],
        "train_instances": len(train),
        "val_instances": len(val),
        "candidates": config.candidates,
        "epochs": config.epochs,
        "best": best,
        "proximity": evaluate(None, val),
        "history": history,
        "train_seconds": round(clock.perf_counter() - started, 1),
        **config.notes,
    }
    save_scorer(scorer, config.out, **card)
    return scorer, card
