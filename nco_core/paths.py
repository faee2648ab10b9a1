"""Where the shipped data live: city pools, checkpoints, example instances and the LLM tasks.

They install with the code as the package ``nco_data`` (``pyproject.toml`` maps it onto the repository's
``data/`` folder), so an editable install and a wheel find them the same way, wherever the working
directory is. ``$NCO_SHIPPED_DATA`` points at another copy (a shared folder on a cluster, newer
checkpoints) laid out like ``data/``; set it before importing nco, since the checkpoint and arc-scorer
folders are resolved on import (city pools on every lookup). (``$NCO_DATA_DIR`` is another folder:
the user's own, writable pools, see ``envs/osrm/paths.py``.)
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

__all__ = ["shipped_data"]


def shipped_data(*parts: str) -> Path:
    """The shipped file or folder ``data/<parts...>``, e.g. ``shipped_data("checkpoints", "acvrp100.pt")``."""
    override = os.environ.get("NCO_SHIPPED_DATA")
    if override:
        return Path(override).joinpath(*parts)
    root = importlib.resources.files("nco_data")
    if not isinstance(root, Path):  # a zipped install: nco reads its data as plain files (np.load, torch.load)
        raise RuntimeError(
            f"nco's shipped data are not plain files ({root!r}): install nco unzipped, "
            "or set NCO_SHIPPED_DATA to a copy of its data/ folder"
        )
    return root.joinpath(*parts)
