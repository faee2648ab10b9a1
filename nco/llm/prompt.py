"""What the model is told, and how its code is taken out of its reply.

The prompt follows the best paradigm of "From Words to Routes" (code straight from the task
description), but asks for a *formulation* rather than a solver: the model translates the text
into an :class:`nco.Instance` and hands it to ``nco.solve``, so routing quality comes from a
real solver and feasibility is checked by nco's evaluator, never by the model.
"""

from __future__ import annotations

import re

__all__ = ["INSTANCE_FILE", "SOLUTION_FILE", "SYSTEM_PROMPT", "extract_code", "feedback_message", "task_message"]

INSTANCE_FILE = "instance.json"
SOLUTION_FILE = "solution.json"

SYSTEM_PROMPT = f"""\
You translate vehicle routing problems described in plain language into a Python program that
uses the `nco` library. Do not write a routing algorithm: build an `nco.Instance` holding
exactly the data of the task and call `nco.solve`.

## nco API
```python
import math, numpy as np, nco
from nco import Instance, VehicleType

Instance(
    distance,                 # (N, N) travel distances, [from, to], may be asymmetric; node 0 is the depot,
                              # nodes 1..N-1 the customers in the order the task lists them.
                              # (P, N, N) when vehicle types drive on P different profiles.
    duration=None,            # same shape, travel times; omitted -> travel time equals distance
    coordinates=None,         # (N, 2), optional, for plotting only
    coordinate_system="xy",   # or "latlon"
    demand=None,              # (N,) amounts delivered from the depot; demand[0] == 0
    pickup=None,              # (N,) amounts collected and brought back to the depot; pickup[0] == 0
    capacity=None,            # homogeneous fleet: capacity of every vehicle (None = unlimited)
    num_vehicles=None,        # homogeneous fleet: number of vehicles (None = unlimited)
    fleet=None,               # heterogeneous fleet instead of capacity/num_vehicles: tuple of VehicleType
    time_windows=None,        # (N, 2) [earliest, latest] start of service; row 0 = depot opening hours
    service_time=None,        # (N,) time spent at each node; service_time[0] == 0
    max_route_duration=None,  # homogeneous fleet: longest allowed route duration (incl. waiting and service)
    open_routes=False,        # True: vehicles end at their last customer and do not return
    backhaul_mode="mixed",    # "strict": on each route all deliveries come before all pickups
    allowed=None,             # (K, N) bool, K = number of vehicle types: allowed[k, i] False forbids type k at node i
    preference=None,          # (K, N) float: bonus subtracted from the cost when type k serves node i
    name="instance",
)
VehicleType(count, capacity=math.inf, fixed_cost=0.0, profile=0, max_duration=math.inf,
            unit_distance_cost=1.0, unit_duration_cost=0.0)
```
The objective is the sum over used vehicles of fixed_cost + unit_distance_cost * distance +
unit_duration_cost * duration, minus preferences. Units are whatever the task uses; keep them
consistent (e.g. all times in minutes). Unless the task says otherwise: distances between
(x, y) points are Euclidean; between (latitude, longitude) points use the great-circle
(haversine) distance in km with Earth radius 6371 km.

```python
solution = nco.solve(instance, method="pyvrp", time_limit=5)  # or method="ortools" / "vroom"
solution.routes          # list of routes, each a list of customer indices (depot implicit)
solution.vehicle_types   # vehicle type index of each route
solution.cost, solution.feasible, solution.violations
evaluation = nco.evaluate(instance, routes, vehicle_types)  # cost and violations of any routes
```
If a method raises "not supported by <method>: <feature>", use another method.

## Output contract
The program runs in an empty directory without network access or access to other files, with
limited time and memory. It must end with
```python
nco.write(instance, "{INSTANCE_FILE}")
nco.write(solution, "{SOLUTION_FILE}")
```
Reply with one complete program in a single ```python fenced block. Put every number from the
task into the program itself. After each run you are told about errors, constraint violations
and mismatches with the task; then reply with the whole corrected program.
"""


def task_message(text: str) -> str:
    return f"Task:\n{text.strip()}\n\nWrite the program."


def feedback_message(problems: list[str], *, round_: int, max_rounds: int) -> str:
    listed = "\n".join(f"- {problem}" for problem in problems)
    return (
        f"Your program (attempt {round_} of {max_rounds}) has these problems:\n{listed}\n\n"
        "Fix them and reply with the whole corrected program in one ```python block."
    )


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(reply: str) -> str | None:
    """The program in a model's reply.

    Prefers fenced blocks tagged python (the last one: models often show a snippet before the
    final program), then any fenced block that looks like Python; an unfenced reply counts only
    if it plainly is a program. Also copes with a missing closing fence (truncated replies) and
    reasoning models' ``<think>`` sections.
    """
    reply = re.sub(r"<think>.*?</think>", "", reply, flags=re.DOTALL)
    blocks = [(tag.lower(), body.strip()) for tag, body in _FENCE.findall(reply)]
    tagged = [body for tag, body in blocks if tag in ("python", "py", "python3") and body]
    if tagged:
        return max(tagged, key=lambda body: ("nco" in body, tagged.index(body)))
    untagged = [body for tag, body in blocks if body and _looks_like_python(body)]
    if untagged:
        return untagged[-1]
    if "```" not in reply and _looks_like_python(reply):
        return reply.strip()
    return None


def _looks_like_python(text: str) -> bool:
    return bool(re.search(r"^\s*(import |from \S+ import )", text, re.MULTILINE))
