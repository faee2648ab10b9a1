"""A solution: routes plus the evaluator's verdict on them, and where they came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nco_core.evaluate import Violation, evaluate, normalise_routes
from nco_core.instance import Instance

__all__ = ["Solution"]


@dataclass(frozen=True)
class Solution:
    """Routes of client indices (each vehicle type's start and end depots are implicit).

    Build one with :meth:`Solution.of`, which scores the routes with the evaluator, so that
    ``cost`` and ``feasible`` can never disagree with what the routes really do. ``unassigned``
    lists the optional clients left out (their prizes, ``uncollected``, are part of ``cost``);
    a required client left out is a violation instead.
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
    unassigned: list[int] = field(default_factory=list)
    uncollected: float = 0.0

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
    ) -> Solution:
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
            unassigned=list(result.unassigned),
            uncollected=result.uncollected,
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
            "unassigned": self.unassigned,
            "uncollected": self.uncollected,
            "method": self.method,
            "runtime": self.runtime,
            "info": self.info,
        }

    def __str__(self) -> str:
        status = "feasible" if self.feasible else f"INFEASIBLE ({len(self.violations)} violations)"
        head = f"{self.method or 'solution'}: cost {self.cost:.6g}, {self.num_routes} routes, {status}"
        if self.unassigned:
            head += f", {len(self.unassigned)} optional clients left out (prizes {self.uncollected:.6g})"
        return "\n".join([head, *(f"  {v.message}" for v in self.violations[:10])])
