"""nco solve on a shipped instance, for each classical method; bad input is one clear line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

import nco
from nco.cli import build_parser, main
from nco.training.config import TrainConfig
from nco_core.paths import shipped_data

SHIPPED = shipped_data("instances", "oslo-acvrptw-50.json")


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
    bad.write_text(
        '{"format": "nco-instance", "version": 1, "distance": [[0, 1], [1, 0]], "demand": [0, 5], "capacity": 2}'
    )
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


# -- exit status: 0 feasible, 1 infeasible, 2 bad input / usage / unsupported, 3 internal error ---
def _instance_file(tmp_path: Path, **fields) -> Path:
    data = {
        "format": "nco-instance",
        "version": 1,
        "distance": [[0, 1, 1, 1], [1, 0, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0]],
        **fields,
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(data))
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "Traceback" not in error, error
    return error


def test_infeasible_exits_1_with_a_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _instance_file(tmp_path, demand=[0, 2, 2, 2], capacity=2, num_vehicles=1)  # needs 3 vehicles
    assert main(["solve", str(path), "--time-limit", "0.2"]) == 1
    assert _one_line_error(capsys).startswith("nco solve: infeasible: ")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"open_routes": "false"}, "field open_routes: Input should be a valid boolean"),
        ({"capacity": "ten"}, "field capacity: Input should be a valid number"),
        ({"num_vehicles": 1.5}, "field num_vehicles: Input should be a valid integer"),
    ],
)
def test_bad_json_fields_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], fields: dict, message: str) -> None:
    assert main(["solve", str(_instance_file(tmp_path, **fields))]) == 2
    error = _one_line_error(capsys)
    assert error.startswith("nco solve: error: ") and "case.json" in error and message in error


def test_unmodelled_sections_and_cut_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = "\n".join(f"{i + 1} {i} {2 * i}" for i in range(4))
    head = "NAME: p\nDIMENSION: 4\nCAPACITY: 5\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n"
    prize = tmp_path / "prize.vrp"
    prize.write_text(f"{head}{body}\nDEMAND_SECTION\n1 0\n2 1\n3 1\n4 1\nPRIZE_SECTION\n1 0\n2 9\n3 9\n4 9\nEOF\n")
    assert main(["solve", str(prize)]) == 2
    assert "PRIZE_SECTION in" in _one_line_error(capsys)
    cut = tmp_path / "cut.vrp"
    cut.write_text(f"{head}{body}\nDEMAND_SECTION\n1 0\n2 1\n")
    assert main(["solve", str(cut)]) == 2
    assert "cut.vrp: DIMENSION is 4 but DEMAND_SECTION has 2 rows" in _one_line_error(capsys)
    assert main(["solve", str(tmp_path / "missing.vrp")]) == 2
    assert "missing.vrp: no such file" in _one_line_error(capsys)


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["solve", str(_instance_file(tmp_path)), "--time-limit", "abc"])
    assert done.value.code == 2 and "--time-limit: invalid float value: 'abc'" in capsys.readouterr().err


def test_internal_errors_exit_3_and_debug_shows_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import nco.commands.solve as command

    def broken(*args, **kwargs):  # a bug inside a solver, as the CLI sees it
        return [][1]

    monkeypatch.setattr(command, "solve", broken)
    path = str(_instance_file(tmp_path))
    assert main(["solve", path]) == 3
    error = _one_line_error(capsys)
    assert error.startswith("nco solve: internal error: IndexError: list index out of range") and "--debug" in error
    for argv in (["solve", path, "--debug"], ["--debug", "solve", path]):
        assert main(argv) == 3
        assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_train_resume_refuses_a_checkpoint_carrying_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    torch.save({"state_dict": {}, "loops": Payload(), "optimizer_states": []}, tmp_path / "evil.ckpt")
    code = main(["train", "--resume", str(tmp_path / "evil.ckpt"), "--out", str(tmp_path / "run"), "--epochs", "1"])
    assert code == 2 and not marker.exists(), "the checkpoint's code must never run"
    assert "not a weights-only nco checkpoint" in _one_line_error(capsys)


# -- nco train: its options are TrainConfig's fields -----------------------------------------------
def test_train_options_are_the_config_fields_with_their_defaults() -> None:
    args = build_parser().parse_args(["train"])
    fields = {option.name for option in dataclasses.fields(TrainConfig)}
    assert fields <= set(vars(args))
    assert TrainConfig(**{name: getattr(args, name) for name in fields}) == TrainConfig()
    given = build_parser().parse_args(["train", "--weight-decay", "0.01", "--precision", "16-mixed", "--no-progress"])
    assert (given.weight_decay, given.precision, given.progress) == (0.01, "16-mixed", False)


def test_weight_decay_reaches_the_optimizer(tmp_path: Path) -> None:
    tiny = [
        "--problem",
        "acvrp",
        "--size",
        "6",
        "--batch-size",
        "4",
        "--num-starts",
        "2",
        "--model",
        "am",
        "--dim",
        "16",
        "--layers",
        "1",
        "--heads",
        "2",
        "--val-size",
        "1",
        "--reference-time",
        "0.05",
        "--steps-per-epoch",
        "1",
        "--epochs",
        "1",
        "--no-progress",
    ]
    assert main(["train", *tiny, "--weight-decay", "0.0123", "--out", str(tmp_path)]) == 0
    state = torch.load(tmp_path / "last.ckpt", weights_only=False)
    groups = state["optimizer_states"][0]["param_groups"]
    assert groups and all(group["weight_decay"] == 0.0123 for group in groups)
