"""Fetch one distribution file from PyPI with pip itself, so proxies, indexes and certificates configured for
pip apply unchanged."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def pip_download(
    requirement: str,
    dest: Path,
    *,
    sdist: bool = False,
    python_version: str | None = None,
    platform: str | None = None,
    timeout: float = 600.0,
) -> Path:
    """Download ``requirement`` (no dependencies) into ``dest`` and return the file.

    ``sdist=True`` asks for the source archive of that package only; binary build requirements stay allowed so
    pip does not compile cmake from source just to read the metadata."""
    dest.mkdir(parents=True, exist_ok=True)
    name = requirement.split("=")[0].split(">")[0].split("<")[0].strip()
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"]
    if sdist:
        command += [f"--no-binary={name}"]
    else:
        command += ["--only-binary=:all:"]
    if python_version:
        command += ["--python-version", python_version]
    if platform:
        command += ["--platform", platform]
    with tempfile.TemporaryDirectory(dir=dest, prefix=".pip-") as tmp:
        try:
            done = subprocess.run(command + [requirement, "-d", tmp], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"pip download {requirement} timed out after {timeout:.0f} s") from error
        files = list(Path(tmp).iterdir())
        if done.returncode != 0 or len(files) != 1:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise RuntimeError(f"pip download {requirement} failed (exit {done.returncode}): {tail}")
        target = dest / files[0].name
        files[0].replace(target)
    return target
