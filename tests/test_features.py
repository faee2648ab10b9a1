"""One vocabulary of variant features (nco_core/features.py) across the instance, the env, the
presets, the checkpoint cards and the test strategies; and a reference-cache key over every field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nco
from envs import batch as batch_table
from envs import env as env_module
from envs import fast
from envs.convert import instances_to_batch
from envs.env import RoutingEnv
from envs.generators import to_instances
from envs.presets import Variant
from nco.methods import neural
from nco.policies import features as policy_features
from nco.training.reference import _key
from nco_core import features
from nco_core.errors import UnsupportedFeature
from nco_core.instance import Instance, VehicleType
from tests.strategies import VARIANTS, instances

CARDS = Path(neural.CHECKPOINT_DIR)


def test_instance_features_are_the_vocabulary() -> None:
    instance = nco.sample_instance("acvrptw", 10, seed=0)
    assert tuple(instance.features()) == features.NAMES
    assert features.used(instance) == ["capacity", "time_windows", "service_time"]
    assert all(feature.meaning for feature in features.FEATURES)
    assert len(set(features.NAMES)) == len(features.NAMES)


def test_variant_knobs_and_env_flags_name_features() -> None:
    """Every generator knob (and so every card flag) has a row in the knob table, every knob and
    env flag stands for features of the vocabulary, and the env, its compiled twin and the
    policies read the same flag keys in the same (checkpoint) order."""
    assert {f.name for f in dataclasses.fields(Variant)} == {knob.name for knob in features.KNOBS}
    for row in (*features.KNOBS, *features.ENV_FLAGS):
        assert set(row.features) <= set(features.NAMES), row
    keys = tuple(flag.key for flag in features.ENV_FLAGS)
    assert keys == policy_features.FLAGS == fast.FEATURE_FLAGS
    assert set(env_module._FLAG_VALUES) == {flag.name for flag in features.ENV_FLAGS}
    assert set(fast.BATCH_FLAGS) <= set(env_module._FLAGS)
    td = RoutingEnv().reset([nco.sample_instance("acvrptw", 8, seed=1)])
    assert {key: bool(td[key][0]) for key in keys} == {
        "open_routes": False, "strict_backhaul": False, "has_capacity": True, "has_time_windows": True,
        "has_backhaul": False, "has_max_duration": False, "has_profiles": False,
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(VARIANTS))
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_strategies_make_exactly_the_features_they_name(name: str, data: st.DataObject) -> None:
    variant = VARIANTS[name]
    instance = data.draw(instances(variant, max_customers=8))
    assert set(features.used(instance)) == variant.features


def test_an_unknown_variant_flag_is_an_error_naming_the_knobs() -> None:
    from envs.presets import variant

    with pytest.raises(ValueError, match=r"unknown variant flag\(s\) \['time_window'\]; flags: capacity, time_windows"):
        variant("acvrp", time_window=1)


def test_strategies_refuse_an_unknown_feature_name() -> None:
    from tests.strategies import Variant as StrategyVariant

    with pytest.raises(ValueError, match="unknown feature"):
        StrategyVariant(frozenset({"time_window"}))


# --- the field table ---------------------------------------------------------------------------


def test_every_instance_field_crosses_into_the_batch_through_the_table_or_is_refused() -> None:
    """A new Instance (or VehicleType) field must get a row of envs/batch.CROSSINGS, or be listed
    as not carried with the feature that makes the env refuse instances that use it."""
    crossed = {name for crossing in batch_table.CROSSINGS for name in crossing.fields}
    init = {f.name for f in dataclasses.fields(Instance) if f.init}
    assert crossed.isdisjoint(batch_table.NOT_CARRIED) and crossed | set(batch_table.NOT_CARRIED) == init
    vehicle = {f.name for f in dataclasses.fields(VehicleType)}
    assert set(batch_table._FLEET) | set(batch_table.NOT_CARRIED_VEHICLE) == vehicle
    refused = {f.name for f in features.FEATURES if not f.neural}
    for why in (*batch_table.NOT_CARRIED.values(), *batch_table.NOT_CARRIED_VEHICLE.values()):
        named = {word.strip(",") for word in why.split()} & set(features.NAMES)
        assert named <= refused and (named or not why.startswith("feature")), why
    assert [f.name for f in dataclasses.fields(batch_table.InstanceBatch)] == list(batch_table.COLUMNS)


@pytest.mark.parametrize("name", sorted(VARIANTS))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_instances_round_trip_through_the_batch(name: str, data: st.DataObject) -> None:
    instance = data.draw(instances(VARIANTS[name], max_customers=8))
    back = to_instances(instances_to_batch([instance]), name="back")[0]
    assert back.features() == instance.features()
    for field in dataclasses.fields(Instance):
        if field.init and field.name not in ("name", "fleet", "capacity", "num_vehicles", "max_route_duration"):
            ours, theirs = getattr(back, field.name), getattr(instance, field.name)
            if isinstance(ours, np.ndarray) or isinstance(theirs, np.ndarray):
                # a field absent on one side is neutral on the other (zones come with preferences)
                neutral = lambda a: not a.any() if a.dtype != bool else a.all()  # noqa: E731
                assert (np.array_equal(ours, theirs) if ours is not None and theirs is not None
                        else neutral(theirs if ours is None else ours)), field.name  # fmt: skip
            else:
                assert ours == theirs, field.name
    assert back.vehicle_types == instance.vehicle_types


# --- checkpoint cards --------------------------------------------------------------------------
# The shipped checkpoint each preset's instances got before the vocabulary was unified (recorded
# with the hand-written matcher it replaced; None: no card fits, UnsupportedFeature).
BEFORE = {
    "atsp": ("atsp50.pt", "atsp100.pt"),
    "acvrp": ("acvrp50.pt", "acvrp100.pt"),
    "acvrptw": ("acvrptw50.pt", "acvrptw100.pt"),
}
NO_CARD = ("ovrp", "vrpb", "vrpmb", "vrpl", "ovrptw", "vrpbtw", "vrpmbtw", "vrpltw", "ovrpmbltw", "pvrp")


ORIGINAL = ("atsp50", "atsp100", "acvrp50", "acvrp100", "acvrptw50", "acvrptw100")


@pytest.mark.parametrize("problem", [*BEFORE, *NO_CARD])
def test_shipped_cards_fit_the_instances_they_fitted_before(problem: str, tmp_path: Path) -> None:
    """The six original cards alone (cards shipped later, e.g. for the profiled VRP, fit more)."""
    for stem in ORIGINAL:
        (tmp_path / f"{stem}.json").write_text((CARDS / f"{stem}.json").read_text())
    small, large = BEFORE.get(problem, (None, None))
    for n, expected in ((10, small), (50, small), (74, small), (75, large), (100, large), (200, large)):
        try:
            found = Path(neural.checkpoint_for(nco.sample_instance(problem, n, seed=0), tmp_path)).name
        except UnsupportedFeature:
            found = None
        assert found == expected, (problem, n)


def test_card_flags_match_features_as_before() -> None:
    """The rule cards are read by: a knob trained at 1 needs the feature, at 0 forbids it;
    features no knob trains (service times, fleets) are allowed; strict_backhaul and fleet_size
    never constrain (the old cards' behaviour)."""
    acvrp = {"capacity": 1, "time_windows": 0.0, "open_routes": 0.0, "backhaul": 0.0, "strict_backhaul": 0.0,
             "max_duration": 0.0, "num_profiles": 0, "fleet_size": 0}  # fmt: skip
    atsp = dict(acvrp, capacity=0.0, fleet_size=1)
    use = lambda *names: {name: name in names for name in features.NAMES}  # noqa: E731
    assert features.fits(acvrp, use("capacity", "service_time", "heterogeneous_fleet", "fixed_cost"))
    assert not features.fits(acvrp, use("capacity", "time_windows"))
    assert not features.fits(acvrp, use())
    assert features.fits(atsp, use()) and features.fits(atsp, use("service_time"))
    assert not features.fits(atsp, use("capacity"))
    assert not features.fits(acvrp, use("capacity", "allowed"))  # num_profiles 0 forbids zones
    zoned = dict(acvrp, num_profiles=5, zones=1)
    assert features.fits(zoned, use("capacity", "heterogeneous_fleet", "allowed"))
    assert not features.fits(zoned, use("capacity", "heterogeneous_fleet", "preference"))
    generic = dict(acvrp, num_profiles=3)  # zones/preferences 0 forbid nothing: the generic pvrp has both
    assert features.fits(generic, use("capacity", "multiple_profiles", "allowed", "preference"))


def test_a_card_with_a_flag_of_another_vocabulary_is_an_error_naming_it(tmp_path: Path) -> None:
    import json

    card = json.loads((CARDS / "acvrp50.json").read_text())
    card["flags"]["has_time_windows"] = 0  # an env key, not a Variant knob
    (tmp_path / "odd.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match=r"odd\.json: flags \['has_time_windows'\] are no variant knob"):
        neural.checkpoint_for(nco.sample_instance("acvrp", 10, seed=0), tmp_path)


def test_neural_solve_picks_the_same_checkpoint_as_before() -> None:
    for problem, (small, _) in BEFORE.items():
        solution = nco.solve(nco.sample_instance(problem, 12, seed=3), method="neural", time_limit=5, seed=0)
        assert Path(solution.info["checkpoint"]).name == small
        assert solution.feasible


def test_a_feature_the_env_cannot_model_is_refused_by_name() -> None:
    rng = np.random.default_rng(0)
    matrix = rng.uniform(1, 10, (7, 7))
    np.fill_diagonal(matrix, 0)
    two_depots = Instance(distance=matrix, num_depots=2, demand=[0, 0, 1, 1, 1, 1, 1], capacity=3)
    assert features.unsupported_by_env(two_depots.features()) == ["multiple_depots"]
    with pytest.raises(UnsupportedFeature, match="not supported by neural: multiple_depots"):
        nco.solve(two_depots, method="neural", time_limit=1, seed=0)
    with pytest.raises(UnsupportedFeature, match="multiple_depots"):
        RoutingEnv().reset([two_depots])
    refused = {f.name for f in features.FEATURES if not f.neural}
    assert refused == {"multiple_depots", "mixed_route_ends", "shifts", "max_tasks", "max_distance", "optional_clients"}


# --- the reference-cache key -------------------------------------------------------------------


def _zoned() -> Instance:
    return nco.sample_instance("pvrp", 8, seed=2)


def test_reference_key_changes_with_allowed_and_preference() -> None:
    instance = _zoned()
    key = _key(instance, "pyvrp", 1.0)
    assert _key(instance.replace(name="other", best_known_cost=1.0), "pyvrp", 1.0) == key  # not data
    allowed = instance.allowed.copy()
    allowed[0, np.flatnonzero(allowed.sum(0) > 1)[0]] ^= True
    preference = instance.preference.copy()
    preference[0, 1] += 0.5
    changed = {
        "allowed": instance.replace(allowed=allowed),
        "preference": instance.replace(preference=preference),
        "no preference": instance.replace(preference=None),
        "open_routes": instance.replace(open_routes=True),
        "coordinates": instance.replace(coordinates=instance.coordinates + 1e-3),
        "fleet": instance.replace(fleet=(dataclasses.replace(instance.fleet[0], fixed_cost=1.0), *instance.fleet[1:])),
    }
    keys = {name: _key(variant, "pyvrp", 1.0) for name, variant in changed.items()}
    assert key not in keys.values() and len(set(keys.values())) == len(keys)
    assert _key(instance, "pyvrp", 2.0) != key and _key(instance, "ortools", 1.0) != key
    assert _key(instance, "pyvrp", 1.0, iterations=500) not in (key, _key(instance, "pyvrp", 1.0, iterations=600))


def test_reference_key_covers_every_instance_field() -> None:
    """Every init field but the name and the best-known cost reaches the key: flipping each one
    on a small instance (with a value of its own kind) changes it."""
    base = Instance(distance=[[0, 1, 2], [1, 0, 1], [2, 1, 0]], demand=[0, 1, 1], capacity=2)
    changes = {
        "distance": dict(distance=[[0, 1, 3], [1, 0, 1], [2, 1, 0]]),
        "duration": dict(duration=[[0, 2, 2], [1, 0, 1], [2, 1, 0]]),
        "coordinates": dict(coordinates=[[0, 0], [1, 0], [0, 1]]),
        "coordinate_system": dict(coordinates=[[0, 0], [1, 0], [0, 1]], coordinate_system="latlon"),
        "demand": dict(demand=[0, 1, 2]),
        "pickup": dict(pickup=[0, 1, 0]),
        "capacity": dict(capacity=3),
        "num_vehicles": dict(num_vehicles=2),
        "fleet": dict(capacity=None, fleet=(VehicleType(2, capacity=2),)),
        "time_windows": dict(time_windows=[[0, 10], [0, 10], [0, 10]]),
        "service_time": dict(service_time=[0, 1, 1]),
        "max_route_duration": dict(max_route_duration=10.0),
        "open_routes": dict(open_routes=True),
        "backhaul_mode": dict(pickup=[0, 1, 0], backhaul_mode="strict"),
        "allowed": dict(allowed=[[True, True, True]]),
        "preference": dict(preference=[[0, 1, 0]]),
        "num_depots": dict(num_depots=2, demand=[0, 0, 1]),
        "prize": dict(prize=[0, 0, 3], required=[True, True, False]),
        "required": dict(required=[True, True, False]),
    }
    untested = {f.name for f in dataclasses.fields(Instance) if f.init} - set(changes) - {"name", "best_known_cost"}
    assert not untested, f"add a change of {sorted(untested)} here"
    key = _key(base, "pyvrp", 1.0)
    seen = {key}
    for name, change in changes.items():
        changed = _key(base.replace(**change), "pyvrp", 1.0)
        assert changed != key, name
        seen.add(changed)
    assert len(seen) == len(changes) + 1  # and from each other
