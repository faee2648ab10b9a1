"""nco's core: the problem model, the solution, the one evaluator and file I/O.

Everything else builds on this layer (``envs`` and ``solvers`` on it alone; policies, training,
the CLI and the public API ``nco`` above them), and it imports nothing of theirs: the layering is
checked by the import-linter contracts in ``pyproject.toml``.
"""

from nco_core.errors import UnsupportedFeature
from nco_core.evaluate import Evaluation, Violation, evaluate
from nco_core.instance import Instance, InstanceError, InstanceFileError, VehicleType
from nco_core.io import read, read_problem, read_solution, write
from nco_core.solution import Solution

__all__ = [
    "Evaluation",
    "Instance",
    "InstanceError",
    "InstanceFileError",
    "Solution",
    "UnsupportedFeature",
    "VehicleType",
    "Violation",
    "evaluate",
    "read",
    "read_problem",
    "read_solution",
    "write",
]
