"""The generated program's result: ``instance.json`` and ``solution.json`` in nco's JSON format.

Reading goes through :mod:`nco_core.io` (which validates the instance) and the routes are scored
again by the evaluator here, outside the sandbox: nothing the program claims about cost or
feasibility is trusted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from nco.llm.prompt import INSTANCE_FILE, SOLUTION_FILE
from nco_core.instance import Instance
from nco_core.io import InstanceFileError, read, read_solution
from nco_core.solution import Solution  # read_solution scores routes with Solution.of

__all__ = ["RESULT_FILES", "ResultError", "read_result"]

RESULT_FILES = (INSTANCE_FILE, SOLUTION_FILE)


class ResultError(ValueError):
    """The program ran but its output does not follow the contract; the message is for the model."""


def read_result(files: dict[str, bytes]) -> tuple[Instance, Solution]:
    missing = [name for name in RESULT_FILES if name not in files]
    if missing:
        raise ResultError(
            f"the program did not write {' and '.join(missing)}; end it with "
            f'nco.write(instance, "{INSTANCE_FILE}") and nco.write(solution, "{SOLUTION_FILE}")'
        )
    with tempfile.TemporaryDirectory(prefix="nco-llm-result-") as folder:
        for name in RESULT_FILES:
            Path(folder, name).write_bytes(files[name])
        try:
            instance = read(Path(folder, INSTANCE_FILE), format="json")
        except (InstanceFileError, ValueError) as error:
            raise ResultError(f"{INSTANCE_FILE} is not a valid nco instance: {_local(error, folder)}") from None
        try:
            solution = read_solution(Path(folder, SOLUTION_FILE), instance)
        except (InstanceFileError, KeyError, TypeError, ValueError) as error:
            raise ResultError(
                f"{SOLUTION_FILE} does not hold routes for that instance: {_local(error, folder)}"
            ) from None
    return instance, solution


def _local(error: Exception, folder: str) -> str:
    """The message without this machine's temporary path."""
    return str(error).replace(folder + "/", "")
