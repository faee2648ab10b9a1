"""Optional LLM front end: a routing task in plain language -> nco Instance -> checked Solution.

An OpenAI-compatible model writes a short program that builds an :class:`nco.Instance` and calls
:func:`nco.solve`; the program runs in a sandbox, and nco's evaluator (plus checks against the
task text) decides whether the answer is verified. See ``nco/llm/README.md``.

Attributes are loaded on first use, so ``import nco.llm`` stays cheap (the sandboxed program
itself imports nco).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["ChatClient", "ChatError", "Formulation", "SandboxLimits", "formulate"]

_WHERE = {
    "ChatClient": "nco.llm.client",
    "ChatError": "nco.llm.client",
    "Formulation": "nco.llm.loop",
    "formulate": "nco.llm.loop",
    "SandboxLimits": "nco.llm.sandbox",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'nco.llm' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
