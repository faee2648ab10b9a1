"""nco: vehicle routing on real road networks, with learned construction and classical refinement."""

from envs.cities import list_cities, load_city
from envs.generators import sample_instance
from nco.api import solve
from nco.compare import compare
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
    "compare",
    "evaluate",
    "list_cities",
    "load_city",
    "read",
    "read_solution",
    "sample_instance",
    "solve",
    "write",
]
