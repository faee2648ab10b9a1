"""Classical solver backends on nco's core: PyVRP, OR-Tools, VROOM and a genetic search.

Each backend module defines ``solve(instance, *, time_limit, seed, initial=None, **options)``
returning a :class:`nco_core.Solution` built with ``Solution.of`` (so the evaluator scores it),
and raises :class:`nco_core.UnsupportedFeature` before solving when it cannot model a feature the
instance uses. This package imports nothing but the core (``nco_core``); the registry of methods
by name, the learned ones included, is :mod:`nco.methods`.
"""
