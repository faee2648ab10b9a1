"""Imitation learning: teacher forcing on a solver's labelled solutions (``nco.training.labels``).

Each decoding step is a classification: the loss is the cross-entropy of the label's next action
under the policy, given the state the label's earlier actions led to. A labelled solution gives
~N + routes supervised decisions per instance, where a REINFORCE rollout gives one scalar.

Equivalent orderings. A set of routes can be built in any route order, and the env builds one
route after another, so the target sequence is not unique; direction is NOT free (travel
matrices are asymmetric, so a reversed route is another, usually worse, route). The choice here
follows POMO, whose greedy decoding tries every customer as the first move: each label is
unrolled ``orderings`` times, each beginning with a different route (its first customer is the
forced first action, exactly as a POMO start is), the other routes in a fresh random order each
time the label is drawn. The route-start decisions at the depot then learn "begin a good route
somewhere", not an arbitrary tie-break rule the state cannot reveal. With several vehicle types,
routes keep the env's type order and only routes of one type are permuted.

The first move itself is what one-start decoding (the hybrid's fast path) asks the policy for, and
every ordering's first customer is a right answer to it, so each row also scores the first move as
the log-probability of that set: the policy may put its mass on any one good route start.

A target the env's mask forbids (float rounding at a bound the solver met exactly) ends that
row's supervision: the row continues with the policy's own best allowed move, unscored, and the
share of such rows is logged as ``train/derailed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

from envs.convert import routes_to_actions
from envs.env import RoutingEnv
from nco.policies import RoutingPolicy
from nco.policies.features import distance_row, distance_scale, encoder_inputs, state_features
from nco.training.labels import Label
from nco.training.module import RoutingModule
from nco_core.instance import Instance

__all__ = ["ImitationModule", "LabelStream", "decision_scores", "orderings", "teacher_forcing"]


def orderings(label: Label, count: int, rng: np.random.Generator) -> list[list[int]]:
    """``count`` route orders (indices into ``label.routes``): order ``r`` begins with route
    ``r mod R`` among the first vehicle type's routes, the rest of each type shuffled."""
    types = np.asarray(label.vehicle_types)
    first_type = int(types.min()) if len(types) else 0
    leaders = np.flatnonzero(types == first_type)
    result = []
    for r in range(count):
        lead = int(leaders[r % len(leaders)])
        order = []
        for kind in np.unique(types):
            members = [int(i) for i in rng.permutation(np.flatnonzero(types == kind)) if i != lead]
            order += ([lead] if kind == first_type else []) + members
        result.append(order)
    return result


def target_actions(
    labels: Sequence[Label], instances: Sequence[Instance], count: int, rng: np.random.Generator
) -> torch.Tensor:
    """``[count * B, T]`` env actions, row ``r * B + b`` = ordering ``r`` of label ``b`` (padded with 0)."""
    rows: list[list[torch.Tensor]] = [[] for _ in range(count)]
    for label, instance in zip(labels, instances, strict=True):
        fleet = [vehicle.count for vehicle in instance.vehicle_types]
        for r, order in enumerate(orderings(label, count, rng)):
            routes = [label.routes[i] for i in order]
            rows[r].append(routes_to_actions(routes, [label.vehicle_types[i] for i in order], fleet))
    flat = [row for replica in rows for row in replica]
    length = max(len(row) for row in flat)
    return torch.stack([torch.nn.functional.pad(row, (0, length - len(row))) for row in flat])


def teacher_forcing(
    policy: RoutingPolicy, td: TensorDict, env: RoutingEnv, targets: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Step the env through ``targets [R * B, T]`` from the freshly reset ``td`` (B instances).

    Column 0 is forced (a POMO start, as in ``RoutingPolicy.rollout``); every later step of a row
    still running scores ``log p(target)``. Returns the summed negative log-likelihood, the
    number of scored steps, how many scored targets were the policy's argmax, and the number of
    derailed rows (see the module docstring); and, apart, the first move's negative
    log-likelihood of choosing any of the rows' first targets (``first_nll``, once per row) and
    how many rows have such a first move as the policy's argmax (``first_hits``)."""
    batch = td.batch_size[0]
    replicas = targets.shape[0] // batch
    scale = distance_scale(td)
    inputs = encoder_inputs(td, scale)
    embeddings = policy.encoder(inputs.nodes, inputs.coords, inputs.distance, inputs.duration)
    cache = policy.decoder.precompute(embeddings)
    first = policy.decoder(cache, td["current_node"], state_features(td), td["action_mask"], distance_row(td, scale))
    right = torch.zeros_like(td["action_mask"])
    right[torch.arange(batch, device=td.device).repeat(replicas), targets[:, 0]] = True
    first_log_p = first.masked_fill(~right, -torch.inf).logsumexp(1)
    scorable = torch.isfinite(first_log_p)  # a masked first target (rounding at a bound) is not scored
    first_nll = -replicas * torch.where(scorable, first_log_p, 0).sum()
    first_hits = replicas * (scorable & right.gather(1, first.argmax(1, keepdim=True)).squeeze(1)).sum()
    td = td[torch.arange(batch, device=td.device).repeat(replicas)]  # rows r * B + b (a copy)
    scale = scale.repeat(replicas)
    td["action"] = targets[:, 0]
    td = env.step(td)
    on_track = torch.ones(td.batch_size[0], dtype=torch.bool, device=td.device)
    nll = torch.zeros((), device=embeddings.device)
    steps = torch.zeros((), device=embeddings.device)
    hits = torch.zeros((), device=embeddings.device)
    for t in range(1, targets.shape[1]):
        if bool(td["done"].all()):
            break
        log_probs = policy.decoder(
            cache, td["current_node"], state_features(td), td["action_mask"], distance_row(td, scale)
        )
        target = targets[:, t]
        allowed = td["action_mask"].gather(1, target[:, None]).squeeze(1)
        on_track = on_track & (allowed | td["done"])
        scored = on_track & ~td["done"]
        picked = log_probs.gather(1, target[:, None]).squeeze(1)
        nll = nll - torch.where(scored, picked, 0).sum()
        steps = steps + scored.sum()
        best = log_probs.argmax(1)
        hits = hits + (scored & (best == target)).sum()
        td["action"] = torch.where(on_track, target, best.detach())
        td = env.step(td)
    return dict(
        nll=nll,
        steps=steps,
        hits=hits,
        derailed=(~on_track).sum(),
        first_nll=first_nll,
        first_steps=replicas * scorable.sum(),
        first_hits=first_hits,
    )


def decision_scores(out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Training's loss and argmax accuracy per scored decision (first moves included) of a
    ``teacher_forcing`` result: the figures a run logs and ``benchmarks/label_fit.py`` compares."""
    steps = (out["steps"] + out["first_steps"]).clamp(min=1)
    return (out["nll"] + out["first_nll"]) / steps, (out["hits"] + out["first_hits"]) / steps


class LabelStream:
    """``steps`` batches per epoch of ``batch_size`` labels each, as ``(reset td, targets)``.

    Epoch ``e`` draws labels in the order of a permutation seeded ``[seed, e]`` (cycling when an
    epoch needs more than one pass), rank ``r`` of ``w`` taking every ``w``-th batch; route orders
    come from ``[seed, rank, e, step]``. Like ``BatchStream`` it is resumable mid-epoch.

    ``reload`` (e.g. re-reading the label directory) is called at the start of every later epoch,
    so a run can start while ``nco data label`` is still adding shards and train on them as they
    come. The label count is part of the state: a run resumed mid-epoch sees that epoch's labels.
    """

    def __init__(
        self,
        labels: Sequence[Label],
        batch_size: int,
        steps: int,
        seed: int,
        orderings: int = 8,
        rank: int = 0,
        world: int = 1,
        reload: Callable[[], Sequence[Label]] | None = None,
    ) -> None:
        if not labels:
            raise ValueError("imitation: no labels to train on")
        self.labels, self.batch_size, self.steps, self.seed = list(labels), batch_size, steps, seed
        self.orderings, self.rank, self.world, self.reload = orderings, rank, world, reload
        self.epoch = 0
        self.step = 0
        self.env = RoutingEnv("cpu")

    def __len__(self) -> int:
        return self.steps

    def batch(self, epoch: int, step: int) -> tuple[TensorDict, torch.Tensor]:
        count = len(self.labels)
        order = np.random.default_rng([self.seed, epoch]).permutation(count)
        start = (step * self.world + self.rank) * self.batch_size
        chosen = [self.labels[i] for i in order[np.arange(start, start + self.batch_size) % count]]
        instances = [label.instance() for label in chosen]
        rng = np.random.default_rng([self.seed, self.rank, epoch, step])
        return self.env.reset(instances), target_actions(chosen, instances, self.orderings, rng)

    def __iter__(self) -> Iterator[tuple[TensorDict, torch.Tensor]]:
        if self.step >= self.steps:  # as BatchStream: a finished epoch is noticed when the next starts
            self.epoch, self.step = self.epoch + 1, 0
            if self.reload is not None:
                self.labels = list(self.reload())
        while self.step < self.steps:
            step = self.step
            self.step += 1
            yield self.batch(self.epoch, step)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "step": self.step, "labels": len(self.labels)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        count = int(state.get("labels", len(self.labels)))
        if count > len(self.labels):
            raise ValueError(f"--resume: the run trained on {count} labels, only {len(self.labels)} are readable now")
        self.labels = self.labels[:count]


class ImitationModule(RoutingModule):
    """``RoutingModule`` (validation, optimizer, schedule) with the teacher-forcing loss."""

    def training_step(self, batch: tuple[TensorDict, torch.Tensor], batch_idx: int) -> torch.Tensor:
        td, targets = batch
        out = teacher_forcing(self.policy, td, self.env, targets)
        loss, accuracy = decision_scores(out)
        rows = targets.shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=rows)
        self.log("train/accuracy", accuracy, prog_bar=True, batch_size=rows)
        self.log("train/first_accuracy", out["first_hits"] / out["first_steps"].clamp(min=1), batch_size=rows)
        self.log("train/derailed", out["derailed"].float() / rows, batch_size=rows)
        stream = self.trainer.train_dataloader  # the LabelStream: how many labels this epoch draws from
        if isinstance(stream, LabelStream):
            self.log("train/labels", float(len(stream.labels)), batch_size=rows)
        return loss
