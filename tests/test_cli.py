"""nco solve on a shipped instance, for each classical method; bad input is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nco
from nco.cli import main

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "instances" / "oslo-acvrptw-50.json"


@pytest.mark.parametrize("method", ["pyvrp", "ortools", "vroom"])
def test_solve_prints_a_feasible_solution(method: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "oslo.sol"
    status = main(["solve", str(SHIPPED), "--method", method, "--time-limit", "0.3", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert f"{method}: cost" in printed and ", feasible" in printed
    solution = nco.read_solution(out, nco.read(SHIPPED))
    assert solution.feasible and f"cost {solution.cost:.6g}" in printed


def test_solve_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", str(SHIPPED), "--method", "vroom", "--time-limit", "0.2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["feasible"] is True and data["violations"] == []
    assert sorted(n for route in data["routes"] for n in route) == list(range(1, 51))


def test_solve_reports_bad_files_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "nco-instance", "version": 1, "distance": [[0, 1], [1, 0]], "demand": [0, 5], "capacity": 2}')
    assert main(["solve", str(bad)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "bad.json" in error and "demand[1] = 5.0 exceeds every vehicle's capacity" in error


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for command in ("solve", "compare", "train", "data", "llm"):
        assert command in text
