"""Label shards: real PyVRP labels of seed-named instances, resumable, refused when stale."""

from __future__ import annotations

import json

import numpy as np
import pytest

from envs.generators import GENERATOR_VERSION, sample_instance
from nco.cli import main
from nco.training.labels import read_shards, rebuild_instance
from nco_core.solution import Solution

OPTIONS = {
    "--problem": "acvrp",
    "--size": "10",
    "--cities": "andorra,bangor",
    "--num-instances": "5",
    "--time-limit": "0.05",
    "--shard-size": "2",
}


def _args(out, **changes: str) -> list[str]:
    options = dict(OPTIONS, **{f"--{key.replace('_', '-')}": value for key, value in changes.items()})
    return ["data", "label", *[part for pair in options.items() for part in pair], "--no-progress", "--out", str(out)]


def test_labels_rebuild_their_instances_resume_and_refuse_other_jobs(tmp_path, capsys):
    out = tmp_path / "labels"
    assert main(_args(out)) == 0
    shards = sorted(out.glob("shard-*.npz"))
    assert [p.name for p in shards] == ["shard-00000.npz", "shard-00001.npz", "shard-00002.npz"]
    labels = list(read_shards(out))
    assert [(label.city, label.seed) for label in labels] == [
        ("andorra", 0),
        ("bangor", 1),
        ("andorra", 2),
        ("bangor", 3),
        ("andorra", 4),
    ]
    for label in labels:
        instance = label.instance()
        # the recipe is the public generator call: anyone can rebuild the instance from it
        assert np.array_equal(
            instance.distance, sample_instance("acvrp", 10, city=label.city, seed=label.seed).distance
        )
        solution = Solution.of(instance, label.routes, label.vehicle_types)
        assert solution.feasible and label.feasible
        assert solution.cost == pytest.approx(label.cost, rel=1e-12)
        assert sorted(c for route in label.routes for c in route) == list(range(1, 11))
        assert label.meta["solver"] == "pyvrp" and label.meta["time_limit"] == 0.05
    capsys.readouterr()

    stamps = [p.stat().st_mtime_ns for p in shards]
    assert main(_args(out)) == 0  # resumed: nothing left to do
    assert "labelled 0 instances (5 already there" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in shards] == stamps

    shards[2].unlink()  # an interrupted run: the missing shard alone is made again
    assert main(_args(out)) == 0
    assert "labelled 1 instances (4 already there" in capsys.readouterr().out
    assert [(label.seed, label.routes) for label in read_shards(out)] == [
        (label.seed, label.routes) for label in labels
    ]

    assert main(_args(out, time_limit="0.1")) == 2  # another budget: not mixed in
    assert "time_limit: shard 0.05, this run 0.1" in capsys.readouterr().err


def test_an_iteration_budget_makes_labels_that_depend_on_their_recipe_alone(tmp_path, capsys):
    # a wall-clock budget finds more on an idle core than on a busy one; an iteration budget does not
    first, again = tmp_path / "a", tmp_path / "b"
    for out in (first, again):
        assert main(_args(out, time_limit="20", iterations="40")) == 0
        assert "0 stopped by the time cap" in capsys.readouterr().out
    labels = list(read_shards(first))
    assert [(label.seed, label.routes) for label in labels] == [(lab.seed, lab.routes) for lab in read_shards(again)]
    assert {label.meta["iterations"] for label in labels} == {40}
    for path in sorted(first.glob("shard-*.npz")):
        with np.load(path) as archive:
            assert archive["iterations"].tolist() == [40] * len(archive["seed"])

    assert main(_args(first, time_limit="20", iterations="80")) == 2  # another budget: not mixed in
    assert "iterations: shard 40, this run 80" in capsys.readouterr().err
    assert main(_args(tmp_path / "c", time_limit="0.001", iterations="1000000000")) == 0
    assert "5 stopped by the time cap" in capsys.readouterr().out


def test_a_shard_of_another_generator_version_is_refused(tmp_path):
    out = tmp_path / "labels"
    assert main(_args(out)) == 0
    path = out / "shard-00001.npz"
    with np.load(path) as archive:
        arrays = dict(archive)
    meta = json.loads(str(arrays["meta"]))
    meta["generator_version"] = GENERATOR_VERSION + 1
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    with pytest.raises(ValueError, match=r"shard-00001\.npz: made with generator version"):
        list(read_shards(out))
    assert main(_args(out)) == 2  # resuming onto it is refused too


def test_test_cities_are_never_labelled(tmp_path, capsys):
    from envs.cities import list_cities

    test_city = list_cities("test")[0]
    assert main(_args(tmp_path / "x", cities=test_city)) == 2
    assert "test-split pool" in capsys.readouterr().err


def test_synthetic_recipe_is_reproducible():
    first = rebuild_instance("acvrptw", 12, "", 7)
    assert np.array_equal(first.time_windows, rebuild_instance("acvrptw", 12, "", 7).time_windows)
    assert not np.array_equal(first.distance, rebuild_instance("acvrptw", 12, "", 8).distance)


def test_a_background_job_stops_cleanly_on_sigint(tmp_path):
    # started by a non-interactive shell (nohup ... &, a recipe's `timeout -s INT`), a job inherits SIGINT
    # ignored; nco must still stop on it, keeping its finished shards
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "labels"
    args = _args(out, num_instances="400", shard_size="1")
    child = subprocess.Popen(
        [sys.executable, "-m", "nco.cli", *args],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(out.glob("shard-*.npz")) and time.monotonic() < deadline:
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 130 and "interrupted" in err
    kept = list(read_shards(out))
    assert 1 <= len(kept) < 400 and all(label.feasible for label in kept)
