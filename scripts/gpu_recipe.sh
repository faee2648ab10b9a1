#!/usr/bin/env bash
# Train a policy on a lent GPU machine in short stages, each one command that stops on its own
# within MINUTES (default 9) and leaves a resumable state in OUT, so a stage that is cut short by
# the machine going back simply runs again (labels resume by shard, training by --resume last):
#
#   scripts/gpu_recipe.sh label      # PyVRP labels of train-city instances, one process per core
#   scripts/gpu_recipe.sh imitation  # teacher forcing on the labels, from the shipped checkpoint
#   scripts/gpu_recipe.sh rl         # POMO RL fine-tuning from the imitation run's best weights
#   scripts/gpu_recipe.sh ship       # OUT/ship/PROBLEMSIZE.pt + its card (every stage's command and time)
#
# Settings (environment): PROBLEM (acvrp), SIZE (100), OUT (runs/gpu-PROBLEMSIZE), MINUTES (9),
# LABELS (20000 instances), LABEL_TIME (0.4 s each), LABEL_ITERATIONS (unset; PyVRP iterations per
# label instead, LABEL_TIME then a cap, by default nco data label's: labels that do not depend on the load), BATCH (256 imitation / RL instances per step),
# STARTS (POMO starts, 100), EPOCHS (1000: stages end by MINUTES), STEPS (steps per epoch, 50),
# INIT (data/checkpoints/PROBLEMSIZE.pt when shipped), ACCELERATOR (auto), VAL (validation instances, 32).
# On a CPU the same stages run (small settings: tests/test_recipe.py does so), only slower.
set -euo pipefail
cd "$(dirname "$0")/.."

stage=${1:?usage: scripts/gpu_recipe.sh label|imitation|rl|ship}
problem=${PROBLEM:-acvrp}
size=${SIZE:-100}
name="${problem}${size}"
out=${OUT:-runs/gpu-${name}}
seconds=$(( ${MINUTES:-9} * 60 ))
accelerator=${ACCELERATOR:-auto}
init=${INIT:-data/checkpoints/${name}.pt}
mkdir -p "$out"

# SIGINT at the limit: a training stage keeps the weights of its last finished epoch and its
# last.ckpt; labelling keeps every finished shard. Exit status 124 (cut by the limit) counts as done.
limited() { timeout -s INT "$seconds" "$@" || { status=$?; [ "$status" -eq 124 ] || [ "$status" -eq 130 ] || exit "$status"; }; }
resume() { [ -f "$1/last.ckpt" ] && echo "--resume last" || true; }
timed() { local began=$SECONDS; "$@"; echo "$(( SECONDS - began ))" >> "$out/$stage.seconds"; }
initial() { [ -f "$init" ] && echo "--init $init" || true; }

case "$stage" in
label)
    # with LABEL_ITERATIONS and no LABEL_TIME, nco data label's own cap applies
    budget=(--time-limit "${LABEL_TIME:-0.4}")
    [ -n "${LABEL_ITERATIONS:-}" ] && budget=(${LABEL_TIME:+--time-limit "$LABEL_TIME"} --iterations "$LABEL_ITERATIONS")
    timed limited nco data label --problem "$problem" --size "$size" --cities train \
        --num-instances "${LABELS:-20000}" "${budget[@]}" --workers "$(nproc)" --no-progress --out "$out/labels"
    ;;
imitation)
    # shellcheck disable=SC2046
    timed limited nco train --algorithm imitation --labels "$out/labels" --problem "$problem" --size "$size" \
        --data real --batch-size "${BATCH:-256}" --epochs "${EPOCHS:-1000}" --steps-per-epoch "${STEPS:-50}" \
        --val-size "${VAL:-32}" --accelerator "$accelerator" --no-progress --out "$out/imitation" \
        $(resume "$out/imitation") $(if [ ! -f "$out/imitation/last.ckpt" ]; then initial; fi)
    ;;
rl)
    # shellcheck disable=SC2046
    timed limited nco train --algorithm rl --problem "$problem" --size "$size" --data real \
        --batch-size "${BATCH:-256}" --num-starts "${STARTS:-100}" --epochs "${EPOCHS:-1000}" \
        --steps-per-epoch "${STEPS:-50}" --lr "${RL_LR:-1e-5}" --val-size "${VAL:-32}" \
        --accelerator "$accelerator" --no-progress --out "$out/rl" \
        $(resume "$out/rl") $(if [ ! -f "$out/rl/last.ckpt" ]; then echo "--init $out/imitation/best.pt"; fi)
    ;;
ship)
    python - "$out" "$name" <<'EOF'
import json, platform, sys
from pathlib import Path

from nco.training.checkpoint import load_policy, ship

out, name = Path(sys.argv[1]), sys.argv[2]
seconds = lambda stage: sum(int(s) for s in (out / f"{stage}.seconds").read_text().split()) if (out / f"{stage}.seconds").exists() else 0
stages = []
for stage in ("imitation", "rl"):
    if (out / stage / "best.pt").exists():
        _, meta = load_policy(out / stage / "best.pt")
        stages.append(dict(stage=stage, command=meta.get("command"), steps=meta.get("global_step"),
                           val_gap=meta.get("val_gap"), wall_seconds=seconds(stage),
                           cpu_seconds=meta.get("cpu_seconds")))
import numpy as np

shards = sorted((out / "labels").glob("shard-*.npz"))
first = json.loads(str(np.load(shards[0])["meta"])) if shards else {}
labelled = sum(len(np.load(shard)["seed"]) for shard in shards)
provenance = {k: first.get(k) for k in ("problem", "size", "cities", "solver", "time_limit", "iterations", "generator_version")}
best = out / ("rl" if (out / "rl" / "best.pt").exists() else "imitation") / "best.pt"
card = ship(best, out / "ship", name, stages=stages, labelling=dict(wall_seconds=seconds("label"), instances=labelled, **provenance),
            machine=f"{platform.machine()} {platform.node()}", recipe="scripts/gpu_recipe.sh")
print(card)
EOF
    ;;
*)
    echo "unknown stage $stage (label, imitation, rl, ship)" >&2
    exit 2
    ;;
esac
