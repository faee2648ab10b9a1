"""nco: vehicle routing on real road networks, with learned construction and classical refinement."""

from envs.cities import list_cities, load_city
from envs.generators import sample_instance
from nco import plot
from nco.api import solve
from nco.compare import compare
from nco_core import (
    Evaluation,
    Instance,
    InstanceError,
    InstanceFileError,
    Solution,
    UnsupportedFeature,
    VehicleType,
    Violation,
    evaluate,
    read,
    read_problem,
    read_solution,
    write,
)
from solvers.stop import MaxIterations, MaxRuntime, NoImprovement

__all__ = [
    "Evaluation",
    "Instance",
    "InstanceFileError",
    "InstanceError",
    "MaxIterations",
    "MaxRuntime",
    "NoImprovement",
    "Solution",
    "UnsupportedFeature",
    "VehicleType",
    "Violation",
    "compare",
    "evaluate",
    "list_cities",
    "load_city",
    "plot",
    "read",
    "read_problem",
    "read_solution",
    "sample_instance",
    "solve",
    "write",
]
