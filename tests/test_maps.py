"""Maps of a plan: the HTML page rendered offline by a real headless Chromium, GeoJSON and PNG.

Chromium (Debian package ``chromium``, installed by .ci/run) runs with every network request sent to
a dead proxy, so the page must render from what it carries; the tests skip, saying why, without it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

import nco
from nco_core.vroom_io import read_vroom

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "oslo-deliveries.json"
OFFLINE = ["--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]  # port 9: nothing listens


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless Chromium (Debian package 'chromium'; .ci/run installs it)")


def browse(page: Path, *flags: str) -> subprocess.CompletedProcess:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        *OFFLINE,
        *flags,
        page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def plan():
    problem = read_vroom(EXAMPLE)
    solution = nco.solve(problem.instance, method="vroom", time_limit=1.0)
    assert solution.feasible
    return problem, solution


def test_html_map_renders_offline(plan, tmp_path):
    problem, solution = plan
    page = nco.plot.map(problem, solution, tmp_path / "routes.html")
    text = page.read_text()
    assert not re.search(r"<(script|link)[^>]+(src|href)=", text)  # nothing to fetch: scripts and styles inline
    dom = browse(page, "--virtual-time-budget=3000", "--dump-dom").stdout
    assert len(re.findall(r'<path class="nco-route leaflet-interactive"', dom)) == solution.num_routes
    served = sum(len(route) for route in solution.routes)
    assert len(re.findall(r'class="leaflet-marker-icon nco-stop', dom)) == served
    assert len(re.findall(r'class="leaflet-marker-icon nco-depot', dom)) == 1
    shot = tmp_path / "shot.png"
    browse(page, "--virtual-time-budget=3000", "--window-size=900,700", f"--screenshot={shot}")
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (700, 900)
    colours = {tuple(c) for c in (pixels.reshape(-1, 3) * 255).round().astype(int)}
    assert len(colours) > 50  # lines, numbered markers and text, not a blank page
    first = np.array([int(nco.plot.PALETTE[0][i : i + 2], 16) for i in (1, 3, 5)]) / 255
    assert (np.abs(pixels - first).max(axis=-1) < 0.05).sum() > 500  # the first route's colour is drawn


def test_map_shows_unassigned_jobs_and_escapes_ids(tmp_path):
    data = json.loads(EXAMPLE.read_text())
    data["jobs"][0]["description"] = "</script><b>x</b>"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    problem = read_vroom(path)
    served = nco.solve(problem.instance, method="vroom", time_limit=0.5)
    missing = problem.job_node(0)
    partial = nco.Solution.of(
        problem.instance, [[n for n in r if n != missing] for r in served.routes], served.vehicle_types
    )
    assert not partial.feasible  # a required job left out
    page = nco.plot.map(problem, partial, tmp_path / "m.html", tiles=False)
    dom = browse(page, "--virtual-time-budget=3000", "--dump-dom").stdout
    assert len(re.findall(r'class="nco-unassigned leaflet-interactive"', dom)) == 1
    assert "INFEASIBLE" in dom and "1 unassigned" in dom


def test_geojson_and_png(plan, tmp_path):
    problem, solution = plan
    path = nco.plot.write_geojson(problem, solution, tmp_path / "routes.geojson")
    document = json.loads(path.read_text())
    kinds = [f["properties"]["kind"] for f in document["features"]]
    assert kinds.count("route") == solution.num_routes and kinds.count("depot") == 1
    assert kinds.count("job") == sum(len(r) for r in solution.routes)
    lines = [f for f in document["features"] if f["properties"]["kind"] == "route"]
    for line, route in zip(lines, solution.routes, strict=True):
        lon, lat = np.array(line["geometry"]["coordinates"]).T
        assert len(lon) == len(route) + 2  # straight segments: depot, stops, depot
        assert 10 < lon.min() and lat.max() < 60  # GeoJSON order is [lon, lat] (Oslo: 10.8 E, 59.9 N)
    picture = nco.plot.png(problem, solution, tmp_path / "routes.png")
    pixels = image.imread(picture)
    assert pixels.shape[0] > 500 and pixels[..., :3].std() > 0.05
