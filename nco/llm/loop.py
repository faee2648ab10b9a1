"""The formulate loop: ask, run in the sandbox, verify, feed problems back; up to ``max_rounds``.

Self-debugging and self-verification as in "From Words to Routes", with the verifier being
nco's own: a run's errors (trimmed traceback, limits hit, missing output), the evaluator's
violations of the returned routes on the returned instance, and mismatches between that
instance and the task text all go back to the model as one message. An answer is *verified*
only when a round produces none of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from nco.llm.client import ChatClient, client_from_settings
from nco.llm.contract import RESULT_FILES, ResultError, read_result
from nco.llm.prompt import SYSTEM_PROMPT, extract_code, feedback_message, task_message
from nco.llm.sandbox import SandboxLimits, SandboxRun, run_python
from nco.llm.textcheck import check_against_text
from nco_core.instance import Instance
from nco_core.solution import Solution

__all__ = ["Formulation", "Round", "formulate"]

_MAX_VIOLATIONS = 15  # per round fed back; the first few are what the model needs


@dataclass(frozen=True)
class Round:
    """One model reply and what became of it."""

    reply: str
    code: str | None
    run: SandboxRun | None
    instance: Instance | None
    solution: Solution | None
    problems: tuple[str, ...]
    seconds: float  # model + sandbox + checks


@dataclass(frozen=True)
class Formulation:
    """The outcome of :func:`formulate`: the best round's program and its checked result."""

    text: str
    rounds: tuple[Round, ...]
    transcript: tuple[dict[str, str], ...]
    best: int | None = None  # index of the round whose result is reported
    seconds: float = 0.0

    @property
    def _round(self) -> Round | None:
        return None if self.best is None else self.rounds[self.best]

    @property
    def code(self) -> str | None:
        best = self._round
        return best.code if best else (self.rounds[-1].code if self.rounds else None)

    @property
    def instance(self) -> Instance | None:
        return self._round.instance if self._round else None

    @property
    def solution(self) -> Solution | None:
        return self._round.solution if self._round else None

    @property
    def problems(self) -> tuple[str, ...]:
        best = self._round or (self.rounds[-1] if self.rounds else None)
        return best.problems if best else ("no round was run",)

    @property
    def verified(self) -> bool:
        """The program ran, its routes are feasible for its instance, and the instance agrees
        with everything :mod:`nco.llm.textcheck` could read from the task."""
        return self._round is not None and not self._round.problems


def formulate(
    text: str,
    *,
    endpoint: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    client: ChatClient | None = None,
    max_rounds: int = 5,
    limits: SandboxLimits = SandboxLimits(),
    on_round: Callable[[int, Round], None] | None = None,
) -> Formulation:
    """Turn a routing task in plain language into an nco Instance and a checked Solution.

    The endpoint, model and key fall back to NCO_LLM_ENDPOINT, NCO_LLM_MODEL and
    NCO_LLM_API_KEY / OPENAI_API_KEY. ``on_round(i, round)`` reports progress.
    Raises :class:`nco.llm.client.ChatError` when the endpoint fails (after its retries).
    """
    if not text.strip():
        raise ValueError("the task text is empty")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
    client = client or client_from_settings(endpoint, model, api_key)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": task_message(text)}]
    rounds: list[Round] = []
    start = time.monotonic()
    for index in range(max_rounds):
        began = time.monotonic()
        reply = client.complete(messages)
        messages.append({"role": "assistant", "content": reply})
        done = _attempt(text, reply, limits, time.monotonic() - began)
        rounds.append(done)
        if on_round:
            on_round(index, done)
        if not done.problems:
            break
        if index + 1 < max_rounds:
            messages.append(
                {
                    "role": "user",
                    "content": feedback_message(list(done.problems), round_=index + 1, max_rounds=max_rounds),
                }
            )
    return Formulation(
        text=text,
        rounds=tuple(rounds),
        transcript=tuple(messages),
        best=_best(rounds),
        seconds=time.monotonic() - start,
    )


def _attempt(text: str, reply: str, limits: SandboxLimits, asking: float) -> Round:
    began = time.monotonic()
    code = extract_code(reply)
    if code is None:
        problem = "the reply contains no Python program; reply with the whole program in one ```python block"
        return Round(reply, None, None, None, None, (problem,), asking)
    run = run_python(code, limits=limits, collect=RESULT_FILES)
    if not run.ok:
        return Round(reply, code, run, None, None, (run.failure(),), asking + time.monotonic() - began)
    try:
        instance, solution = read_result(run.files)
    except ResultError as error:
        details = f"{error}\nstdout/stderr ends with:\n{(run.stdout + run.stderr)[-1500:]}".rstrip()
        return Round(reply, code, run, None, None, (details,), asking + time.monotonic() - began)
    problems = [f"constraint violated: {violation.message}" for violation in solution.violations[:_MAX_VIOLATIONS]]
    if len(solution.violations) > _MAX_VIOLATIONS:
        problems.append(f"... and {len(solution.violations) - _MAX_VIOLATIONS} more violations")
    problems += check_against_text(text, instance)
    return Round(reply, code, run, instance, solution, tuple(problems), asking + time.monotonic() - began)


def _best(rounds: list[Round]) -> int | None:
    """The round to report: fewest problems among those with a result, the later on ties."""
    candidates = [i for i, done in enumerate(rounds) if done.solution is not None]
    if not candidates:
        return None
    return min(candidates, key=lambda i: (len(rounds[i].problems), -i))
