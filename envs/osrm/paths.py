"""Where nco keeps per-user files: downloaded OSRM tools and built graphs (cache), and user-built pools (data)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """``$NCO_CACHE_DIR`` if set (tests point it at a temporary folder), else the platform's user cache dir."""
    override = os.environ.get("NCO_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("nco"))


def data_dir() -> Path:
    """``$NCO_DATA_DIR`` if set, else the platform's user data dir: user-built pools outlive cache clean-ups."""
    override = os.environ.get("NCO_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("nco"))
