"""Classical solver backends on nco's core: PyVRP, OR-Tools, VROOM and a genetic search.

Each backend module defines ``SOLVER``, a :class:`solvers.base.Solver` with its options dataclass,
whose ``solve(instance, options, *, budget, seed, initial)`` honours the stop criteria of
:mod:`solvers.stop` and returns a :class:`nco_core.Solution` built with ``Solution.of`` (so the
evaluator scores it), and raises :class:`nco_core.UnsupportedFeature` before solving when it
cannot model a feature the instance uses. This package imports nothing but the core
(``nco_core``); :mod:`solvers.registry` names the backends, and the registry of every method, the
learned ones included, is :mod:`nco.methods`.
"""
