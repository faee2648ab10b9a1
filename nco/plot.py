"""Routes on a map: an interactive HTML page that works offline, GeoJSON, and a static PNG.

Everything drawn comes from the VROOM-format solution (:func:`nco_core.vroom_io.vroom_solution`:
the user's ids, arrival times and loads as the evaluator's schedule has them) and from one line per
route: the OSRM road path (:func:`envs.osrm.stops.route_lines` with a client) or straight segments
between the stops.

The HTML page inlines Leaflet (BSD-2; its files come from the PyPI package XStatic-Leaflet, a
dependency, and keep their licence header), so it needs no network: the routes draw on a plain
background, and OpenStreetMap tiles (with their attribution) appear underneath only when the
browser is online. It is hand-built rather than generated with folium because folium's pages load
Leaflet, jQuery and Bootstrap from CDNs.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xstatic.pkg.leaflet

from envs.osrm.stops import route_lines
from nco_core.io import atomic_path
from nco_core.solution import Solution
from nco_core.stops import Problem, StopsError
from nco_core.vroom_io import vroom_solution

__all__ = ["geojson", "map", "png", "write_geojson"]

ASSETS = Path(xstatic.pkg.leaflet.BASE_DIR)
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#ad494a",
    "#637939",
    "#8c6d31",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
]
TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


def clock(seconds: float) -> str:
    """Seconds as H:MM:SS (times of day when the input used them, elapsed time otherwise)."""
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _layers(problem: Problem, solution: Solution, lines: Sequence[np.ndarray] | None) -> dict[str, Any]:
    """What every output draws: per route its colour, line and stops; the depots; the unassigned jobs."""
    if problem.coordinates is None:
        raise StopsError(f"{problem.name}: no coordinates (the file gave matrix indices only): nothing to draw")
    plan = vroom_solution(problem, solution)
    lines = list(lines) if lines is not None else route_lines(problem, solution)
    if len(lines) != len(plan["routes"]):
        raise ValueError(f"{len(lines)} route lines for {len(plan['routes'])} routes")
    latlon = lambda step: [step["location"][1], step["location"][0]]  # noqa: E731
    routes = []
    for r, (route, line) in enumerate(zip(plan["routes"], lines, strict=True)):
        jobs = [step for step in route["steps"] if step["type"] == "job"]
        routes.append(
            {
                "vehicle": route["vehicle"],
                "colour": PALETTE[r % len(PALETTE)],
                "line": np.asarray(line).tolist(),
                "cost": route["cost"],
                "distance": route["distance"],
                "duration": route["duration"],
                "stops": [
                    {
                        "n": n + 1,
                        "id": step["id"],
                        "latlon": latlon(step),
                        "arrival": step["arrival"],
                        "load": step["load"][0],
                        "service": step["service"],
                    }
                    for n, step in enumerate(jobs)
                ],
            }
        )
    depots = {tuple(latlon(route["steps"][0])) for route in plan["routes"]}
    depots |= {tuple(problem.coordinates[loc]) for loc in problem.depots}
    unassigned = [{"id": job["id"], "latlon": latlon(job)} for job in plan["unassigned"]]
    return {
        "routes": routes,
        "depots": [list(d) for d in sorted(depots)],
        "unassigned": unassigned,
        "summary": plan["summary"],
        "feasible": solution.feasible,
    }


# -- GeoJSON --------------------------------------------------------------------------------------
def geojson(problem: Problem, solution: Solution, lines: Sequence[np.ndarray] | None = None) -> dict[str, Any]:
    """A FeatureCollection ([lon, lat]): a LineString per route, a Point per served job (sequence,
    arrival, load), per depot and per unassigned job."""
    layers = _layers(problem, solution, lines)
    point = lambda latlon: {"type": "Point", "coordinates": [latlon[1], latlon[0]]}  # noqa: E731
    features: list[dict[str, Any]] = []
    for r, route in enumerate(layers["routes"]):
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in route["line"]]},
                "properties": {
                    "kind": "route",
                    "route": r,
                    "vehicle": route["vehicle"],
                    "stroke": route["colour"],
                    "jobs": len(route["stops"]),
                    "cost": route["cost"],
                    "distance": route["distance"],
                    "duration": route["duration"],
                },
            }
        )
        for stop in route["stops"]:
            features.append(
                {
                    "type": "Feature",
                    "geometry": point(stop["latlon"]),
                    "properties": {
                        "kind": "job",
                        "id": stop["id"],
                        "route": r,
                        "vehicle": route["vehicle"],
                        "sequence": stop["n"],
                        "arrival": stop["arrival"],
                        "load": stop["load"],
                    },
                }
            )
    features += [{"type": "Feature", "geometry": point(d), "properties": {"kind": "depot"}} for d in layers["depots"]]
    features += [
        {"type": "Feature", "geometry": point(u["latlon"]), "properties": {"kind": "unassigned", "id": u["id"]}}
        for u in layers["unassigned"]
    ]
    return {"type": "FeatureCollection", "features": features}


def write_geojson(
    problem: Problem, solution: Solution, path: str | Path, lines: Sequence[np.ndarray] | None = None
) -> Path:
    path = Path(path)
    document = geojson(problem, solution, lines)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(document))
    return path


# -- HTML ---------------------------------------------------------------------------------------
def _popup(*rows: tuple[str, Any]) -> str:
    return "<br>".join(f"<b>{html.escape(str(key))}</b> {html.escape(str(value))}" for key, value in rows)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<!-- Leaflet (BSD-2-Clause, (c) Volodymyr Agafonkin, (c) 2010-2011 CloudMade; see the header of its script), inlined -->
<style>__LEAFLET_CSS__</style>
<style>
html, body, #map { height: 100%; margin: 0; }
#map { background: #eef0f2; }
.nco-stop span { display: block; width: 20px; height: 20px; border-radius: 10px; color: #fff; font: bold 11px/20px
  sans-serif; text-align: center; border: 1px solid #fff; box-shadow: 0 0 2px #000; }
.nco-depot span { display: block; width: 18px; height: 18px; background: #111; border: 2px solid #fff;
  box-shadow: 0 0 3px #000; }
.nco-legend { background: #fff; padding: 6px 8px; font: 12px sans-serif; box-shadow: 0 0 4px #888; }
.nco-legend i { display: inline-block; width: 14px; height: 4px; margin-right: 6px; vertical-align: middle; }
</style>
<script>__LEAFLET_JS__</script>
</head><body><div id="map"></div>
<script>
const data = __DATA__;
const map = L.map("map");
if (data.tiles && navigator.onLine) {
  L.tileLayer(data.tiles, {maxZoom: 19, attribution: data.attribution}).addTo(map);
}
data.routes.forEach(function (route) {
  L.polyline(route.line, {color: route.colour, weight: 4, opacity: 0.85, className: "nco-route"})
    .bindPopup(route.popup).addTo(map);
  route.stops.forEach(function (stop) {
    const icon = L.divIcon({className: "nco-stop", iconSize: [22, 22],
                            html: '<span style="background:' + route.colour + '">' + stop.n + "</span>"});
    L.marker(stop.latlon, {icon: icon, title: stop.title}).bindPopup(stop.popup).addTo(map);
  });
});
data.depots.forEach(function (depot) {
  L.marker(depot.latlon, {icon: L.divIcon({className: "nco-depot", iconSize: [22, 22], html: "<span></span>"}),
                          zIndexOffset: 1000}).bindPopup(depot.popup).addTo(map);
});
data.unassigned.forEach(function (job) {
  L.circleMarker(job.latlon, {radius: 7, color: "#000", weight: 2, fillColor: "#fff", fillOpacity: 1,
                              className: "nco-unassigned"}).bindPopup(job.popup).addTo(map);
});
const legend = L.control({position: "topright"});
legend.onAdd = function () {
  const box = L.DomUtil.create("div", "nco-legend");
  box.innerHTML = data.legend;
  return box;
};
legend.addTo(map);
map.fitBounds(data.bounds, {padding: [24, 24]});
</script></body></html>
"""


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no "</script>" or "<!--" can come from a user's ids."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def map(
    problem: Problem,
    solution: Solution,
    path: str | Path,
    lines: Sequence[np.ndarray] | None = None,
    *,
    tiles: bool = True,
) -> Path:
    """Write the interactive map: one colour per route, numbered stops (popup: id, arrival, load),
    depots as black squares, unassigned jobs as white circles, a legend. ``tiles=False`` never asks
    for OpenStreetMap tiles (the page then makes no request at all)."""
    layers = _layers(problem, solution, lines)
    routes = []
    for route in layers["routes"]:
        stops = [
            {
                "n": s["n"],
                "latlon": s["latlon"],
                "title": f"{s['n']}: {s['id']}",
                "popup": _popup(
                    ("job", s["id"]),
                    ("vehicle", route["vehicle"]),
                    ("stop", s["n"]),
                    ("arrival", clock(s["arrival"])),
                    ("service", f"{s['service']} s"),
                    ("load after", s["load"]),
                ),
            }
            for s in route["stops"]
        ]
        routes.append(
            {
                "line": route["line"],
                "colour": route["colour"],
                "stops": stops,
                "vehicle": route["vehicle"],
                "popup": _popup(
                    ("vehicle", route["vehicle"]),
                    ("jobs", len(stops)),
                    ("distance", f"{route['distance'] / 1000:.2f} km"),
                    ("driving", clock(route["duration"])),
                    ("cost", f"{route['cost']:.6g}"),
                ),
            }
        )
    summary = layers["summary"]
    legend = "".join(
        f'<div><i style="background:{r["colour"]}"></i>vehicle {html.escape(str(r["vehicle"]))} '
        f"({len(r['stops'])} jobs)</div>"
        for r in routes
    )
    legend += (
        f"<div><b>cost</b> {summary['cost']:.6g}, {summary['unassigned']} unassigned, "
        f"{'feasible' if layers['feasible'] else 'INFEASIBLE'}</div>"
    )
    points = (
        [p for r in layers["routes"] for p in r["line"]]
        + layers["depots"]
        + [u["latlon"] for u in layers["unassigned"]]
    )
    array = np.asarray(points, dtype=float)
    data = {
        "routes": routes,
        "legend": legend,
        "tiles": TILES if tiles else None,
        "attribution": ATTRIBUTION,
        "depots": [{"latlon": d, "popup": _popup(("depot", f"{d[0]:.6f}, {d[1]:.6f}"))} for d in layers["depots"]],
        "unassigned": [
            {"latlon": u["latlon"], "popup": _popup(("unassigned job", u["id"]))} for u in layers["unassigned"]
        ],
        "bounds": [array.min(axis=0).tolist(), array.max(axis=0).tolist()],
    }
    page = (
        PAGE.replace("__TITLE__", html.escape(f"nco: {problem.name}"))
        .replace("__LEAFLET_CSS__", (ASSETS / "leaflet.css").read_text())
        .replace("__LEAFLET_JS__", (ASSETS / "leaflet.js").read_text())
        .replace("__DATA__", _script_json(data))
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    return path


# -- PNG ----------------------------------------------------------------------------------------
def png(
    problem: Problem, solution: Solution, path: str | Path, lines: Sequence[np.ndarray] | None = None, *, dpi: int = 150
) -> Path:
    """A static picture for reports: the routes (lon, lat with the local aspect), numbered stops,
    depots and unassigned jobs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = _layers(problem, solution, lines)
    figure, axes = plt.subplots(figsize=(8, 8))
    try:
        for route in layers["routes"]:
            line = np.asarray(route["line"])
            axes.plot(line[:, 1], line[:, 0], color=route["colour"], linewidth=1.8, label=f"vehicle {route['vehicle']}")
            for stop in route["stops"]:
                axes.scatter(
                    stop["latlon"][1], stop["latlon"][0], s=60, color=route["colour"], edgecolors="white", zorder=3
                )
                axes.annotate(
                    str(stop["n"]),
                    (stop["latlon"][1], stop["latlon"][0]),
                    ha="center",
                    va="center",
                    fontsize=5,
                    color="white",
                    zorder=4,
                )
        depots = np.asarray(layers["depots"])
        axes.scatter(depots[:, 1], depots[:, 0], marker="s", s=90, color="black", zorder=5, label="depot")
        if layers["unassigned"]:
            missing = np.asarray([u["latlon"] for u in layers["unassigned"]])
            axes.scatter(missing[:, 1], missing[:, 0], marker="x", s=60, color="black", zorder=5, label="unassigned")
        axes.set_aspect(1 / np.cos(np.radians(float(depots[:, 0].mean()))))
        axes.set_xlabel("longitude")
        axes.set_ylabel("latitude")
        summary = layers["summary"]
        axes.set_title(
            f"{problem.name}: {summary['routes']} routes, cost {summary['cost']:.6g}, "
            f"{summary['unassigned']} unassigned",
            fontsize=10,
        )
        axes.legend(fontsize=7, loc="best")
        path = Path(path)
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(figure)
    return path
