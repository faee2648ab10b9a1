"""Memory the readers may use: refuse an input before building matrices that cannot fit.

A dense float64 (N, N) matrix takes 8 N² bytes; a 14,051-node TSP needs 1.6 GB per copy, and
reading makes a few copies (the parser's distance computation, the depot-first reorder, the
Instance's own array). The estimate is made from N (DIMENSION, or the file size) before anything
is allocated, and compared with a limit: half the machine's memory by default, or
``NCO_MAX_MEMORY_GB`` / the ``max_memory`` argument of :func:`nco.read`.
"""

from __future__ import annotations

import os

from nco_core.instance import InstanceFileError

__all__ = ["DENSE_COPIES", "check_memory", "memory_limit"]

DENSE_COPIES = 4  # float64 (N, N) matrices alive at once while a VRPLIB file is read
PARSED_ENTRY_BYTES = 48  # a parsed text number held by the parser (Python object + list slot)
ENV = "NCO_MAX_MEMORY_GB"


def memory_limit() -> int:
    """Bytes a reader may use: ``NCO_MAX_MEMORY_GB`` if set, else half of the physical memory."""
    given = os.environ.get(ENV)
    if given:
        try:
            value = float(given)
        except ValueError:
            raise ValueError(f"{ENV}={given!r}: expected a number of gigabytes") from None
        if not value > 0:
            raise ValueError(f"{ENV}={given!r}: must be positive")
        return int(value * 1e9)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def check_memory(path: object, what: str, estimate: float, limit: int | None = None) -> None:
    """Raise InstanceFileError naming the estimate and the limit when ``estimate`` bytes exceed it."""
    limit = memory_limit() if limit is None else limit
    if estimate > limit:
        raise InstanceFileError(
            f"{path}: {what} needs an estimated {estimate / 1e9:.3g} GB, over the limit of {limit / 1e9:.3g} GB "
            f"(raise it with nco.read(..., max_memory=BYTES) or {ENV})"
        )
