"""One name for one configuration: ``METHOD[:REFINER][+OPTION=VALUE...]``.

``nco compare``, ``nco solve-many`` and the batch engine name the configurations they run in one
string, so that a table row says exactly what ran: ``hybrid:ga`` is the hybrid refined by the
genetic search, ``pyvrp+neighbours=learned`` PyVRP with the learned neighbour lists,
``hybrid+neighbours=learned+samples=4`` the hybrid with both. ``+`` separates options because
``,`` separates configurations on the command line. Values read as ``true``/``false``, integers,
floats, else strings; the method itself checks that it has the option (``UnknownOption``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nco.methods import SOLVER_MODULES

__all__ = ["MethodSpec", "parse_method"]

_OPTION = re.compile(r"^([A-Za-z_]\w*)=(.+)$")


@dataclass(frozen=True)
class MethodSpec:
    """A parsed configuration: the method passed to ``nco.solve`` and its keyword options."""

    method: str
    options: dict[str, Any] = field(default_factory=dict)


def parse_method(spec: str) -> MethodSpec:
    """``"hybrid:ga+samples=4"`` -> ``MethodSpec("hybrid", {"refiner": "ga", "samples": 4})``;
    an unknown method or a malformed option is a ``ValueError`` naming the spec."""
    head, *pairs = spec.strip().split("+")
    name, _, refiner = head.partition(":")
    if name not in SOLVER_MODULES:
        raise ValueError(
            f"unknown method {spec!r}; choose from {sorted(SOLVER_MODULES)} "
            "(METHOD[:REFINER][+OPTION=VALUE...], e.g. hybrid:ga or pyvrp+neighbours=learned)"
        )
    options: dict[str, Any] = {"refiner": refiner} if refiner else {}
    for pair in pairs:
        match = _OPTION.match(pair)
        if match is None:
            raise ValueError(f"method {spec!r}: option {pair!r} is not OPTION=VALUE")
        key, value = match.groups()
        if key in options:
            raise ValueError(f"method {spec!r}: option {key!r} given twice")
        options[key] = _value(value)
    return MethodSpec(name, options)


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
