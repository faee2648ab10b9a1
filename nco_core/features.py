"""The one vocabulary of variant features: each name, what it means, how it is read from an
``Instance``, and whether the batched environment (and so every learned policy) can model it.

Every other place that speaks of variants uses these names: ``Instance.features()``, the solvers'
``UnsupportedFeature`` messages, the generators' ``Variant`` knobs (``envs/presets.py``), the
environment's per-instance flags (``envs/env.py``: ``has_<name>``), the checkpoint cards' ``flags``
(matched by :func:`fits`) and the test strategies (``tests/strategies.py``). A new field of the
problem model becomes a new row of :data:`FEATURES`; marking it ``neural=False`` is enough for the
neural method to refuse such instances by name (:func:`unsupported_by_env`) instead of dropping it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nco_core.instance import Instance

__all__ = [
    "ENV_FLAGS",
    "FEATURES",
    "KNOBS",
    "NAMES",
    "EnvFlag",
    "Feature",
    "Knob",
    "fits",
    "of",
    "unknown_knobs",
    "unsupported_by_env",
    "used",
]


@dataclass(frozen=True)
class Feature:
    """One variant attribute. ``read`` says whether an instance uses it (a field that is present
    but neutral, e.g. all service times zero, does not count); ``neural`` whether the env and the
    policies model it."""

    name: str
    meaning: str
    read: Callable[[Instance], bool]
    neural: bool = True


def _types(instance: Instance):
    return instance.vehicle_types


FEATURES: tuple[Feature, ...] = (
    Feature(
        "capacity",
        "some vehicle type has a finite capacity",
        lambda i: any(math.isfinite(v.capacity) for v in _types(i)),
    ),
    Feature("time_windows", "customers (and the depot) have time windows", lambda i: i.time_windows is not None),
    Feature(
        "service_time",
        "some node has a positive service time",
        lambda i: i.service_time is not None and bool(np.any(i.service_time > 0)),
    ),
    Feature(
        "backhaul",
        "some customer has a pickup brought back to the depot",
        lambda i: i.pickup is not None and bool(np.any(i.pickup > 0)),
    ),
    Feature(
        "strict_backhaul",
        "linehaul customers before backhauls on every route (backhaul_mode='strict')",
        lambda i: i.backhaul_mode == "strict" and i.pickup is not None,
    ),
    Feature("open_routes", "routes end at their last customer", lambda i: bool(i.open_routes)),
    Feature(
        "max_duration",
        "some vehicle type has a route duration limit",
        lambda i: any(math.isfinite(v.max_duration) for v in _types(i)),
    ),
    Feature("heterogeneous_fleet", "more than one vehicle type", lambda i: len(_types(i)) > 1),
    Feature(
        "fixed_cost",
        "some vehicle type has a fixed cost per used vehicle",
        lambda i: any(v.fixed_cost > 0 for v in _types(i)),
    ),
    Feature(
        "duration_cost",
        "some vehicle type pays per unit of route duration",
        lambda i: any(v.unit_duration_cost > 0 for v in _types(i)),
    ),
    Feature(
        "multiple_profiles", "several distance/duration matrices, one per vehicle profile", lambda i: i.num_profiles > 1
    ),
    Feature(
        "allowed",
        "some vehicle type may not serve some node (zones)",
        lambda i: i.allowed is not None and not bool(i.allowed.all()),
    ),
    Feature(
        "preference",
        "serving a node with a vehicle type earns a reward (profiled VRP)",
        lambda i: i.preference is not None and bool(np.any(i.preference != 0)),
    ),
    # The env builds routes from one depot, without shifts, task or distance limits, and serves
    # every client: the neural methods refuse these by name.
    Feature(
        "multiple_depots",
        "several depots, or a vehicle type that starts or ends away from node 0",
        lambda i: i.num_depots > 1 or any(v.start_depot != 0 or v.end_depot not in (0, None) for v in _types(i)),
        neural=False,
    ),
    Feature(
        "mixed_route_ends",
        "some vehicle types end open, others at a depot",
        lambda i: len({v.end_depot is None for v in _types(i)}) > 1,
        neural=False,
    ),
    Feature(
        "shifts",
        "some vehicle type has a shift (VehicleType.time_window)",
        lambda i: any(v.time_window is not None for v in _types(i)),
        neural=False,
    ),
    Feature(
        "max_tasks",
        "some vehicle type caps the clients per route",
        lambda i: any(v.max_tasks is not None for v in _types(i)),
        neural=False,
    ),
    Feature(
        "max_distance",
        "some vehicle type has a route distance limit",
        lambda i: any(math.isfinite(v.max_distance) for v in _types(i)),
        neural=False,
    ),
    Feature(
        "optional_clients",
        "some clients may be left out at the cost of their prize",
        lambda i: i.required is not None and not bool(i.required[i.num_depots :].all()),
        neural=False,
    ),
)

NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES)
_BY_NAME: dict[str, Feature] = {feature.name: feature for feature in FEATURES}


def of(instance: Instance) -> dict[str, bool]:
    """Every feature name and whether ``instance`` uses it, in :data:`NAMES` order."""
    return {feature.name: feature.read(instance) for feature in FEATURES}


def used(instance: Instance) -> list[str]:
    """The names of the features ``instance`` uses."""
    return [name for name, on in of(instance).items() if on]


def unsupported_by_env(features: Mapping[str, bool]) -> list[str]:
    """The used features (a :func:`of` dict) that the environment cannot model."""
    return [name for name, on in features.items() if on and not _BY_NAME[name].neural]


# ---------------------------------------------------------------------------------------------
# The environment's per-instance flags: a flag is the feature's name; its TensorDict key is
# ``has_<name>``, except for the two flags that are themselves per-instance data the env reads
# (``open_routes`` changes the depot-return arithmetic, ``strict_backhaul`` the mask), which keep
# the bare name. The order is the policies' input-column order (nco/policies/features.py), which
# trained checkpoints depend on: append, never reorder.


@dataclass(frozen=True)
class EnvFlag:
    """A per-instance bool of the env. ``features``: the instance features it stands for
    (``profiles`` covers the data of a profiled VRP: zones and preferences)."""

    name: str
    features: tuple[str, ...]
    bare: bool = False

    @property
    def key(self) -> str:
        """The TensorDict key."""
        return self.name if self.bare else f"has_{self.name}"


ENV_FLAGS: tuple[EnvFlag, ...] = (
    EnvFlag("open_routes", ("open_routes",), bare=True),
    EnvFlag("strict_backhaul", ("strict_backhaul",), bare=True),
    EnvFlag("capacity", ("capacity",)),
    EnvFlag("time_windows", ("time_windows",)),
    EnvFlag("backhaul", ("backhaul",)),
    EnvFlag("max_duration", ("max_duration",)),
    EnvFlag("profiles", ("allowed", "preference")),
)


# ---------------------------------------------------------------------------------------------
# Generator knobs (envs/presets.Variant) and checkpoint cards' ``flags``: the same names where a
# knob makes one feature; a knob's value in [0, 1] is the share of generated instances that use it.


@dataclass(frozen=True)
class Knob:
    """A ``Variant`` field. An instance "has" the knob when it uses any of ``features``.
    ``matched``: a card's value constrains which instances its checkpoint fits. A fleet size does
    not (the env models any fleet), nor does ``strict_backhaul``, a conditional share (of the
    backhaul instances) that cards made before this table never matched on, nor the knobs that
    only shape a distribution. ``forbids``: a value of 0 rules the feature out; CAMP's ``zones``
    and ``preferences`` do not (at 0 the generic profiled VRP still draws random zones and
    preferences), they only require theirs at 1."""

    name: str
    features: tuple[str, ...]
    matched: bool = True
    forbids: bool = True


KNOBS: tuple[Knob, ...] = (
    Knob("capacity", ("capacity",)),
    Knob("time_windows", ("time_windows",)),
    Knob("open_routes", ("open_routes",)),
    Knob("backhaul", ("backhaul",)),
    Knob("strict_backhaul", ("strict_backhaul",), matched=False),
    Knob("max_duration", ("max_duration",)),
    # a count: > 0 makes a profiled VRP (several types on their own matrices, zones, preferences)
    Knob("num_profiles", ("multiple_profiles", "allowed", "preference")),
    Knob("fleet_size", (), matched=False),
    Knob("min_profiles", (), matched=False),
    Knob("zones", ("allowed",), forbids=False),
    Knob("preferences", ("preference",), forbids=False),
    Knob("preference_weight", (), matched=False),
)


def unknown_knobs(flags: Mapping[str, float]) -> list[str]:
    """Flag names that are no ``Variant`` knob: a card holding one was written against another
    vocabulary, and :func:`fits` would silently ignore it."""
    known = {knob.name for knob in KNOBS}
    return sorted(set(flags) - known)


def fits(flags: Mapping[str, float], features: Mapping[str, bool]) -> bool:
    """Whether a checkpoint trained with knob values ``flags`` (a card's ``flags``; missing knobs
    are 0) fits an instance with ``features`` (a :func:`of` dict): a knob trained at 1 (or a
    positive count) needs the instance to have it, at 0 forbids it, in between allows both."""
    for knob in KNOBS:
        if not knob.matched:
            continue
        has = any(features[name] for name in knob.features)
        p = float(flags.get(knob.name, 0))
        if (p >= 1 and not has) or (p <= 0 and has and knob.forbids):
            return False
    return True
