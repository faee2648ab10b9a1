"""Batch engine on a real Dask LocalCluster (loopback): every task once, worker deaths survived,
Ctrl-C then resume, failing tasks recorded, torn lines repaired."""

from __future__ import annotations

import csv
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import nco
from envs.cities import city_infos
from nco.batch import Recipe, Task, plan, run_batch
from nco.batch.store import COLUMNS, ResultStore
from nco.cli import main
from nco.compare import table_from_batch

CITIES = ["boston", "oslo", "atlanta"]
ONE_COMMAND = (
    "import argparse, sys; from nco.cli import interruptible; from nco.commands import solve_many; "
    "interruptible(); parser = argparse.ArgumentParser(); solve_many.register(parser.add_subparsers()); "
    "args = parser.parse_args(); sys.exit(args.func(args))"
)


@pytest.fixture(scope="module")
def scheduler() -> str:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster.scheduler_address


def recipes(count: int, size: int = 12) -> list[Recipe]:
    return [Recipe("acvrp", size, CITIES[i % len(CITIES)], i) for i in range(count)]


def csv_keys(out: Path) -> Counter:
    with (out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(None not in row and len(row) == len(COLUMNS) for row in rows), "torn or malformed line"
    return Counter((row["instance"], row["method"], float(row["budget"])) for row in rows)


def test_two_workers_solve_every_task_once(tmp_path: Path, scheduler: str) -> None:
    sources = recipes(4)
    tasks = plan(sources, ["pyvrp", "ortools"], [0.1])
    result = run_batch(tasks, {s.name: s for s in sources}, tmp_path, scheduler=scheduler, progress=False)
    assert not result.interrupted and result.ran == 8 and result.skipped == 0 and result.failed == 0
    assert csv_keys(tmp_path) == Counter(task.key for task in tasks)
    assert len({row["worker"] for row in result.rows}) == 2  # both workers took tasks
    by_name = {s.name: s for s in sources}
    for row in result.rows:
        assert row["feasible"] and row["wall_time"] >= row["runtime"] > 0
        # the file holds the routes; nco's evaluator, run here, gives the same cost as the row
        solution = nco.read_solution(
            ResultStore(tmp_path).solution_path(tuple(row[k] for k in ("instance", "method", "budget"))),
            by_name[row["instance"]].build(),
        )
        assert solution.feasible and solution.cost == pytest.approx(row["cost"])
    table = table_from_batch(result.rows)
    for name in by_name:  # no best-known cost: the best method on each instance has gap 0
        assert min(r.gap for r in table.rows if r.instance == name) == 0.0
    again = run_batch(tasks, {s.name: s for s in sources}, tmp_path, scheduler="tcp://127.0.0.1:1", progress=False)
    assert again.ran == 0 and again.skipped == 8  # all finished: resumes without even connecting


def test_sigkilled_worker_loses_and_duplicates_nothing(tmp_path: Path, scheduler: str) -> None:
    from distributed import Client

    sources = recipes(8)
    tasks = plan(sources, ["pyvrp"], [0.4])
    outcome: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: outcome.update(
            result=run_batch(tasks, {s.name: s for s in sources}, tmp_path, scheduler=scheduler, progress=False)
        )
    )
    with Client(scheduler) as client:
        thread.start()
        deadline = time.monotonic() + 30
        busy: dict = {}
        while time.monotonic() < deadline and not busy:
            busy = {worker: keys for worker, keys in client.processing().items() if keys}
            time.sleep(0.02)
        assert busy, "no worker picked up a task"
        victim, keys = next(iter(busy.items()))
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=90)
    assert not thread.is_alive()
    result = outcome["result"]
    assert result.failed == 0 and result.ran == len(tasks)
    assert csv_keys(tmp_path) == Counter(task.key for task in tasks)  # nothing lost, nothing twice
    lost = [row for row in result.rows if any(str(key).startswith(row["instance"] + "__") for key in keys)]
    assert lost and all(row["pid"] != pid for row in lost)  # the killed worker's tasks ran elsewhere


def test_interrupt_then_resume_runs_only_what_is_missing(tmp_path: Path, scheduler: str) -> None:
    out = tmp_path / "run"
    args = ["solve-many", "--problem", "acvrp", "--size", "12", "--cities", "test", "--num-instances", "12",
            "--method", "pyvrp", "--time-limit", "0.3", "--out", str(out), "--no-progress"]  # fmt: skip
    # Ctrl-C in a terminal signals the whole process group: the client and the embedded cluster.
    # The child parses only this sub-command: the full `nco` parser imports Lightning (seconds).
    child = subprocess.Popen([sys.executable, "-c", ONE_COMMAND, *args, "--workers", "2"], start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if (out / "results.csv").exists() and sum(csv_keys(out).values()) >= 2:
                break
            time.sleep(0.02)
        os.killpg(child.pid, signal.SIGINT)
        log, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 130, log
    first = {key: row for key, row in ResultStore(out).latest().items()}
    assert 2 <= len(first) < 12 and set(csv_keys(out).values()) == {1}

    assert main([*args, "--scheduler", scheduler]) == 0
    expected = plan(recipes_of_cli(12), ["pyvrp"], [0.3])
    assert csv_keys(out) == Counter(task.key for task in expected)  # every key once
    final = ResultStore(out).latest()
    for key, row in first.items():  # finished rows were kept, not re-run
        assert final[key]["finished"] == row["finished"] and final[key]["pid"] == row["pid"]
    resumed = [row for key, row in final.items() if key not in first]
    assert min(row["started"] for row in resumed) > max(row["finished"] for row in first.values())
    assert (out / "summary.md").is_file() and len(list((out / "solutions").glob("*.json"))) == 12


def recipes_of_cli(count: int) -> list[Recipe]:
    cities = [info.name for info in city_infos("test") if info.points > 12]
    return [Recipe("acvrp", 12, cities[i % len(cities)], i) for i in range(count)]


def test_failing_tasks_record_their_error_and_the_batch_goes_on(tmp_path: Path, scheduler: str) -> None:
    strict, nowhere = Recipe("vrpb", 8, "boston", 0), Recipe("acvrp", 8, "no-such-city", 1)
    tasks = plan([strict], ["ortools", "vroom"], [0.1]) + [Task(nowhere.name, "pyvrp", 0.1)]
    result = run_batch(
        tasks, {strict.name: strict, nowhere.name: nowhere}, tmp_path, scheduler=scheduler, progress=False
    )
    rows = {row["method"]: row for row in result.rows}
    assert rows["ortools"]["status"] == "ok" and rows["ortools"]["feasible"]
    assert rows["vroom"]["status"] == "unsupported" and "strict_backhaul" in rows["vroom"]["error"]
    assert rows["pyvrp"]["status"] == "error" and "no-such-city" in rows["pyvrp"]["error"]
    assert result.failed == 2 and not (tmp_path / "solutions" / f"{nowhere.name}__pyvrp__0.1.json").exists()
    # resume skips recorded errors unless asked to retry them
    assert (
        run_batch(
            tasks, {strict.name: strict, nowhere.name: nowhere}, tmp_path, scheduler=scheduler, progress=False
        ).ran
        == 0
    )
    retried = run_batch(
        tasks,
        {strict.name: strict, nowhere.name: nowhere},
        tmp_path,
        scheduler=scheduler,
        retry_errors=True,
        progress=False,
    )
    assert retried.ran == 1 and csv_keys(tmp_path)[nowhere.name, "pyvrp", 0.1] == 2  # appended, never rewritten


def test_compare_workers_runs_on_the_engine(tmp_path: Path, scheduler: str) -> None:
    files = []
    for seed in (3, 4):
        files.append(str(tmp_path / f"i{seed}.json"))
        nco.write(nco.sample_instance("acvrptw", 10, seed=seed).replace(name=f"i{seed}"), files[-1])
    out = tmp_path / "out"
    assert (
        main(
            [
                "compare",
                *files,
                "--methods",
                "pyvrp,ortools",
                "--time-limits",
                "0.1",
                "--scheduler",
                scheduler,
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    with (out / "compare.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and all(row["feasible"] == "True" for row in rows)
    assert {min(float(r["gap"]) for r in rows if r["instance"] == name) for name in ("i3", "i4")} == {0.0}
    assert sum(csv_keys(out).values()) == 4 and (out / "compare.png").is_file()
    # the Python API on the engine: same table shape and gap rule as in one process
    known = nco.read(files[0]).replace(best_known_cost=1.0)
    table = nco.compare([known], methods=["pyvrp", "vroom"], time_limits=[0.1], scheduler=scheduler, progress=False)
    assert [(r.method, r.feasible) for r in table.rows] == [("pyvrp", True), ("vroom", True)]
    assert all(r.gap == pytest.approx(100 * (r.cost - 1.0)) for r in table.rows)


def test_torn_last_line_is_cut_on_open(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.append(
            {"instance": "a", "method": "pyvrp", "budget": 0.5, "status": "ok", "cost": 1.0, "feasible": True}, None
        )
    with (tmp_path / "results.csv").open("a") as handle:
        handle.write("b,pyvrp,0.5,0,o")  # a crash in the middle of a row
    assert list(ResultStore(tmp_path).latest()) == [("a", "pyvrp", 0.5)]
    assert (tmp_path / "results.csv").read_text().endswith("\n")
