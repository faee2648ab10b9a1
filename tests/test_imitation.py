"""Imitation end to end on CPU: real PyVRP labels, teacher forcing lowers the validation gap."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from envs.env import RoutingEnv
from nco.cli import main
from nco.policies import RoutingPolicy
from nco.training.checkpoint import load_policy
from nco.training.data import DataSpec, validation_instances
from nco.training.imitation import LabelStream, orderings, target_actions
from nco.training.labels import read_shards
from nco.training.reference import reference_costs

MODEL = ["--model", "am", "--dim", "32", "--layers", "2", "--heads", "4"]


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    out = tmp_path_factory.mktemp("labels")
    args = ["data", "label", "--problem", "acvrp", "--size", "20", "--cities", "synthetic", "--num-instances", "64",
            "--time-limit", "0.05", "--shard-size", "32", "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    return out


def test_target_actions_rebuild_the_labelled_solutions_in_every_ordering(labels):
    chosen = list(read_shards(labels))[:5]
    instances = [label.instance() for label in chosen]
    targets = target_actions(chosen, instances, 3, np.random.default_rng(0))
    env = RoutingEnv()
    td = env.reset(instances)[torch.arange(5).repeat(3)]
    td, _ = env.replay(td, targets)
    assert bool(td["complete"].all())
    assert np.allclose(td["cost"].numpy(), np.tile([label.cost for label in chosen], 3), rtol=1e-12)
    for label in chosen:  # POMO-style: each ordering starts with another route
        firsts = [order[0] for order in orderings(label, 3, np.random.default_rng(1))]
        assert len(set(firsts)) == min(3, len(label.routes))


def test_teacher_forcing_scores_a_rollout_as_the_rollout_did():
    """Forced along the policy's own greedy POMO rollout, every target is the argmax and the
    summed log-probabilities are the rollout's log-likelihood: the same decoding, step for step."""
    from envs.generators import generate
    from nco.training.imitation import teacher_forcing

    torch.manual_seed(0)
    policy = RoutingPolicy(model="am", dim=32, layers=2, heads=4).eval()
    env = RoutingEnv()
    batch = generate("acvrp", 6, 10, seed=3)
    with torch.no_grad():
        rollout = policy.rollout(env.reset(batch), env, strategy="greedy", num_starts=3)
        out = teacher_forcing(policy, env.reset(batch), env, rollout.actions)
    assert int(out["hits"]) == int(out["steps"]) > 0 and int(out["derailed"]) == 0
    assert float(out["nll"]) == pytest.approx(-float(rollout.log_likelihood.sum()), rel=1e-5)


def test_teacher_forcing_scores_the_first_move_as_one_start_decoding_makes_it():
    """Along the policy's own one-start greedy rollout (the policy picks the first move too), the
    first move is the argmax and the first move's and later steps' log-likelihoods add up to the
    rollout's; with several orderings, any of their first moves is a right one."""
    from envs.generators import generate
    from nco.training.imitation import teacher_forcing

    torch.manual_seed(0)
    policy = RoutingPolicy(model="am", dim=32, layers=2, heads=4).eval()
    env = RoutingEnv()
    batch = generate("acvrp", 6, 10, seed=3)
    with torch.no_grad():
        rollout = policy.rollout(env.reset(batch), env, strategy="greedy")
        one = teacher_forcing(policy, env.reset(batch), env, rollout.actions)
        pomo = policy.rollout(env.reset(batch[:1]), env, strategy="greedy", num_starts=3).actions
        apart = [teacher_forcing(policy, env.reset(batch[:1]), env, row[None]) for row in pomo]
        together = teacher_forcing(policy, env.reset(batch[:1]), env, pomo)
    assert int(one["first_hits"]) == int(one["first_steps"]) == 6
    total = float(one["nll"] + one["first_nll"])
    assert total == pytest.approx(-float(rollout.log_likelihood.sum()), rel=1e-5)
    first_move_p = np.exp([-float(out["first_nll"]) for out in apart])
    assert float(together["first_nll"]) == pytest.approx(-3 * np.log(first_move_p.sum()), rel=1e-5)
    assert int(together["first_steps"]) == 3


def test_label_stream_resumes_with_the_same_batches(labels):
    stream = LabelStream(list(read_shards(labels)), batch_size=4, steps=3, seed=5, orderings=2)
    batches = list(stream)
    again = LabelStream(list(read_shards(labels)), batch_size=4, steps=3, seed=5, orderings=2)
    again.load_state_dict({"epoch": 0, "step": 2, "labels": 64})
    ((td, targets),) = list(again)
    assert torch.equal(targets, batches[2][1]) and torch.equal(td["distance"], batches[2][0]["distance"])


def test_label_stream_takes_new_labels_at_each_epoch(labels):
    every = list(read_shards(labels))
    stream = LabelStream(every[:8], batch_size=4, steps=2, seed=5, orderings=2, reload=lambda: every)
    list(stream)
    assert stream.state_dict()["labels"] == 8
    list(stream)  # epoch 1: labelling went on meanwhile
    assert stream.state_dict() == {"epoch": 1, "step": 2, "labels": 64}


def test_imitation_lowers_the_validation_gap_and_resumes(labels, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--algorithm", "imitation", "--labels", str(labels), "--problem", "acvrp", "--size", "20", *MODEL,
            "--batch-size", "16", "--orderings", "4", "--steps-per-epoch", "6", "--lr", "3e-3", "--val-size", "16",
            "--reference-time", "0.1", "--no-progress", "--seed", "0", "--out", str(out)]  # fmt: skip
    assert main([*args, "--epochs", "3"]) == 0
    trained, meta = load_policy(out / "policy.pt")
    assert meta["algorithm"] == "imitation" and meta["labels"]["count"] == 64 and meta["labels"]["solver"] == "pyvrp"

    # the run's own validation set and cached references; the untrained policy of the same seed
    val = validation_instances(DataSpec("acvrp", 20), 16, seed=12345)
    references = np.array(reference_costs(val, out / "reference.json", time_limit=0.1))
    gap = lambda policy: 100 * float(np.mean([s[0].cost for s in policy.solutions(val)] / references - 1))  # noqa: E731
    torch.manual_seed(0)
    untrained = gap(RoutingPolicy(model="am", dim=32, layers=2, heads=4))
    assert gap(trained) == pytest.approx(meta["val_gap"], abs=1e-6)
    assert meta["val_gap"] < 0.85 * untrained, (meta["val_gap"], untrained)
    with open(out / "logs" / "version_0" / "metrics.csv") as file:
        rows = [row for row in csv.DictReader(file) if row["train/accuracy"]]
    assert len(rows) == 18 and all(0 < float(row["train/accuracy"]) <= 1 for row in rows)
    assert all(float(row["train/derailed"]) == 0 for row in rows)  # PyVRP's routes are legal env moves
    assert all(float(row["train/labels"]) == 64 for row in rows)

    assert main([*args, "--epochs", "4", "--resume", "last"]) == 0
    _, meta = load_policy(out / "policy.pt")
    assert meta["epoch"] == 4 and meta["global_step"] == 24

    # then POMO RL fine-tuning from the imitation weights (the second stage of the recipe)
    rl = ["train", "--algorithm", "rl", "--init", str(out / "best.pt"), "--problem", "acvrp", "--size", "20", *MODEL,
          "--batch-size", "4", "--num-starts", "4", "--steps-per-epoch", "2", "--epochs", "1", "--val-size", "4",
          "--reference-time", "0.05", "--no-progress", "--out", str(tmp_path / "rl")]  # fmt: skip
    assert main(rl) == 0
    _, meta = load_policy(tmp_path / "rl" / "policy.pt")
    assert meta["global_step"] == 2 and "--init" in meta["command"] and "algorithm" not in meta


def test_imitation_needs_matching_labels(labels, tmp_path, capsys):
    code = main(["train", "--algorithm", "imitation", "--labels", str(labels), "--size", "10", *MODEL, "--no-progress",
                 "--val-size", "2", "--reference-time", "0.05", "--out", str(tmp_path / "r")])  # fmt: skip
    assert code == 2 and "labels are acvrp N=20, the run trains acvrp N=10" in capsys.readouterr().err
