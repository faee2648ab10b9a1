"""Turn an OSM extract into an OSRM multi-level-Dijkstra graph (extract -> partition -> customize), cached by the
extract's sha256 so that rebuilding a pool from the same file costs nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from envs.osrm.binaries import OSRMTools, find_tools
from envs.osrm.paths import cache_dir

SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2")
DONE = "COMPLETE"


class OSRMBuildError(RuntimeError):
    """An OSRM preprocessing step failed (corrupt or empty extract, out of memory...)."""


@dataclass(frozen=True)
class OSRMDataset:
    base: Path  # the ``.osrm`` base path osrm-routed takes
    source: Path
    sha256: str
    osrm_version: str
    profile: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _input_name(pbf: Path) -> str:
    # osrm-extract picks its parser from the file name, so the staged copy keeps the original format suffix
    for suffix in SUFFIXES:
        if pbf.name.endswith(suffix):
            return "graph" + (".osm.pbf" if suffix == ".pbf" else suffix)
    raise OSRMBuildError(f"{pbf}: unsupported OSM file type (expected one of {', '.join(SUFFIXES)})")


def _run(step: list[str], log: Path, what: str, pbf: Path) -> None:
    with log.open("ab") as sink:
        done = subprocess.run(step, stdout=sink, stderr=subprocess.STDOUT, cwd=log.parent)
    if done.returncode != 0:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        errors = [line for line in lines if "[error]" in line] or lines[-3:]
        status = (
            f"killed by {signal.Signals(-done.returncode).name}" if done.returncode < 0 else f"exit {done.returncode}"
        )
        raise OSRMBuildError(f"{what} failed on {pbf} ({status}): " + " | ".join(errors[-3:]))


def build_dataset(
    pbf: Path | str, tools: OSRMTools | None = None, *, profile: str = "car", threads: int = 2
) -> OSRMDataset:
    """Build (or reuse) the graph of ``pbf`` under ``<cache>/osrm-graphs/<version>-<profile>/<sha256>/``.

    The graph is built in a temporary sibling folder and renamed into place only when all three steps
    succeeded, so an interrupted or failed build never leaves a half graph that a later call would trust."""
    pbf = Path(pbf)
    if not pbf.is_file():
        raise FileNotFoundError(f"OSM extract not found: {pbf}")
    tools = tools or find_tools()
    name = _input_name(pbf)
    digest = sha256_file(pbf)
    final = cache_dir() / "osrm-graphs" / f"{tools.version}-{profile}" / digest
    dataset = OSRMDataset(final / "graph.osrm", pbf, digest, tools.version, f"{profile}.lua")
    if (final / DONE).is_file():
        return dataset
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=".build-"))
    try:
        os.symlink(pbf.resolve(), staging / name)
        log = staging / "build.log"
        base = str(staging / "graph.osrm")
        _run(
            [
                str(tools.tool("osrm-extract")),
                "-p",
                str(tools.profile(profile)),
                "-t",
                str(threads),
                str(staging / name),
            ],
            log,
            "osrm-extract",
            pbf,
        )
        _run([str(tools.tool("osrm-partition")), "-t", str(threads), base], log, "osrm-partition", pbf)
        _run([str(tools.tool("osrm-customize")), "-t", str(threads), base], log, "osrm-customize", pbf)
        (staging / name).unlink()
        (staging / DONE).write_text(digest + "\n")
        if not (final / DONE).is_file():  # else a concurrent build of the same file finished first
            shutil.rmtree(final, ignore_errors=True)  # leftovers without the marker are never trusted
            os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dataset
