"""Training end to end on CPU: the policy improves, resume continues, checkpoints are weights-only."""

from __future__ import annotations

import csv
import itertools
import json

import numpy as np
import pytest
import torch

from envs.env import RoutingEnv
from envs.generators import generate
from nco.cli import main
from nco.policies import RoutingPolicy
from nco.training.checkpoint import load_policy, save_policy
from nco.training.data import BatchStream, DataSpec

TINY = ["--problem", "acvrp", "--size", "10", "--batch-size", "16", "--num-starts", "8", "--model", "am", "--dim", "32",
        "--layers", "2", "--heads", "4", "--val-size", "2", "--reference-time", "0.1", "--no-progress",
        "--seed", "0"]  # fmt: skip


def _greedy_cost(policy: RoutingPolicy, batch) -> float:
    env = RoutingEnv()
    with torch.no_grad():
        return float(-policy.eval().rollout(env.reset(batch), env, strategy="greedy", num_starts=10).reward.mean())


def _metrics(out) -> list[dict[str, str]]:
    with open(out / "logs" / "version_0" / "metrics.csv") as file:
        return list(csv.DictReader(file))


def _step(meta: dict) -> int:
    return meta["global_step"]


def test_train_improves_the_policy_and_resumes(tmp_path):
    out = tmp_path / "run"
    args = [*TINY, "--steps-per-epoch", "10", "--lr", "1e-3", "--out", str(out)]
    assert main(["train", *args, "--epochs", "1", "--snapshot-every", "1e-9"]) == 0
    first, meta = load_policy(out / "policy.pt")
    assert meta["epoch"] == 1 and meta["global_step"] == 10 and meta["size"] == 10
    spent, first_gap = meta["cpu_seconds"], meta["val_gap"]
    assert 0 < spent <= meta["train_seconds"] * 2  # one process on at most two cores
    snapshots = sorted((load_policy(path)[1] for path in (out / "snapshots").glob("cpu*.pt")), key=_step)
    assert [snapshot["global_step"] for snapshot in snapshots] == list(range(1, 11))  # one per step here
    assert all(a["cpu_seconds"] <= b["cpu_seconds"] for a, b in itertools.pairwise(snapshots))
    assert np.isfinite(meta["val_gap"])
    payload = torch.load(out / "policy.pt", weights_only=True)  # plain data only
    assert set(payload) == {"hparams", "state_dict", "meta"}

    # an untrained policy of the same shape is the reference the trained one must beat
    torch.manual_seed(0)
    untrained = RoutingPolicy(model="am", dim=32, layers=2, heads=4)
    batch = generate("acvrp", 64, 10, seed=99)
    assert _greedy_cost(first, batch) < 0.99 * _greedy_cost(untrained, batch)
    rewards = [float(row["train/reward"]) for row in _metrics(out) if row["train/reward"]]
    assert len(rewards) == 10 and np.isfinite(rewards).all()  # one logged step each, fresh batches
    assert list((out / "logs").rglob("events.out.tfevents.*"))  # TensorBoard curves too

    assert main(["train", *args, "--epochs", "2", "--resume", "last"]) == 0
    _, meta = load_policy(out / "policy.pt")
    assert meta["epoch"] == 2 and meta["global_step"] == 20  # continued, not restarted
    assert meta["cpu_seconds"] > spent  # the clock carried over the resume, not restarted at zero
    # best.pt stays the best epoch of both sessions: the resumed run knew the first session's best
    best = load_policy(out / "best.pt")[1]["val_gap"]
    assert best == min(first_gap, meta["val_gap"])
    (state,) = torch.load(out / "last.ckpt", weights_only=True)["callbacks"].values()
    assert state["best"] == best and state["cpu_seconds"] == pytest.approx(meta["cpu_seconds"], abs=0.5)
    assert (out / "best.pt").exists() and (out / "last.ckpt").exists()


def test_init_starts_from_a_checkpoint_and_refuses_another_model(tmp_path, capsys):
    torch.manual_seed(123)  # different weights from what seed 0 would initialise
    source = save_policy(RoutingPolicy(model="am", dim=32, layers=2, heads=4), tmp_path / "source.pt")
    expected = torch.load(source, weights_only=True)["state_dict"]
    frozen = [*TINY, "--steps-per-epoch", "1", "--epochs", "1", "--lr", "0"]  # lr 0: the weights stay as loaded

    assert main(["train", *frozen, "--out", str(tmp_path / "init"), "--init", str(source)]) == 0
    loaded, meta = load_policy(tmp_path / "init" / "policy.pt")
    assert all(torch.equal(value, expected[key]) for key, value in loaded.state_dict().items())
    assert f"--init {source}" in meta["command"]
    assert main(["train", *frozen, "--out", str(tmp_path / "fresh")]) == 0
    fresh, _ = load_policy(tmp_path / "fresh" / "policy.pt")
    assert not torch.equal(fresh.state_dict()["encoder.embed.weight"], expected["encoder.embed.weight"])

    other = save_policy(RoutingPolicy(model="am", dim=16, layers=2, heads=4), tmp_path / "other.pt")
    assert main(["train", *frozen, "--out", str(tmp_path / "bad"), "--init", str(other)]) == 2
    error = capsys.readouterr().err
    assert "--init" in error and "dim: checkpoint 16, requested 32" in error


def test_rollout_baseline_trains(tmp_path):
    out = tmp_path / "rollout"
    args = [*TINY, "--baseline", "rollout", "--steps-per-epoch", "2", "--epochs", "1", "--out", str(out),
            "--reference-iterations", "30"]  # fmt: skip
    assert main(["train", *args]) == 0
    assert all(key.startswith("pyvrp:30it<=0.1:") for key in json.loads((out / "reference.json").read_text()))
    assert [float(row["train/loss"]) for row in _metrics(out) if row["train/loss"]]
    assert "baseline.policy.encoder.embed.weight" in torch.load(out / "last.ckpt", weights_only=False)["state_dict"]


def test_batch_stream_resumes_mid_epoch_with_the_same_data():
    spec = DataSpec("acvrptw", 6)
    stream = BatchStream(spec, batch_size=2, steps=4, seed=1)
    seen = iter(stream)
    next(seen), next(seen)
    state = stream.state_dict()
    expected = next(seen)
    resumed = BatchStream(spec, batch_size=2, steps=4, seed=1)
    resumed.load_state_dict(state)
    batches = list(resumed)
    assert len(batches) == 2
    assert torch.equal(batches[0]["distance"], expected["distance"])
    assert len(list(resumed)) == 4  # the next epoch is a full one, with new data
    assert not torch.equal(next(iter(BatchStream(spec, 2, 4, seed=1)))["distance"], batches[0]["distance"])


def test_bad_resume_path_is_a_clear_error(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                *TINY,
                "--steps-per-epoch",
                "1",
                "--epochs",
                "1",
                "--out",
                str(tmp_path),
                "--resume",
                str(tmp_path / "nope.ckpt"),
            ]
        )
        == 2
    )
    assert "nope.ckpt" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--data", "cloud"], ["--model", "gnn"]])
def test_bad_options_are_rejected(bad):
    with pytest.raises(SystemExit):
        main(["train", *bad])


def test_reference_costs_are_cached_and_the_same_in_parallel(tmp_path):
    from envs.generators import to_instances
    from nco.api import solve
    from nco.training.reference import reference_costs
    from solvers.stop import MaxIterations

    instances = to_instances(generate("acvrp", 3, 8, seed=5), name="ref")
    cache = tmp_path / "sub" / "refs.json"
    parallel = reference_costs(instances, cache, time_limit=0.1, jobs=2)
    expected = [solve(i, method="pyvrp", time_limit=0.1, seed=0).cost for i in instances]
    assert parallel == pytest.approx(expected)  # 8 customers: PyVRP is optimal well within 0.1 s
    cache.write_text(cache.read_text().replace(str(parallel[0]), "123.5", 1))
    assert reference_costs(instances[:1], cache, time_limit=0.1)[0] == 123.5  # read back, not solved again

    # an iteration budget: what PyVRP finds in that many iterations, whatever the load, cached apart
    budgeted = reference_costs(instances, cache, time_limit=5.0, iterations=20)
    stop = MaxIterations(20)
    assert budgeted == [solve(i, method="pyvrp", time_limit=5.0, stop=stop, seed=0).cost for i in instances]
    assert reference_costs(instances[:1], cache, time_limit=0.1)[0] == 123.5


def test_ddp_on_two_cpu_processes(tmp_path):
    """The DDP pass-through really trains: two gloo processes, one report, one set of files."""
    import subprocess
    import sys

    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "nco.cli", "train", *TINY, "--epochs", "1", "--steps-per-epoch", "2",
               "--val-size", "4", "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
               "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MEMBER: 2/2" in done.stderr + done.stdout
    assert (done.stdout + done.stderr).count("policy: ") == 1  # rank 0 reports, rank 1 stays quiet
    _, meta = load_policy(out / "policy.pt")
    assert meta["global_step"] == 2 and np.isfinite(meta["val_gap"])


@pytest.mark.parametrize("engine", ["fast", "env"])
def test_training_rollouts_have_the_gradient_of_their_log_likelihood(engine):
    """REINFORCE needs d(log-likelihood)/d(weights): both engines must match finite differences
    (same sampled actions on both sides of the step). The compiled engine once failed this: its
    arrays, rewritten in place each step, were what autograd had kept for backward."""
    torch.manual_seed(0)
    policy = RoutingPolicy(model="am", dim=32, layers=2, heads=4)
    env, batch = RoutingEnv(), generate("acvrp", 4, 10, seed=1)
    parameter = policy.decoder.distance_scale

    def log_likelihood():
        generator = torch.Generator().manual_seed(5)
        rollout = policy.rollout(
            env.reset(batch), env, strategy="sampling", num_starts=4, generator=generator, engine=engine
        )
        return rollout.log_likelihood.sum(), rollout.actions

    value, actions = log_likelihood()
    value.backward()
    with torch.no_grad():
        parameter += 1e-3
        up, actions_up = log_likelihood()
        parameter -= 2e-3
        down, actions_down = log_likelihood()
        parameter += 1e-3
    assert torch.equal(actions, actions_up) and torch.equal(actions, actions_down)
    assert float(parameter.grad) == pytest.approx(float(up - down) / 2e-3, rel=0.02)


def test_threads_option_sets_the_torch_threads_of_the_run(tmp_path):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        args = [*TINY, "--steps-per-epoch", "1", "--epochs", "1", "--threads", "1", "--out", str(tmp_path)]
        assert main(["train", *args]) == 0
        assert torch.get_num_threads() == 1
        assert "--threads 1" in load_policy(tmp_path / "policy.pt")[1]["command"]  # the card can repeat the run
    finally:
        torch.set_num_threads(before)
