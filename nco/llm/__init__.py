"""Optional LLM front end: a routing task in plain language -> nco Instance -> checked Solution.

An OpenAI-compatible model writes a short program that builds an :class:`nco.Instance` and calls
:func:`nco.solve`; the program runs in a sandbox, and nco's evaluator (plus checks against the
task text) decides whether the answer is verified. See ``nco/llm/README.md``. ``import nco``
does not import this package; ``nco llm`` and ``import nco.llm`` do.
"""

from nco.llm.client import ChatClient, ChatError
from nco.llm.loop import Formulation, formulate
from nco.llm.sandbox import SandboxLimits

__all__ = ["ChatClient", "ChatError", "Formulation", "SandboxLimits", "formulate"]
