"""nco: vehicle routing on real road networks, with learned construction and classical refinement."""

from envs.cities import list_cities, load_city
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
    "list_cities",
    "load_city",
    "read",
    "read_solution",
    "solve",
    "write",
]
