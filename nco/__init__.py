"""nco: vehicle routing on real road networks, with learned construction and classical refinement."""

from nco.api import solve
from nco.evaluate import Evaluation, Violation, evaluate
from nco.io import InstanceFileError, read, read_solution, write
from nco.instance import Instance, InstanceError, VehicleType
from nco.solution import Solution

__all__ = [
    "Evaluation",
    "Instance",
    "InstanceFileError",
    "InstanceError",
    "Solution",
    "VehicleType",
    "Violation",
    "evaluate",
    "read",
    "read_solution",
    "solve",
    "write",
]
