"""Writes the LLM task set: plain-language routing tasks with the instance each one describes.

Each task's prose is written by hand below; the numbers in it come from small fixed data so
that the text and the expected instance cannot drift apart. Run from the repository root:
``python data/llm_tasks/make_tasks.py`` -> ``data/llm_tasks/tasks.json`` plus one
``<id>.instance.json`` (nco JSON) per task. Used by tests/test_llm*.py and benchmarks/llm.py.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nco import Instance, VehicleType
from nco_core.io import write

HERE = Path(__file__).resolve().parent

# customer sites on a plane (km); the depot is always at (50, 50)
SITES = [
    (50, 50),
    (20, 70),
    (35, 90),
    (60, 85),
    (80, 75),
    (90, 40),
    (70, 15),
    (40, 20),
    (15, 35),
    (25, 50),
    (65, 55),
    (55, 30),
    (85, 90),
]


def euclid(points: list[tuple[float, float]]) -> np.ndarray:
    xy = np.asarray(points, dtype=float)
    return np.linalg.norm(xy[:, None] - xy[None], axis=-1)


def manhattan(points: list[tuple[float, float]]) -> np.ndarray:
    xy = np.asarray(points, dtype=float)
    return np.abs(xy[:, None] - xy[None]).sum(axis=-1)


def haversine(points: list[tuple[float, float]]) -> np.ndarray:
    lat, lon = np.radians(np.asarray(points, dtype=float)).T
    dlat = lat[:, None] - lat[None]
    dlon = lon[:, None] - lon[None]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None]) * np.sin(dlon / 2) ** 2
    return 2 * 6371 * np.arcsin(np.sqrt(a))


def listing(rows: list[str]) -> str:
    return "\n".join(f"- {row}" for row in rows)


def pt(p: tuple[float, float]) -> str:
    return f"({p[0]:g}, {p[1]:g})"


TASKS: list[tuple[str, list[str], Callable[[], tuple[str, Instance]]]] = []


def task(name: str, *variants: str):
    def register(build: Callable[[], tuple[str, Instance]]) -> Callable[[], tuple[str, Instance]]:
        TASKS.append((name, list(variants), build))
        return build

    return register


@task("cvrp_bakery", "capacity")
def _() -> tuple[str, Instance]:
    pts, demand = SITES[:9], [0, 4, 6, 3, 7, 5, 4, 6, 5]
    text = (
        f"A bakery at {pt(pts[0])} supplies 8 cafes every morning with 2 vans, each with a capacity of 20 crates. "
        "Positions are in km on a flat map and distances are straight-line. Every van starts and ends at the "
        "bakery. Minimise the total distance driven. The cafes and their crate orders:\n"
        + listing([f"cafe {i} at {pt(pts[i])}: {demand[i]} crates" for i in range(1, 9)])
        + "\nCount each cafe as one customer (8 customers)."
    )
    return text, Instance(distance=euclid(pts), coordinates=pts, demand=demand, capacity=20, num_vehicles=2)


@task("cvrp_helsinki_latlon", "capacity", "latlon")
def _() -> tuple[str, Instance]:
    pts = [
        (60.1699, 24.9384),
        (60.1841, 24.9505),
        (60.1618, 24.9066),
        (60.2055, 24.9655),
        (60.1756, 24.9812),
        (60.1920, 24.9200),
        (60.1550, 24.9500),
    ]
    demand = [0, 12, 9, 15, 7, 11, 10]
    text = (
        f"Three vans of capacity 30 leave the depot at {pt(pts[0])} (latitude, longitude) and deliver parcels to "
        "these 6 addresses; use great-circle distance in km and bring every van back to the depot.\n"
        + listing([f"address {i}: {pt(pts[i])}, {demand[i]} parcels" for i in range(1, 7)])
    )
    return text, Instance(
        distance=haversine(pts), coordinates=pts, coordinate_system="latlon", demand=demand, capacity=30, num_vehicles=3
    )


@task("cvrp_unlimited_fleet", "capacity")
def _() -> tuple[str, Instance]:
    pts, demand = SITES[:11], [0, 5, 5, 4, 6, 3, 7, 2, 5, 6, 4]
    text = (
        f"A water supplier at {pt(pts[0])} can hire as many trucks as it needs; every truck carries at most 15 "
        "bottles (capacity 15). Distances are Euclidean. Deliver to all 10 customers below with the shortest "
        "total distance, each truck returning to the warehouse:\n"
        + listing([f"{pt(pts[i])} wants {demand[i]} bottles" for i in range(1, 11)])
        + "\nNumber the customers 1 to 10 in this order."
    )
    return text, Instance(distance=euclid(pts), coordinates=pts, demand=demand, capacity=15)


@task("tsp_single_courier", "tsp")
def _() -> tuple[str, Instance]:
    pts = SITES[:8]
    text = (
        "A single courier (one vehicle, no load limit) starts at the office at "
        f"{pt(pts[0])}, visits 7 clients and comes back. Travel is straight-line in km. Find the shortest tour. "
        "Clients in order: " + ", ".join(pt(p) for p in pts[1:]) + "."
    )
    return text, Instance(distance=euclid(pts), coordinates=pts, num_vehicles=1)


ONE_WAY = np.array(
    [
        [0, 4, 7, 9, 6, 8],
        [5, 0, 3, 8, 9, 10],
        [9, 6, 0, 2, 7, 11],
        [8, 9, 5, 0, 3, 6],
        [4, 8, 9, 6, 0, 2],
        [7, 12, 10, 4, 5, 0],
    ],
    dtype=float,
)


def matrix_text(matrix: np.ndarray) -> str:
    return "\n".join("  " + " ".join(f"{v:g}" for v in row) for row in matrix)


@task("asymmetric_one_way_streets", "asymmetric")
def _() -> tuple[str, Instance]:
    text = (
        "In an old town full of one-way streets the driving distance from A to B differs from B to A. Node 0 is "
        "the depot and nodes 1-5 are 5 shops. Row i, column j of this matrix is the distance in km from node i "
        "to node j:\n"
        + matrix_text(ONE_WAY)
        + "\nOne vehicle without capacity limit visits all shops and returns. Minimise the distance."
    )
    return text, Instance(distance=ONE_WAY, num_vehicles=1)


@task("asymmetric_capacitated", "asymmetric", "capacity")
def _() -> tuple[str, Instance]:
    demand = [0, 3, 4, 2, 5, 3]
    text = (
        "Two vans with capacity 9 start from a depot (node 0). The 5 customers (nodes 1 to 5) need "
        + ", ".join(f"{d}" for d in demand[1:])
        + " units respectively. Distances are asymmetric; entry [i][j] is the distance from i to j:\n"
        + matrix_text(ONE_WAY)
        + "\nMinimise the total distance, every van returning to the depot."
    )
    return text, Instance(distance=ONE_WAY, demand=demand, capacity=9, num_vehicles=2)


@task("time_windows_basic", "time_windows", "capacity")
def _() -> tuple[str, Instance]:
    pts = SITES[:7]
    windows = [(0, 400), (30, 120), (60, 160), (100, 200), (0, 90), (150, 260), (200, 320)]
    demand = [0, 5, 4, 6, 3, 5, 4]
    text = (
        f"Three vans (capacity 12 each) are based at a depot at {pt(pts[0])} that is open from minute 0 to "
        "minute 400. Vans drive 1 km per minute and distances are straight-line in km, so travel time in minutes "
        "equals distance. Each of the 6 customers must be reached within its time window (a van arriving early "
        "waits):\n"
        + listing(
            [
                f"customer {i} at {pt(pts[i])}, demand {demand[i]}, time window [{windows[i][0]}, {windows[i][1]}]"
                for i in range(1, 7)
            ]
        )
        + "\nMinimise total distance."
    )
    return text, Instance(
        distance=euclid(pts), coordinates=pts, demand=demand, capacity=12, num_vehicles=3, time_windows=windows
    )


@task("time_windows_service", "time_windows", "service_time")
def _() -> tuple[str, Instance]:
    pts = SITES[:8]
    windows = [(0, 600), (0, 200), (50, 250), (100, 300), (0, 150), (200, 400), (250, 500), (60, 180)]
    service = [0, 10, 15, 10, 5, 20, 10, 15]
    text = (
        f"Two technicians leave the workshop at {pt(pts[0])} (open minute 0 to 600) and visit 7 customers. "
        "Travel time in minutes equals the Euclidean distance. Each visit has a time window for the start "
        "of service and a service time spent on site:\n"
        + listing(
            [
                f"customer {i} at {pt(pts[i])}: time window [{windows[i][0]}, {windows[i][1]}], service time "
                f"{service[i]} min"
                for i in range(1, 8)
            ]
        )
        + "\nThere is no load limit. Minimise total travel distance."
    )
    return text, Instance(
        distance=euclid(pts), coordinates=pts, num_vehicles=2, time_windows=windows, service_time=service
    )


@task("service_and_max_duration", "service_time", "max_duration")
def _() -> tuple[str, Instance]:
    pts = SITES[:9]
    service = [0, 12, 12, 12, 12, 12, 12, 12, 12]
    text = (
        f"Nurses start at the clinic at {pt(pts[0])} and visit 8 patients at home, each visit taking 12 minutes "
        "(service time). They travel 1 km per minute, distances are straight-line. A nurse's round, from leaving the "
        "clinic to returning, may last at most 240 minutes. The clinic has 3 cars. Patients: "
        + ", ".join(pt(p) for p in pts[1:])
        + ". Minimise the distance driven."
    )
    return text, Instance(
        distance=euclid(pts), coordinates=pts, num_vehicles=3, service_time=service, max_route_duration=240
    )


@task("heterogeneous_fixed_costs", "heterogeneous_fleet", "fixed_cost", "capacity")
def _() -> tuple[str, Instance]:
    pts, demand = SITES[:11], [0, 6, 4, 8, 5, 7, 3, 9, 4, 6, 5]
    text = (
        f"A wholesaler at {pt(pts[0])} has 3 small vans (capacity 15, fixed cost 40 per van used) and 2 trucks "
        "(capacity 35, fixed cost 100 per truck used). Cost is the fixed costs of the vehicles used plus 1 per km "
        "driven (straight-line). Serve these 10 customers, vehicles returning to the depot:\n"
        + listing([f"customer {i} at {pt(pts[i])}: {demand[i]} pallets" for i in range(1, 11)])
        + "\nUse the vans as vehicle type 0 and the trucks as vehicle type 1."
    )
    fleet = (VehicleType(count=3, capacity=15, fixed_cost=40), VehicleType(count=2, capacity=35, fixed_cost=100))
    return text, Instance(distance=euclid(pts), coordinates=pts, demand=demand, fleet=fleet)


@task("heterogeneous_unit_costs", "heterogeneous_fleet", "capacity")
def _() -> tuple[str, Instance]:
    pts, demand = SITES[:9], [0, 5, 5, 5, 5, 5, 5, 5, 5]
    text = (
        f"From a depot at {pt(pts[0])}, 2 electric vans (capacity 20, cost 0.5 per km) and 2 diesel vans (capacity "
        "25, cost 1.5 per km) deliver 5 boxes to each of 8 customers at "
        + ", ".join(pt(p) for p in pts[1:])
        + ". Distances are Euclidean km. Minimise total driving cost. Electric vans are vehicle type "
        "0, diesel vans type 1."
    )
    fleet = (
        VehicleType(count=2, capacity=20, unit_distance_cost=0.5),
        VehicleType(count=2, capacity=25, unit_distance_cost=1.5),
    )
    return text, Instance(distance=euclid(pts), coordinates=pts, demand=demand, fleet=fleet)


@task("open_routes_couriers", "open_routes")
def _() -> tuple[str, Instance]:
    pts = SITES[:9]
    text = (
        f"Bike couriers leave the hub at {pt(pts[0])} with flyers for 8 households and do not "
        "return to the hub afterwards: a route ends at its last household. There are 2 couriers and no load limit. "
        "Distances are straight-line. Households: "
        + ", ".join(pt(p) for p in pts[1:])
        + ". Minimise the distance ridden."
    )
    return text, Instance(distance=euclid(pts), coordinates=pts, num_vehicles=2, open_routes=True)


@task("open_routes_capacity", "open_routes", "capacity")
def _() -> tuple[str, Instance]:
    pts, demand = SITES[:10], [0, 3, 5, 2, 6, 4, 3, 5, 2, 4]
    text = (
        f"Contracted drivers load at the warehouse at {pt(pts[0])} and go home after their last stop, so they do "
        "not return to the warehouse. Each of the 3 vans has capacity 14. Deliver to the 9 stops below "
        "(Euclidean distances):\n" + listing([f"stop {i}: {pt(pts[i])}, {demand[i]} units" for i in range(1, 10)])
    )
    return text, Instance(
        distance=euclid(pts), coordinates=pts, demand=demand, capacity=14, num_vehicles=3, open_routes=True
    )


@task("pickup_and_delivery_mixed", "backhaul", "capacity")
def _() -> tuple[str, Instance]:
    pts = SITES[:9]
    demand = [0, 4, 0, 6, 3, 0, 5, 2, 0]
    pickup = [0, 0, 5, 2, 0, 6, 0, 3, 4]
    text = (
        f"A laundry service at {pt(pts[0])} uses 2 vans of capacity 15. At each of 8 customers it drops off clean "
        "bags (delivered from the depot) and/or picks up dirty bags (brought back to the depot); deliveries and "
        "pickups may be mixed in any order as long as the load never exceeds the capacity. Distances are "
        "Euclidean.\n"
        + listing([f"customer {i} at {pt(pts[i])}: deliver {demand[i]}, pick up {pickup[i]}" for i in range(1, 9)])
    )
    return text, Instance(
        distance=euclid(pts), coordinates=pts, demand=demand, pickup=pickup, capacity=15, num_vehicles=2
    )


@task("backhaul_strict", "backhaul", "strict_backhaul", "capacity")
def _() -> tuple[str, Instance]:
    pts = SITES[:9]
    demand = [0, 5, 7, 4, 6, 0, 0, 0, 0]
    pickup = [0, 0, 0, 0, 0, 5, 6, 4, 3]
    text = (
        f"A distribution centre at {pt(pts[0])} has 2 trucks of capacity 20. Customers 1-4 receive goods "
        f"({', '.join(map(str, demand[1:5]))} units) and suppliers 5-8 have returns to be picked up "
        f"({', '.join(map(str, pickup[5:]))} units). On every route all deliveries must be made before any pickup "
        "(strict backhauls). Locations in order 1..8: "
        + ", ".join(pt(p) for p in pts[1:])
        + ". Distances are straight-line; minimise total distance. Treat all 8 locations as customers."
    )
    return text, Instance(
        distance=euclid(pts),
        coordinates=pts,
        demand=demand,
        pickup=pickup,
        capacity=20,
        num_vehicles=2,
        backhaul_mode="strict",
    )


@task("max_route_duration", "max_duration", "capacity")
def _() -> tuple[str, Instance]:
    pts, demand = SITES[:11], [0, 2, 3, 2, 4, 3, 2, 3, 4, 2, 3]
    text = (
        f"Drivers may work no more than 150 minutes per route. The depot is at {pt(pts[0])}; there are 4 vans of "
        "capacity 12 and 10 customers. Vans travel 1 km per minute over straight-line distances. Customers and "
        "their demands:\n"
        + listing([f"{pt(pts[i])}: {demand[i]}" for i in range(1, 11)])
        + "\nNumber the customers 1..10 in the order listed. Minimise total distance."
    )
    return text, Instance(
        distance=euclid(pts), coordinates=pts, demand=demand, capacity=12, num_vehicles=4, max_route_duration=150
    )


@task("fleet_max_duration", "max_duration", "heterogeneous_fleet")
def _() -> tuple[str, Instance]:
    pts = SITES[:9]
    text = (
        f"A security company patrols 8 sites from its base at {pt(pts[0])}. It has 2 day-shift cars whose routes may "
        "last at most 200 minutes and 1 night-shift car whose route may last at most 300 minutes. Travel time in "
        "minutes equals straight-line distance in km and there is no capacity. Sites: "
        + ", ".join(pt(p) for p in pts[1:])
        + ". Vehicle type 0 is the day-shift cars, type 1 the night-shift car. Minimise total distance."
    )
    fleet = (VehicleType(count=2, max_duration=200), VehicleType(count=1, max_duration=300))
    return text, Instance(distance=euclid(pts), coordinates=pts, fleet=fleet)


@task("allowed_narrow_streets", "allowed", "heterogeneous_fleet", "capacity")
def _() -> tuple[str, Instance]:
    pts, demand = SITES[:9], [0, 3, 4, 2, 5, 3, 4, 2, 3]
    allowed = np.ones((2, 9), dtype=bool)
    allowed[1, [2, 5, 7]] = False
    text = (
        f"A grocer at {pt(pts[0])} uses 2 cargo bikes (capacity 8, vehicle type 0) and 1 truck (capacity 30, vehicle "
        "type 1). The truck cannot serve customers 2, 5 and 7, which sit in pedestrian streets; bikes can serve "
        "anyone. Distances are Euclidean for both. The 8 customers:\n"
        + listing([f"customer {i} at {pt(pts[i])}: {demand[i]} boxes" for i in range(1, 9)])
        + "\nMinimise the total distance."
    )
    fleet = (VehicleType(count=2, capacity=8), VehicleType(count=1, capacity=30))
    return text, Instance(distance=euclid(pts), coordinates=pts, demand=demand, fleet=fleet, allowed=allowed)


@task("preference_regular_driver", "preference", "heterogeneous_fleet")
def _() -> tuple[str, Instance]:
    pts = SITES[:9]
    preference = np.zeros((2, 9))
    preference[0, [1, 2, 3]] = 20
    preference[1, [5, 6]] = 15
    text = (
        f"Anna and Ben each drive a van (no capacity limit) from the depot at {pt(pts[0])}: Anna's "
        "van is vehicle type 0, "
        "Ben's van vehicle type 1. There are 8 customers at "
        + ", ".join(pt(p) for p in pts[1:])
        + " (customers 1..8). Customers 1, 2 and 3 prefer Anna: serving them with her van lowers the cost by 20 "
        "each. Customers 5 and 6 prefer Ben, worth 15 each. Cost is the Euclidean distance driven minus these "
        "preference bonuses."
    )
    fleet = (VehicleType(count=1), VehicleType(count=1))
    return text, Instance(distance=euclid(pts), coordinates=pts, fleet=fleet, preference=preference)


@task("time_windows_heterogeneous", "time_windows", "heterogeneous_fleet", "capacity")
def _() -> tuple[str, Instance]:
    pts = SITES[:8]
    windows = [(0, 500), (0, 150), (50, 200), (100, 300), (0, 120), (150, 350), (200, 450), (80, 220)]
    demand = [0, 4, 6, 3, 5, 7, 2, 4]
    text = (
        f"A caterer at {pt(pts[0])} (open from minute 0 to 500) has 1 large van (capacity 25, fixed "
        "cost 60) as vehicle "
        "type 0 and 2 small vans (capacity 10, fixed cost 20) as vehicle type 1. Travel time equals straight-line "
        "distance in minutes. Cost is fixed costs plus distance. The 7 orders must arrive inside their time window:\n"
        + listing(
            [
                f"customer {i} at {pt(pts[i])}: {demand[i]} trays, time window [{windows[i][0]}, {windows[i][1]}]"
                for i in range(1, 8)
            ]
        )
    )
    fleet = (VehicleType(count=1, capacity=25, fixed_cost=60), VehicleType(count=2, capacity=10, fixed_cost=20))
    return text, Instance(distance=euclid(pts), coordinates=pts, demand=demand, fleet=fleet, time_windows=windows)


@task("duration_differs_from_distance", "duration", "max_duration")
def _() -> tuple[str, Instance]:
    pts = SITES[:9]
    distance = euclid(pts)
    text = (
        f"Vans drive at 40 km/h, so the travel time in minutes is 1.5 times the straight-line distance in km. "
        f"From the depot at {pt(pts[0])}, 3 vans serve 8 customers at "
        + ", ".join(pt(p) for p in pts[1:])
        + ". Each van's route may take at most 300 minutes. Minimise kilometres driven (give the Instance both the "
        "distance and the duration matrix)."
    )
    return text, Instance(
        distance=distance, duration=1.5 * distance, coordinates=pts, num_vehicles=3, max_route_duration=300
    )


@task("profiles_bikes_and_cars", "multiple_profiles", "heterogeneous_fleet", "capacity")
def _() -> tuple[str, Instance]:
    pts, demand = SITES[:9], [0, 2, 3, 2, 4, 2, 3, 2, 3]
    text = (
        f"From a depot at {pt(pts[0])}, 2 bikes (capacity 6) ride straight-line distances through parks, while "
        "1 car (capacity 25) must follow the street grid, so its distance between (x1, y1) and (x2, y2) is "
        "|x1 - x2| + |y1 - y2|. Use two profiles: profile 0 (Euclidean) for the bikes as vehicle type 0 and "
        "profile 1 (grid) for the car as vehicle type 1. There are 8 customers:\n"
        + listing([f"customer {i} at {pt(pts[i])}: {demand[i]} parcels" for i in range(1, 9)])
        + "\nMinimise total distance."
    )
    fleet = (VehicleType(count=2, capacity=6, profile=0), VehicleType(count=1, capacity=25, profile=1))
    return text, Instance(distance=np.stack([euclid(pts), manhattan(pts)]), coordinates=pts, demand=demand, fleet=fleet)


@task("pickup_with_time_windows", "backhaul", "time_windows", "capacity")
def _() -> tuple[str, Instance]:
    pts = SITES[:7]
    demand = [0, 3, 0, 4, 0, 2, 0]
    pickup = [0, 0, 5, 0, 3, 0, 4]
    windows = [(0, 480), (0, 200), (60, 240), (0, 180), (120, 360), (200, 420), (240, 460)]
    text = (
        f"A courier company at {pt(pts[0])} (open minute 0 to 480) runs 2 vans of capacity 10. Some of the 6 "
        "customers receive parcels, others have parcels to pick up and bring back to the depot; the load may "
        "never exceed the capacity. Travel time equals Euclidean distance in minutes. Service must start inside "
        "each time window:\n"
        + listing(
            [
                f"customer {i} at {pt(pts[i])}: deliver {demand[i]}, pick up {pickup[i]}, time window "
                f"[{windows[i][0]}, {windows[i][1]}]"
                for i in range(1, 7)
            ]
        )
    )
    return text, Instance(
        distance=euclid(pts),
        coordinates=pts,
        demand=demand,
        pickup=pickup,
        capacity=10,
        num_vehicles=2,
        time_windows=windows,
    )


@task("cvrp_larger_grid", "capacity")
def _() -> tuple[str, Instance]:
    pts = [(50, 50)] + [(10 + 20 * (i % 5), 10 + 20 * (i // 5)) for i in range(20)]
    demand = [0] + [1 + (7 * i) % 5 for i in range(20)]
    text = (
        f"A depot at {pt(pts[0])} serves 20 customers placed on a grid with 4 trucks of capacity 18. Distances are "
        "Euclidean. Customer k (k = 1..20) is at x = 10 + 20 * ((k - 1) mod 5), y = 10 + 20 * floor((k - 1) / 5) "
        "and needs 1 + (7 * (k - 1) mod 5) units. Minimise total distance with every truck returning to the depot."
    )
    return text, Instance(distance=euclid(pts), coordinates=pts, demand=demand, capacity=18, num_vehicles=4)


def main() -> None:
    index = []
    for name, variants, build in TASKS:
        text, instance = build()
        instance = instance.replace(name=name)
        write(instance, HERE / f"{name}.instance.json")
        index.append({"id": name, "variants": variants, "text": text, "expected": f"{name}.instance.json"})
    handle, tmp = tempfile.mkstemp(dir=HERE, prefix=".tasks.", suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        json.dump({"format": "nco-llm-tasks", "version": 1, "tasks": index}, out, indent=1)
    os.replace(tmp, HERE / "tasks.json")
    print(f"wrote {len(index)} tasks to {HERE}")


if __name__ == "__main__":
    main()
