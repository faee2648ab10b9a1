"""nco: vehicle routing on real road networks, with learned construction and classical refinement."""

from importlib import import_module

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

# City and generator helpers live in ``envs``, which itself builds on nco's model: they are
# resolved on first use so that either package can be imported first.
_FROM_ENVS = {"list_cities": "envs.cities", "load_city": "envs.cities", "sample_instance": "envs.generators"}


def __getattr__(name: str):
    if name in _FROM_ENVS:
        return getattr(import_module(_FROM_ENVS[name]), name)
    raise AttributeError(f"module 'nco' has no attribute {name!r}")
