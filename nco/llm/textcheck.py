"""Checks of a generated instance against what the task text plainly states.

A program can run, and its routes can be feasible, for the wrong problem (a customer dropped,
a time window forgotten). These checks catch the mistakes that can be read off the text with
little risk of false alarms: stated counts of customers and vehicles, stated capacities, and
constraints the text names. They map words to Instance *fields*, never to a problem name.
Anything they cannot read reliably they leave alone; the answer's quality still depends on
the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from nco_core.instance import Instance

__all__ = ["check_against_text"]

_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
# a stated count: not an index ("vehicle type 1", "node 3") and not inside a matrix or a list
_NUMBER = r"(?<![\w.,\[-])(?<!type )(?<!profile )(?<!node )(\d+|" + "|".join(_NUMBER_WORDS) + r")"
# up to two words between a number and its noun ("30 delivery addresses"), on one line, and
# not words that make the number something else ("40 per van", "1 the car")
_GAP = r"[ \t]+(?:(?!(?:per|each|the|is|of|and|or|to)\b)[a-z-]+[ \t]+){0,2}?"
_CUSTOMERS = re.compile(
    _NUMBER + _GAP + r"(customers|addresses|clients|stops|shops|stores|households|sites|patients|orders|deliveries)\b",
    re.IGNORECASE,
)
_VEHICLES = re.compile(
    _NUMBER + _GAP + r"(vans?|vehicles?|trucks?|cars?|bikes?|lorries|lorry|couriers?|drivers?|robots?|drones?)\b",
    re.IGNORECASE,
)
_CAPACITY = re.compile(r"capacity\s+(?:of\s+)?(\d+(?:\.\d+)?)", re.IGNORECASE)


def _value(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token.lower()]


def _stated(pattern: re.Pattern[str], text: str) -> dict[str, int]:
    """Number stated per distinct phrase: "2 electric vans" and "2 diesel vans" are two groups,
    while repeating "3 vans" does not add vehicles."""
    return {match.group(0).lower(): _value(match.group(1)) for match in pattern.finditer(text)}


def _customer_count(text: str, instance: Instance) -> list[str]:
    counts = set(_stated(_CUSTOMERS, text).values())
    if len(counts) != 1:  # none stated, or several numbers (e.g. "5 of the 20 customers"): ambiguous
        return []
    (count,) = counts
    if count > 1 and instance.num_customers != count:
        return [f"the task has {count} customers but the instance has {instance.num_customers} (nodes 1..N-1)"]
    return []


def _vehicle_count(text: str, instance: Instance) -> list[str]:
    stated = _stated(_VEHICLES, text)
    if not stated:
        return []
    total = sum(stated.values())
    have = sum(vehicle.count for vehicle in instance.vehicle_types)
    if have != total:
        return [f"the task has {total} vehicles in all but the instance's fleet has {have}"]
    return []


def _capacities(text: str, instance: Instance) -> list[str]:
    have = {vehicle.capacity for vehicle in instance.vehicle_types}
    missing = sorted({float(value) for value in _CAPACITY.findall(text)} - have)
    return [f"the task states a capacity of {value:g} but no vehicle type has it" for value in missing]


def _mentions(pattern: str, present: Callable[[Instance], bool], what: str) -> Callable[[str, Instance], list[str]]:
    compiled = re.compile(pattern, re.IGNORECASE)

    def check(text: str, instance: Instance) -> list[str]:
        if compiled.search(text) and not present(instance):
            return [f"the task mentions {what} but the instance has none"]
        return []

    return check


_CHECKS: tuple[Callable[[str, Instance], list[str]], ...] = (
    _customer_count,
    _vehicle_count,
    _capacities,
    _mentions(
        r"time windows?|between \d{1,2}:\d{2} and \d{1,2}:\d{2}",
        lambda i: i.time_windows is not None,
        "time windows (time_windows)",
    ),
    _mentions(
        r"service time|unloading takes|takes \d+ minutes? (?:at|per)",
        lambda i: i.features()["service_time"],
        "service times (service_time)",
    ),
    _mentions(
        r"do(?:es)? not (?:need to )?return|don't (?:need to )?return|open routes?",
        lambda i: i.open_routes,
        "open routes (open_routes=True)",
    ),
    _mentions(
        r"\bpick(?:s|ed)? up\b|\bpickups?\b|\bcollect(?:ed|s)?\b",
        lambda i: i.features()["backhaul"],
        "pickups (pickup)",
    ),
    _mentions(
        r"(?:at most|no more than|no longer than|maximum of|longest)\s+\d+(?:\.\d+)?\s*(?:minutes|hours|h\b)",
        lambda i: i.features()["max_duration"],
        "a maximum route duration (max_route_duration or VehicleType.max_duration)",
    ),
    _mentions(
        r"\b(?:cannot|can't|may not|must not|is not allowed to|are not allowed to)\s+(?:serve|visit|deliver|enter)",
        lambda i: i.features()["allowed"],
        "vehicles that may not serve some customers (allowed)",
    ),
    _mentions(r"\bprefer(?:s|red|ence)?\b", lambda i: i.features()["preference"], "preferences (preference)"),
)


def check_against_text(text: str, instance: Instance) -> list[str]:
    """Mismatches between ``instance`` and facts stated in ``text``, as messages for the model."""
    problems: list[str] = []
    for check in _CHECKS:
        problems += check(text, instance)
    return problems
