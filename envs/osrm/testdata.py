"""The Monaco extract from the osrm-bindings source distribution: a small real network any machine with pip can
obtain, used by the end-to-end tests and as a quick demo input."""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

from envs.osrm.binaries import OSRM_BINDINGS_VERSION
from envs.osrm.paths import cache_dir
from envs.osrm.pypi import pip_download

MEMBER = "test/data/monaco.osm.pbf"


def monaco_pbf() -> Path:
    """Path of the cached ``monaco.osm.pbf``; downloads the sdist (about 40 MB) once. Raises RuntimeError."""
    target = cache_dir() / "testdata" / "monaco.osm.pbf"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".sdist-") as tmp:
        sdist = pip_download(f"osrm-bindings=={OSRM_BINDINGS_VERSION}", Path(tmp), sdist=True)
        with tarfile.open(sdist) as archive:
            member = next((m for m in archive.getmembers() if m.name.endswith("/" + MEMBER)), None)
            if member is None:
                raise RuntimeError(f"{sdist.name} has no {MEMBER}")
            source = archive.extractfile(member)
            assert source is not None
            partial = Path(tmp) / "monaco.osm.pbf"
            partial.write_bytes(source.read())
        os.replace(partial, target)
    return target
