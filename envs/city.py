"""A city pool: real road points with full travel matrices, from which instances are sampled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["City"]


@dataclass(frozen=True, eq=False)
class City:
    """``points`` are (lat, lon) of snapped road points; ``distance[i, j]`` (km) and
    ``duration[i, j]`` (minutes) are the OSRM road distance and travel time from i to j."""

    name: str
    points: np.ndarray
    distance: np.ndarray
    duration: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.points.shape[0])
