"""The GPU recipe's stages run end to end on a CPU at a tiny size and ship a card naming every stage."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_recipe_stages_label_train_and_ship(tmp_path: Path) -> None:
    settings = dict(
        OUT=str(tmp_path),
        PROBLEM="acvrp",
        SIZE="10",
        LABELS="8",
        LABEL_ITERATIONS="30",  # the time limit then only caps a label (30 s)
        BATCH="4",
        STARTS="4",
        EPOCHS="1",
        STEPS="2",
        VAL="2",
        MINUTES="3",
        ACCELERATOR="cpu",
    )
    env = {**os.environ, **settings}
    for stage in ("label", "imitation", "rl", "ship"):
        done = subprocess.run([str(REPO / "scripts" / "gpu_recipe.sh"), stage], env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{stage}: {done.stderr[-2000:]}"
    card = json.loads((tmp_path / "ship" / "acvrp10.json").read_text())
    assert [s["stage"] for s in card["stages"]] == ["imitation", "rl"]
    assert all(s["cpu_seconds"] > 0 for s in card["stages"])  # each stage's own CPU clock, from its checkpoint
    assert card["stages"][1]["command"].endswith(f"--init {tmp_path}/imitation/best.pt")
    assert card["labelling"]["instances"] == 8 and card["labelling"]["solver"] == "pyvrp"
    assert card["labelling"]["iterations"] == 30 and card["labelling"]["time_limit"] == 30
    assert (tmp_path / "ship" / "acvrp10.pt").stat().st_size > 0
