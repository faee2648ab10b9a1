"""Training data: an endless supply of generated instances, reproducible and resumable.

Batch ``(epoch, step)`` on rank ``r`` is generated from the seed ``[seed, r, epoch, step]``, so a
run resumed from a mid-epoch checkpoint sees the same data it would have seen, and DDP ranks see
different data without a distributed sampler.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tensordict import TensorDict

from envs.city import City
from envs.env import RoutingEnv
from envs.generators import Distribution, generate, to_instances
from nco_core.instance import Instance

__all__ = ["BatchStream", "DataSpec", "load_cities", "validation_instances"]


@dataclass(frozen=True)
class DataSpec:
    problem: str
    size: int
    cities: tuple[City, ...] = ()  # empty: synthetic unit-square instances
    distribution: Distribution = "uniform"

    def generate(self, batch_size: int, rng: np.random.Generator):
        city = self.cities[int(rng.integers(len(self.cities)))] if self.cities else None
        return generate(self.problem, batch_size, self.size, city=city, distribution=self.distribution, seed=rng)


def load_cities(split: str) -> tuple[City, ...]:
    """The city pools of a split, or none (with a warning) when the pools are not available."""
    try:
        from envs.cities import list_cities, load_city
    except ImportError:
        warnings.warn("envs.cities is not available: training on synthetic instances", stacklevel=2)
        return ()
    names = list_cities(split=split)
    if not names:
        warnings.warn(f"no city pools in split {split!r}: training on synthetic instances", stacklevel=2)
    return tuple(load_city(name) for name in names)


class BatchStream:
    """``steps`` freshly generated, reset TensorDicts per epoch (on the CPU; Lightning moves them).

    Implements ``state_dict``/``load_state_dict`` so that Lightning treats it as a resumable loader.
    """

    def __init__(self, spec: DataSpec, batch_size: int, steps: int, seed: int, rank: int = 0) -> None:
        self.spec, self.batch_size, self.steps, self.seed, self.rank = spec, batch_size, steps, seed, rank
        self.epoch = 0
        self.step = 0
        self.env = RoutingEnv("cpu")

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[TensorDict]:
        # Lightning stops after len(self) batches without exhausting the generator, so a finished
        # epoch is noticed when the next one starts
        if self.step >= self.steps:
            self.epoch, self.step = self.epoch + 1, 0
        while self.step < self.steps:
            rng = np.random.default_rng([self.seed, self.rank, self.epoch, self.step])
            self.step += 1
            yield self.env.reset(self.spec.generate(self.batch_size, rng))

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.step = int(state["epoch"]), int(state["step"])


def validation_instances(spec: DataSpec, count: int, seed: int) -> list[Instance]:
    """A fixed set: ``count`` instances spread over the spec's cities (or synthetic)."""
    rng = np.random.default_rng([seed, 999])
    groups: Sequence[City | None] = spec.cities or (None,)
    instances: list[Instance] = []
    for index, city in enumerate(groups):
        share = count // len(groups) + (index < count % len(groups))
        if share:
            batch = generate(spec.problem, share, spec.size, city=city, distribution=spec.distribution, seed=rng)
            label = f"val-{spec.problem}{spec.size}-{city.name if city else 'synthetic'}"
            instances += to_instances(batch, name=label)
    return instances
