"""City pools on disk: the shipped ones in ``data/cities/`` and user-built ones in the user data dir.

A pool file ``<name>.npz`` (zip-deflated) holds ``points_e6`` (int32 micro-degrees lat/lon), ``distance_m``
(integer metres), ``duration_ds`` (integer deciseconds), each in the smallest unsigned type that fits, and
``meta`` (a JSON string). ``data/cities/split.json`` assigns every shipped place to ``train`` or ``test``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from envs.city import City
from envs.osrm.paths import data_dir
from nco_core.io import atomic_path
from nco_core.paths import shipped_data

__all__ = ["CityInfo", "city_infos", "list_cities", "load_city", "save_city", "shadowed", "shipped_dir", "user_dir"]

SPLITS = ("train", "test", "user", "all")
ATTRIBUTION = "(c) OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"


def shipped_dir() -> Path:
    return shipped_data("cities")


def user_dir() -> Path:
    return data_dir() / "cities"


@dataclass(frozen=True)
class CityInfo:
    name: str
    place: str
    split: str  # train | test for shipped pools, user for pools built on this machine
    points: int
    path: Path


def _smallest_unsigned(matrix: np.ndarray) -> np.ndarray:
    return matrix.astype(np.uint16 if int(matrix.max(initial=0)) <= np.iinfo(np.uint16).max else np.uint32)


def check_city_name(name: str) -> str:
    """A pool name becomes ``<name>.npz`` in the pool folder: it must stay a plain file name there
    (no path separator, no ``..``, no hidden or control characters), checked before any work."""
    if (
        not name
        or len(name) > 100
        or any(ch in name for ch in "/\\")
        or name.startswith(".")
        or ".." in name
        or not name.isprintable()
        or name != name.strip()
    ):
        raise ValueError(
            f"city name {name!r}: must be a plain file name (no '/', '\\' or '..', "
            "not starting with '.', at most 100 printable characters)"
        )
    return name


def save_city(
    name: str,
    points: np.ndarray,
    distance_m: np.ndarray,
    duration_ds: np.ndarray,
    meta: dict[str, Any],
    directory: Path | None = None,
) -> Path:
    """Write ``<directory>/<name>.npz`` atomically (temp file in the same folder, then rename)."""
    check_city_name(name)
    directory = Path(directory) if directory is not None else user_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.npz"
    meta = {"name": name, "attribution": ATTRIBUTION, **meta, "points": int(len(points))}
    with atomic_path(target) as temp, open(temp, "wb") as stream:
        np.savez_compressed(
            stream,
            points_e6=np.rint(np.asarray(points) * 1e6).astype(np.int32),
            distance_m=_smallest_unsigned(np.asarray(distance_m)),
            duration_ds=_smallest_unsigned(np.asarray(duration_ds)),
            meta=np.array(json.dumps(meta, sort_keys=True)),
        )
    return target


def _read_meta(path: Path) -> dict[str, Any]:
    with np.load(path) as archive:  # members are decompressed lazily: only the small meta is read
        return json.loads(str(archive["meta"]))


def _split_of() -> dict[str, str]:
    path = shipped_dir() / "split.json"
    if not path.is_file():
        return {}
    split = json.loads(path.read_text())
    return {place: part for part in ("train", "test") for place in split.get(part, [])}


def _resolve(name: str) -> Path:
    if name.endswith(".npz") or os.sep in name:
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"city pool file not found: {path}")
        return path
    # a pool the user built under a shipped name shadows the shipped one, here and in city_infos alike
    for directory in (user_dir(), shipped_dir()):
        if (directory / f"{name}.npz").is_file():
            return directory / f"{name}.npz"
    known = ", ".join(info.name for info in city_infos("all")) or "none"
    raise FileNotFoundError(f"unknown city {name!r}; available: {known}")


def shadowed() -> list[str]:
    """Shipped pool names hidden by a user-built pool of the same name."""
    user = {path.stem for path in user_dir().glob("*.npz")} if user_dir().is_dir() else set()
    return sorted(path.stem for path in shipped_dir().glob("*.npz") if path.stem in user)


@lru_cache(maxsize=256)
def _load(path: Path, stamp: tuple[int, int]) -> City:
    try:
        with np.load(path) as archive:
            meta = json.loads(str(archive["meta"]))
            points = archive["points_e6"].astype(np.float64) / 1e6
            distance = archive["distance_m"].astype(np.float64) / 1000.0
            duration = archive["duration_ds"].astype(np.float64) / 600.0
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"{path}: not a valid city pool ({error})") from error
    m = len(points)
    if points.shape != (m, 2) or distance.shape != (m, m) or duration.shape != (m, m):
        raise ValueError(
            f"{path}: inconsistent shapes points {points.shape}, distance {distance.shape}, duration {duration.shape}"
        )
    for array in (points, distance, duration):
        array.flags.writeable = False  # shared by every caller of the cache
    return City(meta.get("name", path.stem), points, distance, duration, meta)


def load_city(name: str) -> City:
    """A pool by name (user-built first, then shipped) or by ``.npz`` path: distance in km, duration in minutes.

    Cached per file (and invalidated when the file changes): the returned arrays are read-only and shared."""
    path = _resolve(name).resolve()
    stat = path.stat()
    return _load(path, (stat.st_mtime_ns, stat.st_size))


def city_infos(split: str = "all") -> list[CityInfo]:
    """Shipped pools of ``split`` (train/test), user-built ones (user), or both (all), sorted by name."""
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: expected one of {', '.join(SPLITS)}")
    split_of = _split_of()
    hidden = set(shadowed())
    infos = []
    for directory, shipped in ((shipped_dir(), True), (user_dir(), False)):
        for path in sorted(directory.glob("*.npz")) if directory.is_dir() else []:
            if shipped and path.stem in hidden:
                continue
            meta = _read_meta(path)
            place = meta.get("place", path.stem)
            if shipped and place not in split_of:
                raise ValueError(f"{path}: place {place!r} is missing from {shipped_dir() / 'split.json'}")
            part = split_of[place] if shipped else "user"
            if split in ("all", part):
                infos.append(CityInfo(path.stem, place, part, int(meta["points"]), path))
    return infos


def list_cities(split: str = "all") -> list[str]:
    """Names accepted by :func:`load_city`; ``split="test"`` pools are from places never used in training."""
    return [info.name for info in city_infos(split)]
