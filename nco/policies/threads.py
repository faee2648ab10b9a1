"""Torch threads for the small kernels of one instance's decoding or arc scoring."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["one_thread"]


@contextmanager
def one_thread() -> Iterator[None]:
    """Decoding one instance runs many tiny kernels: intra-op threads only add contention there,
    and on a shared 2-core machine they made decoding 3-10x slower (measured)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
