"""What every benchmark table records: the machine, its load, and the versions that produced it."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def describe(packages: tuple[str, ...] = ("torch", "pyvrp", "ortools", "pyvroom", "tensordict", "lightning")) -> str:
    """One markdown paragraph: CPU, cores, load average, Python, package versions, git commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = ", ".join(f"{name} {package_version(name)}" for name in packages)
    return (
        f"- machine: {cpu_model()}, {os.cpu_count()} cores, load average (1/5/15 min) {load}\n"
        f"- python {platform.python_version()}, {versions}\n"
        f"- nco commit {commit.stdout.strip()}{' (uncommitted changes)' if dirty.stdout.strip() else ''}\n"
    )


def publish(path: Path, text: str) -> None:
    """Write a results table atomically and print it (nco is imported here, not at the top, so the
    rl4co workers in their own venv can still import this module)."""
    from nco_core.io import atomic_path

    with atomic_path(Path(path)) as temp:
        Path(temp).write_text(text)
    print(text)


def alternate(rounds: int, run_here, child: list[str] | None) -> dict[str, list]:
    """Each library's result per round, the libraries taking turns: nco in this process
    (``run_here()``), rl4co in its own interpreter (``child``: a command whose last stdout line is
    its JSON result; ``None`` = not timed). Load on a shared machine drifts over minutes, and
    alternating exposes both to the same drift."""
    runs: dict[str, list] = {"nco": []} | ({"rl4co": []} if child else {})
    for _ in range(rounds):
        runs["nco"].append(run_here())
        if child:
            done = subprocess.run(child, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(
                    f"rl4co run failed: {(done.stderr.strip().splitlines() or [str(done.returncode)])[-1]}"
                )
            runs["rl4co"].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs
