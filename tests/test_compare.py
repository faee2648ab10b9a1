"""nco compare: every method x budget x instance, gaps against the right reference, files written."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

import nco
from nco.cli import main


def test_compare_gaps_use_best_known_else_best_found(tmp_path: Path) -> None:
    plain = nco.sample_instance("acvrp", 12, seed=1).replace(name="plain")
    known = plain.replace(name="known", best_known_cost=1.0)  # a reference no method can reach
    table = nco.compare([plain, known], methods=["pyvrp", "vroom"], time_limits=[0.2], progress=False)
    rows = {(r.instance, r.method): r for r in table.rows}
    assert all(r.feasible for r in rows.values())
    best_found = min(rows[("plain", m)].cost for m in ("pyvrp", "vroom"))
    for method in ("pyvrp", "vroom"):
        assert rows[("plain", method)].gap == pytest.approx(
            100 * (rows[("plain", method)].cost - best_found) / best_found
        )
        assert rows[("known", method)].gap == pytest.approx(100 * (rows[("known", method)].cost - 1.0))
    assert min(rows[("plain", m)].gap for m in ("pyvrp", "vroom")) == 0.0


def test_unsupported_methods_are_counted_apart(tmp_path: Path) -> None:
    strict = nco.sample_instance("vrpb", 10, seed=2)
    table = nco.compare([strict], methods=["ortools", "vroom"], time_limits=[0.2], progress=False)
    summary = {item["method"]: item for item in table.summary()}
    assert summary["ortools"]["feasible_share"] == 1.0 and summary["ortools"]["unsupported"] == 0
    assert summary["vroom"]["unsupported"] == 1 and summary["vroom"]["instances"] == 0
    assert math.isnan(summary["vroom"]["feasible_share"])
    (vroom_row,) = [r for r in table.rows if r.method == "vroom"]
    assert not vroom_row.supported and "not supported by vroom: strict_backhaul" in vroom_row.note


def test_cli_writes_csv_summary_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = []
    for seed in (3, 4):
        path = tmp_path / f"i{seed}.json"
        nco.write(nco.sample_instance("acvrptw", 10, seed=seed).replace(name=f"i{seed}"), path)
        files.append(str(path))
    out = tmp_path / "out"
    status = main(["compare", *files, "--methods", "pyvrp,ortools", "--time-limits", "0.1,0.3", "--out", str(out)])
    assert status == 0
    with (out / "compare.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 2 * 2
    assert {row["method"] for row in rows} == {"pyvrp", "ortools"}
    assert all(row["feasible"] == "True" for row in rows)
    summary = (out / "compare.md").read_text()
    assert summary.count("\n| pyvrp |") == 2 and "mean gap (%)" in summary
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| ortools | 0.3 |" in capsys.readouterr().out


def test_cli_rejects_files_and_problem_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "x.json", "--problem", "acvrp"]) == 2
    assert "either instance files or --problem" in capsys.readouterr().err


def test_configurations_are_named_with_their_options() -> None:
    from nco.method_spec import MethodSpec, parse_method

    assert parse_method("hybrid:ga+samples=4+neighbours=learned") == MethodSpec(
        "hybrid", {"refiner": "ga", "samples": 4, "neighbours": "learned"}
    )
    assert parse_method("neural+augment=true") == MethodSpec("neural", {"augment": True})
    for bad, message in (
        ("pyvrpp", "unknown method"),
        ("pyvrp+neighbours", "OPTION=VALUE"),
        ("pyvrp+k=1+k=2", "twice"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_method(bad)
    instance = nco.sample_instance("acvrp", 20, city="oslo", seed=3)
    with pytest.raises(ValueError, match="is not OPTION=VALUE"):
        nco.compare([instance], methods=["pyvrp", "pyvrp+"], time_limits=[0.1], progress=False)
    table = nco.compare([instance], methods=["pyvrp", "pyvrp+neighbours=learned"], time_limits=[0.2], progress=False)
    assert [row.method for row in table.rows] == ["pyvrp", "pyvrp+neighbours=learned"]
    assert all(row.feasible for row in table.rows)
