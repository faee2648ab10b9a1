"""Write the shipped "bring your own stops" example: 60 deliveries and 6 vans in Oslo.

The stops are real road points of the shipped ``oslo`` pool; the VROOM file embeds their road matrices
(seconds and metres, as integers), so it solves and maps offline. The same stops and fleet are also
written as CSV (which needs OSRM for its matrices). Deterministic: ``python scripts/stops_example.py``
rewrites data/examples/ identically.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from envs.cities import load_city
from nco_core.csv_io import FLEET_COLUMNS

OUT = Path(__file__).resolve().parents[1] / "data" / "examples"
JOBS, VANS, CAPACITY = 60, 6, 80
SHIFT = (8 * 3600, 16 * 3600)  # 08:00 to 16:00, seconds since midnight


def clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def main() -> None:
    city = load_city("oslo")
    rng = np.random.default_rng(14)
    chosen = rng.choice(city.size, JOBS + 1, replace=False)
    points = city.points[chosen]
    metres = np.rint(city.distance[np.ix_(chosen, chosen)] * 1000).astype(int)
    seconds = np.rint(city.duration[np.ix_(chosen, chosen)] * 60).astype(int)
    demand = rng.integers(1, 11, JOBS)
    service = rng.choice([120, 180, 300], JOBS)
    # a two-hour window for every third job, placed so that a van driving straight there makes it
    direct = seconds[0, 1:]
    opens = -(-(SHIFT[0] + direct) // 60) * 60 + rng.integers(0, 5, JOBS) * 1800  # whole minutes, as in the CSV
    timed = np.arange(JOBS) % 3 == 0
    lonlat = lambda i: [round(float(points[i, 1]), 6), round(float(points[i, 0]), 6)]  # noqa: E731
    jobs = []
    for j in range(JOBS):
        job = {
            "id": 1001 + j,
            "location": lonlat(j + 1),
            "location_index": j + 1,
            "service": int(service[j]),
            "delivery": [int(demand[j])],
        }
        if timed[j]:
            job["time_windows"] = [[int(opens[j]), int(opens[j]) + 7200]]
        jobs.append(job)
    vehicles = [
        {
            "id": v + 1,
            "description": f"van {v + 1}",
            "start": lonlat(0),
            "start_index": 0,
            "end": lonlat(0),
            "end_index": 0,
            "capacity": [CAPACITY],
            "time_window": list(SHIFT),
            "costs": {"fixed": 1800},
        }
        for v in range(VANS)
    ]
    problem = {
        "vehicles": vehicles,
        "jobs": jobs,
        "matrices": {"car": {"durations": seconds.tolist(), "distances": metres.tolist()}},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "oslo-deliveries.json").write_text(json.dumps(problem, separators=(",", ":")) + "\n")
    with (OUT / "oslo-stops.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "lat", "lon", "demand", "pickup", "tw_start", "tw_end", "service"])
        for j, job in enumerate(jobs):
            window = job.get("time_windows", [[None, None]])[0]
            writer.writerow(
                [
                    job["id"],
                    points[j + 1, 0],
                    points[j + 1, 1],
                    job["delivery"][0],
                    0,
                    clock(window[0]) if window[0] else "",
                    clock(window[1]) if window[1] else "",
                    job["service"],
                ]
            )
    with (OUT / "oslo-fleet.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FLEET_COLUMNS[: FLEET_COLUMNS.index("fixed_cost") + 1])  # the columns written below
        for v in vehicles:
            writer.writerow(
                [
                    v["id"],
                    points[0, 0],
                    points[0, 1],
                    points[0, 0],
                    points[0, 1],
                    CAPACITY,
                    clock(SHIFT[0]),
                    clock(SHIFT[1]),
                    "",
                    1800,
                ]
            )


if __name__ == "__main__":
    main()
