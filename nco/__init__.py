"""nco: vehicle routing on real road networks, with learned construction and classical refinement."""

from nco.api import solve
from nco.evaluate import Evaluation, Violation, evaluate
from nco.instance import Instance, InstanceError, VehicleType
from nco.solution import Solution

__all__ = [
    "Evaluation",
    "Instance",
    "InstanceError",
    "Solution",
    "VehicleType",
    "Violation",
    "evaluate",
    "solve",
]
