"""The routing policy: encoder + pointer decoder, rolled out in the batched env.

Replicas of an instance (augmentations, POMO starts, samples) are rows ``r * B + b`` of the
rollout, the order ``envs.env.multistart`` and ``envs.env.augment`` use, so ``reward.view(R, B)``
groups every replica of instance ``b`` in column ``b``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from tensordict import TensorDict
from torch import nn

from envs.convert import actions_to_routes
from envs.env import RoutingEnv, augment, multistart
from envs.fast import FastEnv
from nco.policies.decoder import PointerDecoder
from nco.policies.decoding import Strategy, select
from nco.policies.encoders import AttentionEncoder, MatrixEncoder
from nco.policies.features import (
    NODE_DIM,
    STATE_DIM,
    distance_row,
    distance_scale,
    encoder_inputs,
    state_features,
)
from nco_core.instance import Instance
from nco_core.solution import Solution

__all__ = ["Rollout", "RoutingPolicy"]

ENCODERS = {"am": AttentionEncoder, "matrix": MatrixEncoder}
Engine = Literal["fast", "env"]
MAX_ROWS = 4096  # rollouts decoded at once by ``solutions``
MAX_ROLLOUT_BYTES = 1 << 30  # memory of one rollout's rows
ROW_BYTES = 128  # per row and node: kernel state, mask, features and the decoder's per-head scores


@dataclass
class Rollout:
    actions: torch.Tensor  # [R * B, T]
    vehicle_types: torch.Tensor  # [R * B, T] type acting at each step
    reward: torch.Tensor  # [R * B] minus the objective
    log_likelihood: torch.Tensor  # [R * B] sum of log-probabilities of the chosen (non-forced) actions
    complete: torch.Tensor  # [R * B] every customer served
    replicas: int

    def per_instance(self, values: torch.Tensor) -> torch.Tensor:
        """``[R * B] -> [B, R]``."""
        return values.view(self.replicas, -1).t()


class RoutingPolicy(nn.Module):
    def __init__(
        self,
        model: str = "matrix",
        dim: int = 128,
        layers: int = 3,
        heads: int = 8,
        norm: str = "instance",
        node_dim: int = NODE_DIM,
        state_dim: int = STATE_DIM,
        clip: float = 10.0,
    ) -> None:
        super().__init__()
        if model not in ENCODERS:
            raise ValueError(f"model: expected one of {sorted(ENCODERS)}, got {model!r}")
        self.hparams: dict[str, Any] = dict(
            model=model,
            dim=dim,
            layers=layers,
            heads=heads,
            norm=norm,
            node_dim=node_dim,
            state_dim=state_dim,
            clip=clip,
        )
        self.encoder = ENCODERS[model](node_dim, dim=dim, layers=layers, heads=heads, norm=norm)
        self.decoder = PointerDecoder(dim, state_dim, heads=heads, clip=clip)

    def rollout(
        self,
        td: TensorDict,
        env: RoutingEnv,
        *,
        strategy: Strategy = "sampling",
        num_starts: int = 0,
        num_samples: int = 1,
        num_augment: int = 1,
        first_start: int = 0,
        generator: torch.Generator | None = None,
        engine: Engine | None = None,
        log_likelihood: bool = True,
    ) -> Rollout:
        """Decode whole solutions for the freshly reset ``td``.

        ``num_augment`` (1..8) symmetric copies of the coordinates, then ``num_starts`` POMO
        starts (0 = none: the policy chooses the first move too; ``first_start`` skips that many
        starts), then ``num_samples`` copies. ``engine="fast"`` steps the compiled kernel of
        ``envs/fast.py`` (replicas share their instance's matrices); ``"env"`` steps ``td`` itself
        in place through ``env.step``, the reference the fast engine is tested against, and the
        default on accelerators (``None``: fast on the CPU), where the kernel's per-step copies
        between host and device would cost more than the batched env.
        ``log_likelihood=False`` skips the per-step log-softmax where only actions matter
        (greedy inference); the rollout's ``log_likelihood`` is then zeros.
        """
        scale = distance_scale(td)  # per instance; replicas share it (it reads the whole matrix)
        encoded = td
        if num_augment > 1:
            if not bool((td["locs"] != 0).any()):
                raise ValueError("symmetry augmentation needs coordinates; these instances have none")
            encoded = augment(td, num_augment)
        inputs = encoder_inputs(encoded, scale.repeat(num_augment))
        embeddings = self.encoder(inputs.nodes, inputs.coords, inputs.distance, inputs.duration)
        cache = self.decoder.precompute(embeddings)
        if engine is None:
            engine = "fast" if embeddings.device.type == "cpu" else "env"
        if engine == "env":
            return self._rollout_env(
                encoded,
                env,
                cache,
                scale.repeat(num_augment),
                strategy,
                num_starts,
                num_samples,
                num_augment,
                first_start,
                generator,
            )
        if engine != "fast":
            raise ValueError(f"engine: expected 'fast' or 'env', got {engine!r}")
        batch = td.batch_size[0]
        rows = batch * num_augment
        state = FastEnv(td, np.arange(rows) % batch, scale.repeat(num_augment).detach().cpu().numpy())
        replicas = num_augment
        actions: list[torch.Tensor] = []
        types: list[torch.Tensor] = []
        if num_starts:
            types.append(state.vehicle_type.repeat(num_starts))
            state, first = state.pomo_starts(num_starts, first_start)
            actions.append(first)
            replicas *= num_starts
        if num_samples > 1:
            state = state.repeat(num_samples)
            replicas *= num_samples
        device = embeddings.device
        total = torch.zeros(state.rows, device=device)
        # The kernel rewrites its arrays in place (numpy writes bypass torch's version counters),
        # so where autograd may keep the step's inputs for backward the decoder gets copies; in
        # inference it reads the arrays themselves. A GPU policy reads copies anyway.
        if device.type != "cpu":
            on = lambda t: t.to(device, non_blocking=True)  # noqa: E731
        elif torch.is_grad_enabled():
            on = torch.clone
        else:
            on = lambda t: t  # noqa: E731
        while not state.all_done():
            types.append(state.vehicle_type.clone())
            fields = (state.current_node, state.features, state.mask, state.distance_row, state.penalty)
            step = [on(field) for field in fields]
            if log_likelihood or strategy != "greedy":
                log_probs = self.decoder(cache, *step)
                action = select(log_probs, strategy, generator)
                if log_likelihood:
                    total = total + log_probs.gather(1, action[:, None]).squeeze(1)
            else:
                action = self.decoder.logits(cache, *step).argmax(-1)
            action = action.cpu()
            actions.append(action)
            state.step(action)
        return Rollout(
            actions=torch.stack(actions, 1).to(device)
            if actions
            else torch.zeros(state.rows, 0, dtype=torch.int64, device=device),
            vehicle_types=torch.stack(types, 1).to(device)
            if actions
            else torch.zeros(state.rows, 0, dtype=torch.int64, device=device),
            reward=-state.cost.to(device),
            log_likelihood=total,
            complete=state.complete.clone().to(device),
            replicas=replicas,
        )

    def _rollout_env(
        self, td, env, cache, scale, strategy, num_starts, num_samples, num_augment, first_start, generator
    ) -> Rollout:
        """The reference rollout on the TensorDict env (``engine="env"``)."""
        replicas = num_augment
        actions: list[torch.Tensor] = []
        types: list[torch.Tensor] = []
        if num_starts:
            first_type = td["vehicle_type"].repeat(num_starts)
            td, first = multistart(env, td, num_starts, first_start)
            actions.append(first)
            types.append(first_type)
            replicas *= num_starts
        if num_samples > 1:
            td = td[torch.arange(td.batch_size[0], device=td.device).repeat(num_samples)]  # a copy: tensor index
            replicas *= num_samples
        scale = scale.repeat(replicas // num_augment)
        log_likelihood = torch.zeros(td.batch_size[0], device=td.device)
        while not bool(td["done"].all()):
            log_probs = self.decoder(
                cache, td["current_node"], state_features(td), td["action_mask"], distance_row(td, scale)
            )
            action = select(log_probs, strategy, generator)
            log_likelihood = log_likelihood + log_probs.gather(1, action[:, None]).squeeze(1)
            types.append(td["vehicle_type"].clone())
            actions.append(action)
            td["action"] = action
            td = env.step(td)
        return Rollout(
            actions=torch.stack(actions, 1) if actions else torch.zeros(td.batch_size[0], 0, dtype=torch.int64),
            vehicle_types=torch.stack(types, 1) if types else torch.zeros(td.batch_size[0], 0, dtype=torch.int64),
            reward=env.get_reward(td),
            log_likelihood=log_likelihood,
            complete=td["complete"].clone(),
            replicas=replicas,
        )

    @torch.inference_mode()
    def solutions(
        self,
        instances: Sequence[Instance],
        k: int = 1,
        *,
        samples: int = 0,
        augment: bool = False,
        starts: int | None = None,
        seed: int = 0,
    ) -> list[list[Solution]]:
        """Up to ``k`` distinct solutions per instance, best first (by the evaluator's cost).

        Candidates: greedy decoding from ``starts`` POMO starts (``None``: every customer; ``0``:
        one greedy rollout; fewer starts decode faster, which matters inside a time budget),
        ``samples`` sampled rollouts more if asked, each on 8 symmetric copies with ``augment``.
        Duplicates (the same set of routes) are dropped, so the ``k`` solutions really differ.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        was_training = self.training
        if was_training:
            self.eval()
        device = next(self.parameters()).device
        env = RoutingEnv(device)
        generator = torch.Generator(device=device).manual_seed(seed)
        result: list[list[Solution]] = [[] for _ in instances]
        by_size: dict[int, list[int]] = {}
        for index, instance in enumerate(instances):
            by_size.setdefault(instance.num_nodes, []).append(index)
        num_augment = 8 if augment else 1
        for size, same_size in by_size.items():
            num_starts = size - 1 if starts is None else min(starts, size - 1)
            # rows share their instance's matrices, so a row costs O(n) memory (state, mask and the
            # decoder's attention over n nodes): bound rows per rollout by ROW_BYTES of that, and
            # decode one instance's starts or samples in slices if need be
            rows = max(1, min(MAX_ROWS, MAX_ROLLOUT_BYTES // (ROW_BYTES * size)))
            chunk = max(1, rows // (num_augment * max(num_starts, samples, 1)))
            per_slice = max(1, rows // num_augment)
            slices: list[dict[str, Any]] = [
                dict(strategy="greedy", num_starts=min(per_slice, num_starts - first), first_start=first)
                for first in range(0, max(num_starts, 1), per_slice)
            ]
            slices += [
                dict(strategy="sampling", num_samples=min(per_slice, samples - done), generator=generator)
                for done in range(0, samples, per_slice)
            ]
            for lo in range(0, len(same_size), chunk):
                members = same_size[lo : lo + chunk]
                start = time.perf_counter()
                group = [instances[i] for i in members]
                runs = [
                    self.rollout(env.reset(group), env, num_augment=num_augment, log_likelihood=False, **options)
                    for options in slices
                ]
                elapsed = (time.perf_counter() - start) / len(group)
                for b, index in enumerate(members):
                    result[index] = _best_distinct(group[b], runs, b, len(group), k, elapsed)
        if was_training:
            self.train()
        return result


def _best_distinct(
    instance: Instance, runs: list[Rollout], b: int, batch: int, k: int, runtime: float
) -> list[Solution]:
    """The ``k`` best distinct complete rollouts of instance ``b`` (incomplete ones only if needed)."""
    candidates = []
    for run_index, run in enumerate(runs):
        rows = torch.arange(run.replicas, device=run.reward.device) * batch + b
        for row, reward, complete in zip(
            rows.tolist(), run.reward[rows].tolist(), run.complete[rows].tolist(), strict=True
        ):
            candidates.append((not complete, -reward, run_index, row))
    candidates.sort()
    chosen: list[Solution] = []
    seen: set[tuple] = set()
    for _, _, run_index, row in candidates:
        run = runs[run_index]
        [(routes, types)] = actions_to_routes(run.actions[row : row + 1].cpu(), run.vehicle_types[row : row + 1].cpu())
        key = tuple(sorted(zip(types, map(tuple, routes), strict=True)))
        if key in seen:
            continue
        seen.add(key)
        chosen.append(Solution.of(instance, routes, types, method="neural", runtime=runtime))
        if len(chosen) == k:
            break
    return sorted(chosen, key=lambda s: (not s.feasible, s.cost))
