"""Neural construction, then classical refinement, inside one time budget.

As in EARLI, the budget covers everything, from the call to its return: the policy's inference
is charged first, and the refiner gets only what is left. The neural step is sized to at most
``NEURAL_SHARE`` of the budget from the policy's measured cost per rollout
(:func:`nco.methods.neural.plan`), and skipped when not even one rollout fits; loading the
checkpoint and calibrating it (:func:`nco.methods.neural.warmup`) is a one-time cost per
process and is not charged. The refiner is warm-started from the neural solutions (the genetic
search takes all K of them as its initial population). The result is never worse than the best
neural solution, and the evaluator has the last word on feasibility.

``samples`` means what it means for ``neural``: sampled rollouts decoded on top of the greedy POMO
starts, their candidates added to the refiner's pool; ``starts`` is the most greedy starts (fewer
when the neural share fits fewer). Stop criteria (:mod:`solvers.stop`): the neural step takes its
share of the runtime bound, the refiner gets the rest and the iteration criteria unchanged.

When no shipped policy fits the instance's variant, when the policy's environment refuses the
instance (a customer that no vehicle can serve on its own, e.g. one reachable in time only
through another customer), or when the budget is too small for one rollout, the refiner is seeded
by the arc-scorer-guided savings construction (:mod:`nco.methods.savings_start`, a few ms) if it
models the instance and fits the share, else it runs alone; ``info["start"]`` says which start
was used and ``info["neural"]`` why. A caller's ``initial`` solution is re-scored on
this instance before it is used: a solution of another instance, or an infeasible one, is
rejected with the reason in ``info["initial"]``, never returned.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nco.methods import get_solver, savings_start
from nco.methods.neighbours import Learned, resolve
from nco.methods.neural import candidates, checkpoint_for, plan, shipped_size, warmup
from nco_core.errors import UnsupportedFeature
from nco_core.instance import Instance
from nco_core.solution import Solution
from solvers.base import Options, Solver
from solvers.budget import Deadline
from solvers.ga import refine
from solvers.stop import Budget

__all__ = ["DEFAULT_REFINER", "NEURAL_SHARE", "REFINERS", "SOLVER", "Hybrid", "HybridOptions"]

REFINERS = ("pyvrp", "ga", "ortools", "vroom")
DEFAULT_REFINER = "pyvrp"  # the best one measured in benchmarks/results/hybrid.md
NEURAL_SHARE = 0.25  # the most of the budget the neural step may take
STARTS = ("auto", "policy", "savings")
NEIGHBOURS = ("auto", "proximity", "learned")
# "auto" neighbours: learned lists from this budget on; below it they cost more of the search's time
# than they save. Since they reuse the guided start's arc scores (~3 ms left to pay at N = 100), 0.05 s
# pays: Δ vs proximity lists at 0.05 / 0.07 s +0.04 / +0.03 pp on ACVRP100 (32), -0.36 / -0.72 on X
# n <= 300 (22), +0.04 / -0.16 on ACVRPTW100 (32); at 0.03 s +0.35 / -0.24 / +0.15
# (benchmarks/results/hybrid_starts-short-*.md)
LEARNED_FROM = 0.05
SCORED = frozenset({"capacity", "time_windows", "service_time"})
# "auto" start and neighbours: from this many seconds per client on, PyVRP alone reaches what the learned
# parts would: at 5 s on N = 100 (0.05 s per client) the hybrid with them was +0.16 ± 0.11 pp on ACVRP100 and
# +0.13 ± 0.06 on ACVRPTW100 (32 each), -0.02 ± 0.25 on ATSP100, while on X n <= 300 at 2 / 5 s (0.007-0.05 s
# per client) they still paid -0.35 / -0.11 (benchmarks/results/hybrid_starts-*.md); the hybrid then runs
# PyVRP as PyVRP alone would and says so in info["neural"] (pyvrp refiner only: measured for it alone)
LEARNED_UNTIL = 0.03
# "auto" start: the shipped policy's rollouts only on instances of at most this many times the clients it was
# trained on. Beyond, its start did not pay for its time: on X n <= 300 (acvrp100's policy) the hybrid was
# -0.46 / -0.48 / -0.35 pp vs PyVRP at 0.5 / 1 / 2 s and PyVRP with learned lists alone -0.50 / -0.44 / -0.41;
# on ORTEC (N 238-686, acvrptw100's) +0.29 / +0.17 / +0.27 against -0.22 / +0.05 / -0.29 (its rollouts took
# 0.14-0.2 s), while at N = 100 it paid (ACVRP100 at 0.2 / 0.5 s -0.84 / -0.64 against -0.35 / -0.31)
POLICY_REACH = 1.5
SEARCHED = ("pyvrp", "ga")  # the refiners running PyVRP's local search, which takes neighbour lists


@dataclasses.dataclass(frozen=True)
class HybridOptions(Options):
    """``refiner``: one of :data:`REFINERS`; ``starts``: the most greedy POMO starts seeding it
    (fewer when the budget's neural share fits fewer); ``samples``: sampled rollouts on top, as in
    ``neural``; ``checkpoint``: the policy (default: the shipped one fitting the instance);
    ``neighbours``: the local-search lists of the pyvrp and ga refiners: ``"proximity"``,
    ``"learned"``, or ``"auto"`` (for pyvrp: learned from :data:`LEARNED_FROM` seconds of budget on
    the variants the shipped arc scorers were trained on, proximity otherwise, the best per budget in
    benchmarks/results/hybrid_starts-*.md; for the GA, not measured: proximity);
    ``start``: what seeds the refiner — ``"auto"`` (the policy's rollouts when one fits in the neural
    share, else the arc-scorer-guided savings construction), ``"policy"`` (rollouts only, as before)
    or ``"savings"`` (the guided construction only). With the pyvrp refiner, ``"auto"`` start and
    neighbours leave a call of :data:`LEARNED_UNTIL` seconds per client or more to PyVRP alone."""

    refiner: str = DEFAULT_REFINER
    starts: int = 16
    samples: int = 0
    checkpoint: str | None = None
    neighbours: str = "auto"
    start: str = "auto"

    def __post_init__(self) -> None:
        if self.start not in STARTS:
            raise ValueError(f"hybrid solver: unknown start {self.start!r}; choose one of {list(STARTS)}")
        if self.refiner not in REFINERS:
            raise ValueError(f"unknown refiner {self.refiner!r}; choose one of {list(REFINERS)}")
        for name, value, low in (("starts", self.starts, 1), ("samples", self.samples, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"hybrid solver: {name} must be an integer >= {low}, got {value!r}")
        if self.neighbours not in NEIGHBOURS:
            raise ValueError(f"hybrid solver: unknown neighbours {self.neighbours!r}; choose one of {list(NEIGHBOURS)}")
        if self.neighbours == "learned" and self.refiner not in SEARCHED:
            raise ValueError(
                f"hybrid solver: neighbours={self.neighbours!r} needs refiner='pyvrp' or 'ga', not {self.refiner!r}"
            )


class Hybrid(Solver[HybridOptions]):
    """Neural candidates, then the refiner, inside one budget (see the module docstring)."""

    name = "hybrid"
    options_type = HybridOptions

    def prepare(self, instance: Instance, options: HybridOptions) -> None:
        """The policy's warm-up and the refiner's one-time costs (the arc scorer of learned
        neighbours): paid before the clock starts."""
        if options.start != "savings":
            try:
                warmup(str(options.checkpoint or checkpoint_for(instance)))
            except UnsupportedFeature:
                pass
        if options.start != "policy" and savings_start.applicable(instance) is None:
            try:
                savings_start.warmup(instance)
            except FileNotFoundError:  # no arc scorer shipped for this variant: solve() says so
                pass
        if options.refiner != "ga":  # the GA's learned lists load (uncharged) on first use
            solver = get_solver(options.refiner)
            solver.prepare(instance, solver.options(**_refiner_options(instance, options, LEARNED_FROM)))

    def solve(
        self, instance: Instance, options: HybridOptions, *, budget: Budget, seed: int, initial: Solution | None = None
    ) -> Solution:
        deadline = budget.deadline
        refiner = options.refiner
        info: dict[str, Any] = {
            "refiner": refiner,
            "starts": 0,
            "samples": 0,
            "candidates": 0,
            "neighbours": "none (no PyVRP local search ran)",
            "stop": budget.describe(),
        }
        pool: list[Solution] = []
        if initial is not None:
            start, info["initial"] = _rescore(instance, initial)
            pool += [start] if start is not None else []
        alone = _converges_alone(instance, options, budget)
        deadline, neural, scored = _neural(instance, deadline, options, seed, info, alone)
        info["neural_time"] = deadline.elapsed()
        pool = neural + pool
        feasible = sorted((s for s in pool if s.feasible), key=lambda s: s.cost)
        best_start = feasible[0] if feasible else None
        info["neural_cost"] = min((s.cost for s in neural if s.feasible), default=float("inf"))
        info["neural_feasible"] = sum(s.feasible for s in neural)
        info["neural_candidates"] = len(neural)
        refined: Solution | None = None
        # every candidate was scored on this instance by the evaluator (the policy's, the refiner's and
        # the re-scored initial all come from Solution.of(instance, ...)), so the refiner may use what is
        # left: the result is relabelled below, not evaluated again
        rest = budget.within(deadline.share())
        if rest.deadline.seconds <= 0 and best_start is not None:
            info["refine"] = "skipped: the neural step used the whole budget"
        else:  # with nothing to return yet, the refiner gives its quickest answer even out of time
            refined, info["refine"] = _refine(
                instance, options, pool, best_start, rest, seed, budget.deadline.seconds, scored, alone
            )
            if refined is not None:  # which neighbour lists PyVRP's search used, and their time
                info.update({key: value for key, value in refined.info.items() if key.startswith("neighbours")})
        info["refine_time"] = deadline.elapsed() - info["neural_time"]
        finalists = [s for s in (refined, best_start) if s is not None and s.feasible]
        fallbacks = [s for s in (refined, *neural) if s is not None]
        if not finalists and not fallbacks:
            raise UnsupportedFeature("hybrid", f"{info['neural']}; {info['refine']}")
        chosen = min(finalists or fallbacks, key=lambda s: (len(s.violations), s.cost))
        info["improved_by_refiner"] = chosen is refined and best_start is not None and refined.cost < best_start.cost
        return dataclasses.replace(chosen, method=f"hybrid-{refiner}", runtime=deadline.elapsed(), info=info)


SOLVER = Hybrid()


def _rescore(instance: Instance, initial: Solution) -> tuple[Solution | None, str]:
    """The caller's solution scored on *this* instance; its own cost may belong to another."""
    try:
        again = Solution.of(instance, initial.routes, initial.vehicle_types, method="initial")
    except (TypeError, ValueError, IndexError) as error:
        return None, f"rejected: not a solution of instance {instance.name!r} ({error})"
    if not again.feasible:
        first = again.violations[0].message
        return None, f"rejected: infeasible on instance {instance.name!r} ({len(again.violations)} violations: {first})"
    return again, f"used (cost {again.cost:.6g} on this instance)"


def _neural(
    instance: Instance, deadline: Deadline, options: HybridOptions, seed: int, info: dict[str, Any], alone: str
) -> tuple[Deadline, list[Solution], Learned | None]:
    """The learned starts within ``NEURAL_SHARE`` of the budget: the policy's rollouts, else (when
    none fits or no policy fits the variant) the guided savings construction; what ran and why goes
    to ``info`` (``info["start"]``: ``"policy"``, ``"savings"`` or ``"none"``). Also the learned
    lists holding the guided start's arc scores, when it ran. ``alone``: why an ``"auto"`` start is
    left to PyVRP (:func:`_converges_alone`), or ``""``."""
    neural: list[Solution] = []
    if options.start == "auto" and alone:
        info.update(checkpoint="", start="none", neural=f"skipped: {alone}")
        return deadline, neural, None
    if options.start == "savings":
        info.update(checkpoint="", neural="skipped: start='savings'")
    else:
        deadline, neural = _policy(instance, deadline, options, seed, info)
    info["start"] = "policy" if neural else "none"
    if not neural and options.start != "policy":
        return _guided(instance, deadline, info)
    return deadline, neural, None


def _guided(
    instance: Instance, deadline: Deadline, info: dict[str, Any]
) -> tuple[Deadline, list[Solution], Learned | None]:
    """The guided savings start (:mod:`nco.methods.savings_start`) when it models the instance and
    is predicted to fit in the neural share; its one-time warm-up is left out of the deadline."""
    why_not = savings_start.applicable(instance)
    if why_not is None:
        began = deadline.elapsed()
        try:
            savings_start.warmup(instance)  # paid by prepare(); a no-op here unless called directly
        except FileNotFoundError as error:
            why_not = str(error)
        deadline = Deadline(deadline.start + deadline.elapsed() - began, deadline.seconds)
    share = NEURAL_SHARE * deadline.remaining()
    if why_not is None and not savings_start.fits(instance, share):
        why_not = f"it is not predicted to fit in {share:.3f} s"
    if why_not is not None:
        info["neural"] += f"; no guided savings start ({why_not})"
        return deadline, [], None
    began = deadline.elapsed()
    start, scored = savings_start.guided_start(instance)
    info.update(start="savings", candidates=1)
    info["neural"] += f"; used the guided savings start ({deadline.elapsed() - began:.4f} s, cost {start.cost:.6g})"
    return deadline, [start], scored


def _policy(
    instance: Instance, deadline: Deadline, options: HybridOptions, seed: int, info: dict[str, Any]
) -> tuple[Deadline, list[Solution]]:
    """The policy's candidates within ``NEURAL_SHARE`` of the budget (what happened goes to
    ``info``), and the deadline with the one-time warm-up (loading, calibration) left out."""
    checkpoint = options.checkpoint
    if checkpoint is None:
        try:
            checkpoint = checkpoint_for(instance)
        except UnsupportedFeature as error:  # no shipped policy for this variant: refine from scratch
            info.update(checkpoint="", neural=f"skipped: no neural start ({error})")
            return deadline, []
    info["checkpoint"] = checkpoint
    trained = shipped_size(checkpoint) if options.start == "auto" and options.checkpoint is None else None
    if trained is not None and instance.num_customers > POLICY_REACH * trained:
        info["neural"] = (
            f"skipped: {instance.num_customers} clients > {POLICY_REACH:g} x the {trained} the policy was trained on "
            "(POLICY_REACH)"
        )
        return deadline, []
    began = deadline.elapsed()
    warmup(checkpoint)  # once per process; later calls return at once
    deadline = Deadline(deadline.start + deadline.elapsed() - began, deadline.seconds)
    share = NEURAL_SHARE * deadline.remaining()
    samples = options.samples
    try:
        starts = min(
            plan(instance, share, checkpoint=checkpoint, samples=samples), options.starts, instance.num_customers
        )
        if starts == 0:
            info["neural"] = f"skipped: not even one rollout fits in {share:.3f} s ({NEURAL_SHARE:.0%} of the budget)"
            return deadline, []
        neural = candidates(
            instance, starts + samples, seed=seed, checkpoint=checkpoint, starts=starts, samples=samples
        )
    except ValueError as error:  # the policy's environment cannot model this instance
        info["neural"] = f"skipped: the policy cannot start this instance ({error})"
        return deadline, []
    info.update(
        starts=starts,
        samples=samples,
        candidates=len(neural),
        neural=f"used: {len(neural)} candidates from {starts} POMO starts and {samples} samples",
    )
    return deadline, neural


def _refine(
    instance: Instance,
    options: HybridOptions,
    pool: list[Solution],
    best_start: Solution | None,
    budget: Budget,
    seed: int,
    total: float,
    scored: Learned | None,
    alone: str,
) -> tuple[Solution | None, str]:
    """Refine within ``budget`` (what is left of a call of ``total`` seconds); ``scored``: learned
    lists reusing the guided start's arc scores, used when the lists are to be learned."""
    refiner = options.refiner
    try:
        if refiner == "ga":
            neighbours, skipped = _refiner_options(instance, options, total, scored, alone)["neighbours"], ""
            if neighbours == "learned":
                budget, neighbours, skipped = resolve(instance, budget)
            refined, details = refine(instance, pool, stop=budget, seed=seed, neighbours=neighbours)
            if refined is not None:  # which lists the GA's local search used, as the pyvrp refiner reports
                refined.info.update({key: value for key, value in details.items() if key.startswith("neighbours")})
                refined.info.update({"neighbours_skipped": skipped} if skipped else {})
            return refined, f"ga: {details}"
        # a feasible start is the useful one; without one the backend starts cold and says so
        start = best_start or min(pool, key=lambda s: len(s.violations), default=None)
        solver = get_solver(refiner)
        refined = solver.solve(
            instance,
            solver.options(**_refiner_options(instance, options, total, scored, alone)),
            budget=budget,
            seed=seed,
            initial=start,
        )
        return refined, f"{refiner}: warm start {refined.info.get('warm_start', 'n/a')}"
    except UnsupportedFeature as error:
        return None, f"fallback to the neural solution: {error}"


def _refiner_options(
    instance: Instance, options: HybridOptions, seconds: float, scored: Learned | None = None, alone: str = ""
) -> dict[str, Any]:
    """The refiner's own options: the neighbour lists for PyVRP's local search (``"auto"`` resolved
    for a call of ``seconds``, proximity when ``alone``; learned ones from ``scored`` when given),
    none for the others."""
    if options.refiner not in SEARCHED:
        return {}
    neighbours = options.neighbours
    if neighbours == "auto":  # measured for the pyvrp refiner only: the GA keeps proximity unless told
        used = {name for name, value in instance.features().items() if value}
        fitting = options.refiner == "pyvrp" and "capacity" in used and used <= SCORED
        short = LEARNED_FROM <= seconds and not alone
        neighbours = "learned" if fitting and short else "proximity"
    return {"neighbours": scored if neighbours == "learned" and scored is not None else neighbours}


def _converges_alone(instance: Instance, options: HybridOptions, budget: Budget) -> str:
    """Why the "auto" learned parts are left out of a call on ``instance`` (the pyvrp refiner and a
    runtime of at least :data:`LEARNED_UNTIL` seconds per client, with no iteration criterion that
    may end it much sooner), else ``""``."""
    per_client = budget.deadline.seconds / max(instance.num_customers, 1)
    iterative = budget.max_iterations is not None or budget.no_improvement is not None
    if options.refiner != "pyvrp" or iterative or per_client < LEARNED_UNTIL:
        return ""
    return f"{per_client:.3f} s per client >= {LEARNED_UNTIL} s, where PyVRP alone does as well (LEARNED_UNTIL)"
