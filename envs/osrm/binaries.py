"""Locate the OSRM command-line tools and stock profiles, fetching them from the PyPI wheel ``osrm-bindings``.

That wheel ships self-contained osrm-extract/partition/customize/routed executables and the car profile. It is
tagged cp312-abi3, so on Python 3.11 it cannot be installed; pip can still download it for a 3.12 target, and we
unpack only the executables and profiles into the user cache. An already installed ``osrm`` package (Python
>= 3.12) is used as is."""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from envs.osrm.paths import cache_dir
from envs.osrm.pypi import pip_download

# pinned so that a rebuilt pool is reproducible: the cache key of every graph includes this version
OSRM_BINDINGS_VERSION = "26.10.0"
TOOLS = ("osrm-extract", "osrm-partition", "osrm-customize", "osrm-routed")
ALTERNATIVE = (
    "or point nco at any running OSRM server with --osrm-url http://HOST:PORT (e.g. the osrm/osrm-backend Docker image)"
)


class OSRMUnavailable(RuntimeError):
    """The OSRM executables could not be found, downloaded or run on this machine."""


@dataclass(frozen=True)
class OSRMTools:
    bin_dir: Path
    profiles_dir: Path
    version: str

    def tool(self, name: str) -> Path:
        return self.bin_dir / name

    def profile(self, name: str = "car") -> Path:
        return self.profiles_dir / f"{name}.lua"


def _installed_package() -> Path | None:
    # find_spec does not import the extension module, so a broken or foreign ``osrm`` costs nothing
    spec = importlib.util.find_spec("osrm")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return root if (root / "bin" / "osrm-routed").is_file() else None


def _wheel_platform() -> str:
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in ("x86_64", "aarch64"):
        raise OSRMUnavailable(
            f"no osrm-bindings wheel can be fetched for {sys.platform}/{machine} from Python "
            f"{sys.version_info.major}.{sys.version_info.minor}; install osrm-bindings on Python >= 3.12, "
            + ALTERNATIVE
        )
    return f"manylinux_2_28_{machine}"


def _unpack(wheel: Path, target: Path) -> None:
    """Extract ``osrm/bin`` and ``osrm/share/profiles`` only, atomically (a half-unpacked cache is never seen)."""
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith(("osrm/bin/", "osrm/share/profiles/"))]
            archive.extractall(staging, members)
        for tool in (staging / "osrm" / "bin").iterdir():
            tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        try:
            os.replace(staging / "osrm", target)
        except OSError:
            if not (target / "bin" / "osrm-routed").is_file():  # lost a race to another process: theirs is fine
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fetch_wheel() -> Path:
    root = cache_dir() / f"osrm-bindings-{OSRM_BINDINGS_VERSION}"
    if (root / "bin" / "osrm-routed").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        wheel = pip_download(
            f"osrm-bindings=={OSRM_BINDINGS_VERSION}",
            root.parent / "downloads",
            python_version="3.12",
            platform=_wheel_platform(),
        )
    except RuntimeError as error:
        raise OSRMUnavailable(f"could not download the OSRM tools from PyPI ({error}); " + ALTERNATIVE) from error
    _unpack(wheel, root)
    wheel.unlink()
    return root


def _version(routed: Path) -> str:
    try:
        done = subprocess.run([str(routed), "--version"], capture_output=True, text=True, timeout=60)
    except OSError as error:
        raise OSRMUnavailable(f"{routed} cannot run on this machine ({error}); " + ALTERNATIVE) from error
    if done.returncode != 0:
        raise OSRMUnavailable(f"{routed} --version failed: {done.stderr.strip()[-300:]}; " + ALTERNATIVE)
    return done.stdout.strip().lstrip("v")


@lru_cache(maxsize=1)
def find_tools() -> OSRMTools:
    """The installed package if any, else the cached (or freshly downloaded) wheel; checked to actually run."""
    root = _installed_package() or _fetch_wheel()
    missing = [name for name in TOOLS if not (root / "bin" / name).is_file()]
    if missing or not (root / "share" / "profiles" / "car.lua").is_file():
        raise OSRMUnavailable(f"{root} lacks {', '.join(missing) or 'share/profiles/car.lua'}; " + ALTERNATIVE)
    return OSRMTools(root / "bin", root / "share" / "profiles", _version(root / "bin" / "osrm-routed"))
