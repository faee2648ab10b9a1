"""A non-editable install finds the shipped data: ``nco solve --method neural`` from outside the repository.

The project is copied (so the build writes nothing into the working tree), installed as a wheel without
dependencies into a fresh venv that borrows torch & co. from the running interpreter's site-packages, and
run from an empty folder; the checkpoint it reports must come from the venv, not from the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from setuptools import find_packages

from envs.cities import list_cities
from nco_core.paths import shipped_data

REPO = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
INSTANCE = "krems-atsp-50.json"


def test_the_package_list_names_every_code_package() -> None:
    """pyproject lists its packages (so it can map nco_data onto data/): a new subpackage must be added there."""
    listed = set(SETUPTOOLS["packages"]) - set(SETUPTOOLS["package-dir"])
    found = set(find_packages(str(REPO), include=["nco_core*", "nco", "nco.*", "envs*", "solvers*"]))
    assert found == listed


def test_nco_shipped_data_points_at_another_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cities").mkdir()
    shutil.copy(REPO / "data" / "cities" / "monaco.npz", tmp_path / "cities")
    (tmp_path / "cities" / "split.json").write_text(json.dumps({"train": ["monaco"], "test": []}))
    monkeypatch.setenv("NCO_SHIPPED_DATA", str(tmp_path))
    monkeypatch.setenv("NCO_DATA_DIR", str(tmp_path / "user"))  # no user-built pools either
    assert shipped_data("cities", "split.json") == tmp_path / "cities" / "split.json"
    assert list_cities("all") == list_cities("train") == ["monaco"]


def test_a_wheel_install_solves_with_the_shipped_checkpoint(tmp_path: Path) -> None:
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for top in {name.split(".")[0] for name in SETUPTOOLS["packages"]} - set(SETUPTOOLS["package-dir"]):
        shutil.copytree(REPO / top, source / top, ignore=ignore)
    for folder in SETUPTOOLS["package-dir"].values():
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # --ignore-installed: the running interpreter's own (editable) nco stays untouched
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--ignore-installed",
            str(source),
        ],
        check=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(REPO / "data" / "instances" / INSTANCE, elsewhere / INSTANCE)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "NCO_SHIPPED_DATA")}
    done = subprocess.run(
        [str(venv / "bin" / "nco"), "solve", INSTANCE, "--method", "neural", "--time-limit", "1", "--json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    solution = json.loads(done.stdout)
    assert solution["method"] == "neural" and solution["feasible"] is True
    assert sorted(node for route in solution["routes"] for node in route) == list(range(1, 51))
    checkpoint = Path(solution["info"]["checkpoint"])
    assert checkpoint.name == "atsp50.pt" and checkpoint.is_relative_to(venv), checkpoint
    assert _files(checkpoint.parents[1]) == _files(source / "data")  # .../site-packages/nco_data: all of data/


def _files(folder: Path) -> set[str]:
    return {
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
