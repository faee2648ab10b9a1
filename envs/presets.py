"""The one table that maps problem names to variant flags.

Everything else (generators, environments, policies) reads the flags, never the names, so a new
variant is a new row here rather than a new branch somewhere else. Flag values in ``[0, 1]`` are
per-instance probabilities (RouteFinder style): ``time_windows=0.5`` gives a batch in which about
half of the instances have time windows, all handled by one environment. The knobs are named
after the features they produce (``nco_core.features.KNOBS``), which is how checkpoint cards,
whose ``flags`` are these knobs, are matched against instances.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["PRESETS", "Variant", "variant"]


@dataclass(frozen=True)
class Variant:
    """Variant knobs. Probabilities are drawn independently per instance.

    ``backhaul`` only applies to capacitated instances (a pickup needs a load to fit in).
    ``strict_backhaul`` is the probability that a backhaul instance uses ``backhaul_mode="strict"``.
    ``num_profiles > 0`` makes a profiled VRP (CAMP): that many vehicle types, each driving on its
    own matrix, with zone constraints (``allowed``) and preferences; the objective is travel time.
    ``fleet_size = 0`` means an unlimited fleet (one vehicle per customer), which keeps every
    instance feasible; ``fleet_size = 1`` with no other constraint is the (A)TSP.
    CAMP's profiled variants (``envs/profiles.py``): ``min_profiles`` draws the number of vehicle
    types per instance from ``min_profiles .. num_profiles``; ``zones`` and ``preferences`` are the
    probabilities of zone constraints (sectors or clusters) and of regional preferences, which then
    replace the generic random forbids and preference noise; ``preference_weight`` scales
    preferences against travel time (in the generator's time unit).
    """

    capacity: float = 0.0
    time_windows: float = 0.0
    open_routes: float = 0.0
    backhaul: float = 0.0
    strict_backhaul: float = 0.0
    max_duration: float = 0.0
    num_profiles: int = 0
    fleet_size: int = 0
    min_profiles: int = 0
    zones: float = 0.0
    preferences: float = 0.0
    preference_weight: float = 0.2

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and not 0.0 <= value <= 1.0:
                raise ValueError(f"variant flag {f.name} is a probability in [0, 1], got {value}")
            if f.type == "int" and value < 0:
                raise ValueError(f"variant flag {f.name} must be >= 0, got {value}")
        if self.fleet_size == 1 and (self.capacity or self.time_windows or self.max_duration or self.num_profiles):
            raise ValueError(
                "fleet_size=1 (a TSP) cannot be combined with capacity, time windows, duration or profiles"
            )


PRESETS: dict[str, Variant] = {
    "atsp": Variant(fleet_size=1),
    "acvrp": Variant(capacity=1),
    "ovrp": Variant(capacity=1, open_routes=1),
    "vrpb": Variant(capacity=1, backhaul=1, strict_backhaul=1),
    "vrpmb": Variant(capacity=1, backhaul=1),
    "vrpl": Variant(capacity=1, max_duration=1),
    "acvrptw": Variant(capacity=1, time_windows=1),
    "ovrptw": Variant(capacity=1, time_windows=1, open_routes=1),
    "vrpbtw": Variant(capacity=1, time_windows=1, backhaul=1, strict_backhaul=1),
    "vrpmbtw": Variant(capacity=1, time_windows=1, backhaul=1),
    "vrpltw": Variant(capacity=1, time_windows=1, max_duration=1),
    "ovrpmbltw": Variant(capacity=1, time_windows=1, open_routes=1, backhaul=1, max_duration=1),
    # Every flag at 0.5: each instance of a batch is a random RouteFinder variant.
    "mtvrp": Variant(
        capacity=1, time_windows=0.5, open_routes=0.5, backhaul=0.5, strict_backhaul=0.5, max_duration=0.5
    ),
    "pvrp": Variant(capacity=1, num_profiles=3),
    # CAMP: 3-5 vehicle types with regional preferences (PVRP-P) or zones (PVRP-ZC).
    "pvrp-p": Variant(capacity=1, num_profiles=5, min_profiles=3, preferences=1),
    "pvrp-zc": Variant(capacity=1, num_profiles=5, min_profiles=3, zones=1),
}


def variant(problem: str | Variant, **flags: Any) -> Variant:
    """A preset by name (or a Variant), with some flags overridden."""
    if isinstance(problem, Variant):
        base = problem
    else:
        try:
            base = PRESETS[problem]
        except KeyError:
            raise ValueError(f"unknown problem {problem!r}; presets: {', '.join(PRESETS)}") from None
    unknown = sorted(set(flags) - {f.name for f in fields(Variant)})
    if unknown:
        raise ValueError(f"unknown variant flag(s) {unknown}; flags: {', '.join(f.name for f in fields(Variant))}")
    return replace(base, **flags) if flags else base
