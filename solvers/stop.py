"""Stop criteria: small composable objects that every method honours, after PyVRP's ``pyvrp.stop``.

A criterion is data: :class:`MaxRuntime` (seconds from the call to its return),
:class:`MaxIterations` (the method's own unit of search, see below) and :class:`NoImprovement`
(that many iterations in a row without a better best), combined with ``|``: the first that fires
stops the search. A call always has a runtime bound, because a time budget is a contract: a
criterion without one gets the default :data:`DEFAULT_TIME_LIMIT` added (``|``), and
``time_limit=`` is the shorthand for ``stop=MaxRuntime(time_limit)`` (both given: both apply).

At a call's entry the criterion is resolved into a :class:`Budget` whose :class:`Deadline` starts
then; backends read the budget, never the criterion. What an iteration is, per method:

* ``pyvrp``: one iteration of PyVRP's iterated local search (PyVRP's own stop objects);
* ``ortools``: one solution accepted by the search (OR-Tools' solution limit; no improvement is
  counted by a callback at each solution);
* ``vroom``: one VROOM run (it reruns at rising exploration levels within the budget);
* ``ga``: one generation (a crossover and its local search);
* ``neural``: one decode of a batch of rollouts: the method decodes exactly one, so iteration
  criteria never cut it short (its runtime bound sizes the batch);
* ``hybrid``: the neural step takes its share of the runtime, the refiner gets the rest of the
  runtime and the iteration criteria unchanged.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

from solvers.budget import Deadline, check_time_limit

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "AnyOf",
    "Budget",
    "Criterion",
    "MaxIterations",
    "MaxRuntime",
    "NoImprovement",
    "Progress",
]

DEFAULT_TIME_LIMIT = 1.0  # seconds: nco.solve's budget when neither time_limit nor a MaxRuntime is given


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ValueError(f"{name} needs a whole number >= 1, got {value!r}")
    return int(value)


class Criterion:
    """A stop criterion; ``a | b`` stops at whichever fires first."""

    def __or__(self, other: Criterion) -> AnyOf:
        if not isinstance(other, Criterion):
            return NotImplemented
        return AnyOf((*_parts(self), *_parts(other)))

    def parts(self) -> tuple[Criterion, ...]:
        return _parts(self)


@dataclass(frozen=True)
class MaxRuntime(Criterion):
    """Stop ``seconds`` after the call began (set-up and the final evaluation included)."""

    seconds: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", check_time_limit(self.seconds))


@dataclass(frozen=True)
class MaxIterations(Criterion):
    """Stop after ``n`` iterations of the method's search (the unit is the method's, see the module)."""

    n: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _count("MaxIterations", self.n))


@dataclass(frozen=True)
class NoImprovement(Criterion):
    """Stop after ``n`` iterations in a row without a better best solution."""

    n: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _count("NoImprovement", self.n))


@dataclass(frozen=True)
class AnyOf(Criterion):
    """Several criteria; the first that fires stops the search (what ``|`` builds)."""

    criteria: tuple[Criterion, ...]

    def __post_init__(self) -> None:
        for criterion in self.criteria:
            if not isinstance(criterion, Criterion):
                raise TypeError(f"stop: expected stop criteria, got {criterion!r}")


def _parts(criterion: Criterion) -> tuple[Criterion, ...]:
    if isinstance(criterion, AnyOf):
        return tuple(part for inner in criterion.criteria for part in _parts(inner))
    return (criterion,)


@dataclass(frozen=True)
class Budget:
    """A call's stop criteria with its clock running: the tightest bound of each kind.

    ``deadline`` always bounds the call; ``max_iterations`` and ``no_improvement`` are ``None``
    when not asked for. Stages share one budget: :meth:`within` hands a sub-search (a refiner, a
    VROOM run) a shorter deadline with the same iteration criteria.
    """

    deadline: Deadline
    max_iterations: int | None = None
    no_improvement: int | None = None

    @classmethod
    def of(cls, stop: Criterion | Budget | None = None, time_limit: float | Deadline | None = None) -> Budget:
        """The budget of ``stop`` and/or ``time_limit`` (seconds or a running Deadline), starting now.

        A running :class:`Budget` or :class:`Deadline` is passed on as it is: a backend called
        by ``nco.solve`` or by the hybrid shares its caller's clock."""
        if isinstance(stop, Budget):
            if time_limit is not None:
                raise TypeError("stop: give a running Budget or a time_limit, not both")
            return stop
        if stop is not None and not isinstance(stop, Criterion):
            raise TypeError(f"stop must be a stop criterion (solvers.stop), got {stop!r} ({type(stop).__name__})")
        parts = stop.parts() if stop is not None else ()
        runtimes = [part.seconds for part in parts if isinstance(part, MaxRuntime)]
        if isinstance(time_limit, Deadline):
            deadline = time_limit
            if runtimes:
                deadline = dataclasses.replace(deadline, seconds=min(deadline.seconds, *runtimes))
        else:
            if time_limit is not None:
                runtimes.append(check_time_limit(time_limit))
            deadline = Deadline.of(min(runtimes, default=DEFAULT_TIME_LIMIT))
        iterations = [part.n for part in parts if isinstance(part, MaxIterations)]
        stale = [part.n for part in parts if isinstance(part, NoImprovement)]
        return cls(deadline, min(iterations, default=None), min(stale, default=None))

    def within(self, deadline: Deadline) -> Budget:
        """The same iteration criteria on ``deadline`` (a stage's share of this budget's time)."""
        return dataclasses.replace(self, deadline=deadline)

    def progress(self) -> Progress:
        """A fresh counter for a search loop that checks this budget once per iteration."""
        return Progress(self)

    def describe(self) -> str:
        parts = [f"MaxRuntime({self.deadline.seconds:g})"]
        if self.max_iterations is not None:
            parts.append(f"MaxIterations({self.max_iterations})")
        if self.no_improvement is not None:
            parts.append(f"NoImprovement({self.no_improvement})")
        return " | ".join(parts)


class Progress:
    """Iterations and stale iterations of one search against a :class:`Budget`.

    Call :meth:`update` with the best cost after each iteration; it returns ``True`` once a
    criterion fires, and :attr:`reason` names it (for ``info["stopped"]``)."""

    def __init__(self, budget: Budget, reserve: float = 0.0) -> None:
        self.budget = budget
        self.reserve = reserve
        self.iterations = 0
        self.stale = 0
        self.best = math.inf
        self.reason = ""

    def update(self, cost: float) -> bool:
        self.iterations += 1
        if cost < self.best:
            self.best, self.stale = cost, 0
        else:
            self.stale += 1
        return self.done()

    def done(self) -> bool:
        """Whether a criterion fired (the runtime one is checked now, the others at the last update)."""
        budget = self.budget
        if budget.max_iterations is not None and self.iterations >= budget.max_iterations:
            self.reason = f"MaxIterations({budget.max_iterations})"
        elif budget.no_improvement is not None and self.stale >= budget.no_improvement:
            self.reason = f"NoImprovement({budget.no_improvement})"
        elif budget.deadline.remaining(self.reserve) <= 0:
            self.reason = f"MaxRuntime({budget.deadline.seconds:g})"
        return bool(self.reason)
