"""One-way layering at run time: the packages import in any order, and the lower layers load
nothing above them (import-linter checks the same statically, from pyproject's contracts)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nco", "envs", "solvers", "nco_core")


def _run(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _import_in(orders: list[tuple[str, ...]]) -> None:
    """Each order in a fresh interpreter; the public names are there at once (no lazy re-export)."""
    check = "import nco; assert callable(nco.solve) and callable(nco.read) and nco.Instance and nco.sample_instance"
    running = [(order, _run("; ".join(f"import {name}" for name in order) + "; " + check)) for order in orders]
    failed = {}
    for order, process in running:
        output, _ = process.communicate(timeout=120)
        if process.returncode:
            failed[" ".join(order)] = output.strip().splitlines()[-1:]
    assert not failed, failed


def test_the_packages_import_with_each_one_first() -> None:
    """Each package first, the others after it in both directions (8 of the 24 orders, 10 s)."""
    rotations = [PACKAGES[i:] + PACKAGES[:i] for i in range(len(PACKAGES))]
    _import_in(rotations + [(order[0], *reversed(order[1:])) for order in rotations])


@pytest.mark.slow
def test_the_packages_import_in_every_order() -> None:
    _import_in(list(itertools.permutations(PACKAGES)))


def test_the_lower_layers_load_nothing_above_them() -> None:
    """Every module of nco_core, envs and solvers imported: no nco module (and solvers no envs one)."""
    code = """
import importlib, pkgutil, sys
for package in ("nco_core", "solvers", "envs"):
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, package + "."):
        importlib.import_module(module.name)
    loaded = sorted(name for name in sys.modules if name == "nco" or name.startswith("nco."))
    assert not loaded, (package, loaded)
    if package == "solvers":
        assert not [name for name in sys.modules if name.split(".")[0] == "envs"], "solvers imported envs"
print("ok")
"""
    output, _ = (process := _run(code)).communicate(timeout=300)
    assert process.returncode == 0 and output.strip().endswith("ok"), output
