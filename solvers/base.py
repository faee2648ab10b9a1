"""The solver contract: one typed options object per method, validated once, and a solver object.

Modelled on PyVRP's few typed objects: a method is a :class:`Solver` with a ``name``, an options
dataclass (:class:`Options` subclass: its fields are the method's keyword options, checked in
``__post_init__``) and ``solve(instance, options, *, budget, seed, initial)``, which gets its
stop criteria already resolved into a running :class:`~solvers.stop.Budget`. Calling the solver,
``solver(instance, time_limit=..., stop=..., seed=..., initial=..., **options)``, is the keyword
form ``nco.solve`` uses: options are parsed (an unknown one raises :class:`UnknownOption` naming
it and the accepted ones), the one-time costs are paid (:meth:`Solver.prepare`), and then the
clock starts.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from nco_core.errors import reject_options
from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.budget import Deadline, check_seed
from solvers.stop import Budget, Criterion

__all__ = ["Options", "Solver"]

OptionsT = TypeVar("OptionsT", bound="Options")


@dataclasses.dataclass(frozen=True)
class Options:
    """A method's options; subclasses add fields with defaults and check them in ``__post_init__``."""

    @classmethod
    def parse(cls: type[OptionsT], method: str, given: Mapping[str, Any]) -> OptionsT:
        """``given`` keyword options as ``cls``; an unknown name raises :class:`UnknownOption`."""
        accepted = tuple(field.name for field in dataclasses.fields(cls))
        reject_options(method, {key: value for key, value in given.items() if key not in accepted}, accepted)
        return cls(**given)


class Solver(ABC, Generic[OptionsT]):
    """A solving method: ``name``, its options type, and :meth:`solve` on a running budget."""

    name: str
    options_type: type[OptionsT]

    def options(self, **given: Any) -> OptionsT:
        """The method's options from keywords, validated (what ``__call__`` does first)."""
        return self.options_type.parse(self.name, given)

    def prepare(self, instance: Instance, options: OptionsT) -> None:
        """Pay the one-time costs per process of solving ``instance`` (imports, loading and
        calibrating a checkpoint) before a budget's clock starts; nothing by default."""

    @abstractmethod
    def solve(
        self, instance: Instance, options: OptionsT, *, budget: Budget, seed: int, initial: Solution | None = None
    ) -> Solution:
        """Solve within ``budget`` (charged from the call to the return); the result is built with
        ``Solution.of`` so that the evaluator scores it. Raises ``UnsupportedFeature`` before
        solving when the instance uses a feature the method cannot model."""

    def __call__(
        self,
        instance: Instance,
        *,
        time_limit: float | Deadline | None = None,
        stop: Criterion | Budget | None = None,
        seed: int = 0,
        initial: Solution | None = None,
        **given: Any,
    ) -> Solution:
        """Validate everything, pay :meth:`prepare`, start the clock, :meth:`solve`."""
        if not isinstance(instance, Instance):
            raise TypeError(f"{self.name} solver needs an nco.Instance, got {type(instance).__name__}")
        options = self.options(**given)
        seed = check_seed(seed)
        Budget.of(stop, time_limit)  # a bad time_limit or stop fails before any one-time cost is paid
        self.prepare(instance, options)
        return self.solve(instance, options, budget=Budget.of(stop, time_limit), seed=seed, initial=initial)
