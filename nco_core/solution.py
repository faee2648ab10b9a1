"""A solution: routes plus the evaluator's verdict on them, and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from nco_core.evaluate import Violation, evaluate, normalise_routes
from nco_core.instance import Instance

__all__ = ["Solution"]


@dataclass(frozen=True)
class Solution:
    """Routes of customer indices (the depot, node 0, is implicit at both ends).

    Build one with :meth:`Solution.of`, which scores the routes with the evaluator, so that
    ``cost`` and ``feasible`` can never disagree with what the routes really do.
    """

    routes: list[list[int]]
    vehicle_types: list[int]
    cost: float
    distance: float
    duration: float
    violations: tuple[Violation, ...]
    method: str = ""
    runtime: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        instance: Instance,
        routes: Sequence[Sequence[int]],
        vehicle_types: Sequence[int] | None = None,
        *,
        method: str = "",
        runtime: float = 0.0,
        info: dict[str, Any] | None = None,
    ) -> "Solution":
        routes, types = normalise_routes(instance, routes, vehicle_types)
        result = evaluate(instance, routes, types)
        return cls(
            routes=routes,
            vehicle_types=types,
            cost=result.cost,
            distance=result.distance,
            duration=result.duration,
            violations=result.violations,
            method=method,
            runtime=runtime,
            info=dict(info or {}),
        )

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def num_routes(self) -> int:
        return len(self.routes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "routes": self.routes,
            "vehicle_types": self.vehicle_types,
            "cost": self.cost,
            "distance": self.distance,
            "duration": self.duration,
            "feasible": self.feasible,
            "violations": [v.message for v in self.violations],
            "method": self.method,
            "runtime": self.runtime,
            "info": self.info,
        }

    def __str__(self) -> str:
        status = "feasible" if self.feasible else f"INFEASIBLE ({len(self.violations)} violations)"
        head = f"{self.method or 'solution'}: cost {self.cost:.6g}, {self.num_routes} routes, {status}"
        return "\n".join([head, *(f"  {v.message}" for v in self.violations[:10])])
