"""The OSRM pipeline against a real osrm-routed on loopback, on the real Monaco extract."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import threading
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from envs.cities import load_city
from envs.osrm.binaries import OSRMUnavailable, find_tools
from envs.osrm.build import OSRMBuildError, build_dataset
from envs.osrm.client import OSRMClient, OSRMError
from envs.osrm.pipeline import PoolRequest, build_pools
from envs.osrm.pool import NoRoadsError, sample_pool
from envs.osrm.sampling import dense_windows, node_seeds, parse_bbox, road_nodes, uniform_seeds
from envs.osrm.server import serve
from envs.osrm.testdata import monaco_pbf
from nco.cli import main as cli

SHARED_MONACO = Path(__file__).resolve().parents[2] / "shared" / "osm" / "monaco_monaco.osm.pbf"
SEA = (7.45, 43.69, 7.47, 43.70)  # Mediterranean south of Monaco: no road


@pytest.fixture(scope="session")
def tools():
    try:
        return find_tools()
    except OSRMUnavailable as error:
        pytest.skip(f"OSRM tools unavailable: {error}")


@pytest.fixture(scope="session")
def monaco(tools) -> Path:
    """The sdist's Monaco extract, as a fresh machine gets it; the shared copy if PyPI is unreachable."""
    try:
        return monaco_pbf()
    except RuntimeError as error:
        if SHARED_MONACO.is_file():
            return SHARED_MONACO
        pytest.skip(f"no Monaco extract: sdist download failed ({error}) and {SHARED_MONACO} is absent")


@pytest.fixture(scope="session")
def dataset(monaco, tools):
    return build_dataset(monaco, tools)  # cached by sha256 in the user cache: later sessions reuse it


@pytest.fixture(scope="session")
def server(dataset, tools):
    with serve(dataset, tools) as running:
        yield running
    assert running.process.poll() is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a reaped child is gone; an unreaped zombie would still answer, so check its state
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_tools_run(tools):
    assert tools.version.count(".") == 2
    assert tools.profile("car").is_file()


def test_end_to_end_monaco(dataset, tools, tmp_path):
    with serve(dataset, tools) as server:
        pid = server.process.pid
        client = OSRMClient(server.url)
        nodes = road_nodes(dataset.base)
        (bbox,) = dense_windows(nodes, count=1)
        pool = sample_pool(client, bbox, 50, node_seeds(nodes, bbox), np.random.default_rng(0))
        distance, duration = client.table(pool.points)
    assert not _alive(pid), "osrm-routed must be stopped when the with-block ends"

    assert pool.points.shape == (50, 2) and len({tuple(p) for p in pool.points}) == 50
    assert np.isfinite(distance).all() and np.isfinite(duration).all()
    assert (np.diag(distance) == 0).all() and (np.diag(duration) == 0).all()
    off = ~np.eye(50, dtype=bool)
    assert (duration[off] > 0).all() and (distance[off] > 0).all()
    assert not np.allclose(distance, distance.T) and not np.allclose(duration, duration.T)  # one-way streets
    # the pool stores the same table at 1 m / 0.1 s
    assert np.abs(pool.distance_m - distance).max() <= 0.5
    assert np.abs(pool.duration_ds - duration * 10).max() <= 0.5 + 1e-6
    minlon, minlat, maxlon, maxlat = bbox
    assert (pool.points[:, 0] >= minlat).all() and (pool.points[:, 1] <= maxlon).all()


def test_build_pool_files_and_read_back(server, tmp_path):
    nodes = road_nodes(server.dataset.base)
    provenance = {"source_file": "monaco.osm.pbf", "source_sha256": server.dataset.sha256}
    a, b = build_pools(
        OSRMClient(server.url),
        [PoolRequest("m1", 40, seed=1), PoolRequest("m2", 30, seed=2)],
        provenance,
        nodes=nodes,
        out=tmp_path,
    )
    city = load_city(str(a))
    assert city.size == 40 and city.meta["source_sha256"] == server.dataset.sha256
    assert "OpenStreetMap contributors" in city.meta["attribution"]
    ba, bb = city.meta["bbox"], load_city(str(b)).meta["bbox"]
    assert ba[2] <= bb[0] or bb[2] <= ba[0] or ba[3] <= bb[1] or bb[3] <= ba[1], "windows must be disjoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m1.npz", "m2.npz"]  # no temp files left


def test_table_tiles_match_one_request(server):
    client = OSRMClient(server.url)
    points = road_nodes(server.dataset.base)[::400][:41]
    whole = client.table(points)
    tiled = OSRMClient(server.url, block=8).table(points)  # 6 x 6 tiles, last one 1 x 1
    np.testing.assert_array_equal(whole[0], tiled[0])
    np.testing.assert_array_equal(whole[1], tiled[1])


def test_pool_over_the_whole_extract_is_fully_routed(server):
    """The whole extract (border-clipped roads, tunnels) rather than the dense window: still no unrouted pair."""
    client = OSRMClient(server.url)
    nodes = road_nodes(server.dataset.base)
    bbox = (nodes[:, 1].min(), nodes[:, 0].min(), nodes[:, 1].max(), nodes[:, 0].max())
    pool = sample_pool(client, bbox, 120, node_seeds(nodes, bbox), np.random.default_rng(3))
    distance, duration = client.table(pool.points)
    assert np.isfinite(distance).all() and np.isfinite(duration).all()


def test_cli_build_city_and_list(monaco, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NCO_DATA_DIR", str(tmp_path))
    assert cli(["data", "build-city", "--pbf", str(monaco), "--name", "mc", "--points", "25"]) == 0
    assert (tmp_path / "cities" / "mc.npz").is_file()
    assert load_city("mc").size == 25
    capsys.readouterr()
    assert cli(["data", "cities", "--split", "user"]) == 0
    out = capsys.readouterr().out
    assert "mc" in out and " 25 " in out and "1 pools" in out


def test_cli_osrm_url_needs_bbox(server, tmp_path, capsys):
    code = cli(["data", "build-city", "--osrm-url", server.url, "--name", "x", "--points", "5", "--out", str(tmp_path)])
    assert code == 2 and "--bbox is required" in capsys.readouterr().err


def test_cli_osrm_url_with_bbox(server, dataset, tmp_path):
    nodes = road_nodes(dataset.base)
    minlon, minlat, maxlon, maxlat = dense_windows(nodes, count=1)[0]
    bbox = f"{minlon},{minlat},{maxlon},{maxlat}"
    assert (
        cli(
            [
                "data",
                "build-city",
                "--osrm-url",
                server.url,
                "--name",
                "remote",
                "--points",
                "20",
                "--bbox",
                bbox,
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    city = load_city(str(tmp_path / "remote.npz"))
    assert city.size == 20 and city.meta["osrm_url"] == server.url


def test_server_killed_mid_build(dataset, tools, tmp_path):
    with serve(dataset, tools) as server:
        nodes = road_nodes(dataset.base)

        def kill_at_first_progress(stage: str, done: int, total: int) -> None:
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()

        client = OSRMClient(server.url, retries=2, backoff=0.05)
        with pytest.raises(OSRMError, match="not reachable"):
            build_pools(
                client, [PoolRequest("dead", 40)], {}, nodes=nodes, out=tmp_path, progress=kill_at_first_progress
            )
    assert list(tmp_path.iterdir()) == [], "no partial pool file"


def test_dead_server_is_a_clear_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OSRMClient(f"http://127.0.0.1:{port}", retries=1, backoff=0.01)
    with pytest.raises(OSRMError, match=f"127.0.0.1:{port} is not reachable after 2 attempts"):
        client.table(np.array([[43.73, 7.42], [43.74, 7.43]]))


def test_osrm_error_code_is_reported(server):
    with pytest.raises(OSRMError, match="InvalidOptions"):
        OSRMClient(server.url).nearest(np.array([[95.0, 7.42]]))  # latitude out of range


def test_corrupted_pbf(monaco, tools, tmp_path):
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(monaco.read_bytes()[:300_000])
    with pytest.raises(OSRMBuildError, match="osrm-extract failed on .*broken.osm.pbf.*PBF error"):
        build_dataset(broken, tools)
    with pytest.raises(FileNotFoundError, match="missing.osm.pbf"):
        build_dataset(tmp_path / "missing.osm.pbf", tools)


def test_bbox_without_roads(server, tmp_path):
    nodes = road_nodes(server.dataset.base)
    with pytest.raises(NoRoadsError, match="no drivable road"):
        build_pools(OSRMClient(server.url), [PoolRequest("sea", 10, SEA)], {}, nodes=nodes, out=tmp_path)
    with pytest.raises(NoRoadsError, match="no drivable road"):  # remote servers: uniform seeds, far snaps
        sample_pool(OSRMClient(server.url), SEA, 10, uniform_seeds(SEA), np.random.default_rng(0))
    assert list(tmp_path.iterdir()) == []


def test_too_many_points_for_the_bbox(server):
    nodes = road_nodes(server.dataset.base)
    tiny = (7.4190, 43.7380, 7.4200, 43.7388)  # ~80 x 90 m
    with pytest.raises(NoRoadsError, match="only .* distinct, mutually reachable road points"):
        sample_pool(OSRMClient(server.url), tiny, 200, node_seeds(nodes, tiny), np.random.default_rng(0))


def test_keyboard_interrupt_stops_server(dataset, tools):
    with pytest.raises(KeyboardInterrupt):
        with serve(dataset, tools) as server:
            pid = server.process.pid
            raise KeyboardInterrupt
    assert not _alive(pid)


def test_dense_windows_are_disjoint_and_dense():
    rng = np.random.default_rng(0)
    lat0, lon0 = 45.0, 9.0
    sparse = np.column_stack([rng.uniform(lat0, lat0 + 0.3, 3000), rng.uniform(lon0, lon0 + 0.3, 3000)])
    hot = np.column_stack([rng.normal(lat0 + 0.1, 0.004, 2000), rng.normal(lon0 + 0.2, 0.004, 2000)])
    windows = dense_windows(np.concatenate([sparse, hot]), count=4)
    assert len(windows) == 4
    minlon, minlat, maxlon, maxlat = windows[0]
    assert minlat < lat0 + 0.1 < maxlat and minlon < lon0 + 0.2 < maxlon
    assert abs((maxlat - minlat) * 111.19 - 3.0) < 0.01
    for k, a in enumerate(windows):
        for b in windows[k + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_parse_bbox_errors():
    assert parse_bbox("7.4,43.7,7.5,43.8") == (7.4, 43.7, 7.5, 43.8)
    with pytest.raises(ValueError, match="four numbers"):
        parse_bbox("7.4,43.7,7.5")
    with pytest.raises(ValueError, match="minlon < maxlon"):
        parse_bbox("7.5,43.7,7.4,43.8")


def test_mutually_reachable_keeps_the_largest_strong_component():
    from envs.osrm.pool import _distinct, _mutually_reachable

    # 0,1,2 reach each other; 3 is reachable but cannot leave (one-way trap); 4 is isolated
    routed = np.eye(5, dtype=bool)
    routed[np.ix_([0, 1, 2], [0, 1, 2, 3])] = True
    np.testing.assert_array_equal(_mutually_reachable(routed), [True, True, True, False, False])
    # points 1 and 3 snapped to the same spot (0 m apart at stored precision): the later one goes
    distance = np.full((4, 4), 100)
    np.fill_diagonal(distance, 0)
    distance[3, 1] = 0
    np.testing.assert_array_equal(_distinct(distance, distance), [True, True, True, False])


HELSINKI = Path(__file__).resolve().parents[2] / "shared" / "osm" / "helsinki_finland.osm.pbf"


@pytest.mark.skipif(not HELSINKI.is_file(), reason=f"{HELSINKI} absent")
def test_fragmented_extract_gives_a_connected_pool(tools, tmp_path):
    """Helsinki's clipped extract leaves most random point pairs unrouted; the pool must drop and re-sample."""
    with serve(build_dataset(HELSINKI, tools), tools) as server:
        client = OSRMClient(server.url)
        nodes = road_nodes(server.dataset.base)
        raw = client.table(client.nearest(nodes[np.random.default_rng(0).integers(len(nodes), size=60)])[0])[0]
        assert np.isnan(raw).any(), "premise: the extract is fragmented"
        (bbox,) = dense_windows(nodes, count=1)
        pool = sample_pool(client, bbox, 150, node_seeds(nodes, bbox), np.random.default_rng(0))
        distance, duration = client.table(pool.points)
    assert len(pool.points) == 150 and np.isfinite(distance).all() and np.isfinite(duration).all()


# -- malformed replies, served by a real HTTP server on loopback --------------------------------
class _Replies(http.server.BaseHTTPRequestHandler):
    """Answers /nearest by snapping a point onto itself and /table with straight-line distances
    (10 m/s), unless the test sets ``broken_table`` / ``broken_nearest`` to a reply to send instead;
    the first ``failures`` requests get HTTP 503."""

    broken_table: object = None
    broken_nearest: object = None
    failures = 0
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        url = urllib.parse.urlsplit(self.path)
        type(self).requests.append(url.path)
        if len(self.requests) <= self.failures:
            self.send_error(503, "scripted failure")
            return
        service, coordinates = url.path.split("/")[1], url.path.split("/")[-1]
        lonlat = np.array([[float(v) for v in pair.split(",")] for pair in coordinates.split(";")])
        query = urllib.parse.parse_qs(url.query)
        if service == "nearest":
            reply = self.broken_nearest or {"code": "Ok", "waypoints": [{"location": list(lonlat[0]), "distance": 0}]}
        else:
            pick = lambda key: [int(i) for i in query[key][0].split(";")] if key in query else range(len(lonlat))  # noqa: E731
            a, b = lonlat[list(pick("sources"))], lonlat[list(pick("destinations"))]
            metres = 111_195 * np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1)) * 1.3
            metres += 7 * (np.arange(len(a))[:, None] < np.arange(len(b))[None, :])  # asymmetric
            reply = self.broken_table or {
                "code": "Ok",
                "distances": metres.tolist(),
                "durations": (metres / 10).tolist(),
            }
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def replies():
    """A loopback HTTP server speaking OSRM's /nearest and /table; yields (url, handler class)."""
    handler = type("Handler", (_Replies,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


POINTS = np.array([[43.731, 7.421], [43.733, 7.424], [43.736, 7.419]])
BBOX = "7.415,43.728,7.430,43.740"


@pytest.mark.parametrize(
    "reply, problem",
    [
        (
            {"code": "Ok", "distances": [[1.0]], "durations": [[1.0]]},
            r"'distances' must be 3 rows of 3 values, got 1 rows",
        ),
        (
            {"code": "Ok", "distances": [[0, -5, 1], [1, 0, 1], [1, 1, 0]], "durations": [[0, 1, 1]] * 3},
            r"1 negative distances in a 3 x 3 table \(first: 'distances'\[0\]\[1\] = -5\); more than 1%",
        ),
        (
            {"code": "Ok", "distances": [[0, 1, 1]] * 3, "durations": [[0, -5, 1]] * 3},
            r"'durations'\[0\]\[1\] = -5 is not in",
        ),
        (
            {"code": "Ok", "distances": [[0, 1e12, 1], [1, 0, 1], [1, 1, 0]], "durations": [[0, 1, 1]] * 3},
            r"'distances'\[0\]\[1\] = 1e\+12 is not in",
        ),
        (
            {"code": "Ok", "distances": [[0, 1, 1]] * 3, "durations": [[0, float("inf"), 1]] * 3},
            r"'durations'\[0\]\[1\] = inf",
        ),
        ({"code": "Ok", "distances": [[0, "x", 1]] * 3, "durations": [[0, 1, 1]] * 3}, r"'distances' holds 'x'"),
        ({"code": "Ok", "distances": [[0, True, 1]] * 3, "durations": [[0, 1, 1]] * 3}, r"'distances' holds True"),
        ({"code": "Ok", "distances": [[0, 1, 1]] * 3}, r"'durations' must be 3 rows of 3 values, got NoneType"),
        ([1, 2, 3], r"answered a JSON list, not an object"),
    ],
)
def test_malformed_table_replies_are_clear_errors(replies, reply, problem):
    url, handler = replies
    handler.broken_table = reply
    with pytest.raises(OSRMError, match=rf"OSRM (table at {url}: )?.*{problem}"):
        OSRMClient(url, retries=0).table(POINTS)


def test_transient_server_errors_are_retried(replies):
    url, handler = replies
    handler.failures = 2
    distance, _ = OSRMClient(url, retries=2, backoff=0.01).table(POINTS)
    assert len(handler.requests) == 3 and np.isfinite(distance).all()
    handler.requests.clear()
    with pytest.raises(OSRMError, match=rf"OSRM server at {url} answered HTTP 503 after 2 attempts"):
        OSRMClient(url, retries=1, backoff=0.01).table(POINTS)
    assert len(handler.requests) == 2


def test_a_rare_negative_distance_is_unknown_not_wrapped(replies):
    """OSRM's table service sometimes answers a negative distance (osrm-backend #5855): NaN, never 2**32 - 1."""
    url, handler = replies
    points = np.column_stack([np.linspace(43.73, 43.74, 12), np.linspace(7.42, 7.43, 12)])
    distances = (1 + np.arange(144.0).reshape(12, 12)) * (1 - np.eye(12))
    distances[3, 7] = -0.9  # one pair in 144: under 1 %
    handler.broken_table = {"code": "Ok", "distances": distances.tolist(), "durations": (distances**2).tolist()}
    distance, duration = OSRMClient(url, retries=0).table(points)
    assert np.isnan(distance[3, 7]) and np.isnan(distance).sum() == 1 and duration[3, 7] == pytest.approx(0.81)


def test_unroutable_pairs_stay_nan_for_the_pool_to_drop(replies):
    url, handler = replies
    handler.broken_table = {
        "code": "Ok",
        "distances": [[0, None, 5], [4, 0, 5], [5, 5, 0]],
        "durations": [[0, 1, 1], [1, 0, None], [1, 1, 0]],
    }
    distance, duration = OSRMClient(url, retries=0).table(POINTS)
    assert np.isnan(distance[0, 1]) and np.isnan(duration[1, 2]) and np.isfinite(distance[1, 0])


@pytest.mark.parametrize(
    "reply, problem",
    [
        ({"code": "Ok"}, "expected waypoints"),
        ({"code": "Ok", "waypoints": []}, "expected waypoints"),
        ({"code": "Ok", "waypoints": [{"location": [7.4], "distance": 1}]}, "expected waypoints"),
        ({"code": "Ok", "waypoints": [{"location": ["7.4", "43.7"], "distance": 1}]}, "expected waypoints"),
        ({"code": "Ok", "waypoints": [{"location": [7.4, 43.7]}]}, "expected waypoints"),
        ({"code": "Ok", "waypoints": [{"location": [7.4, 95.0], "distance": 1}]}, "not a place on Earth"),
        ({"code": "Ok", "waypoints": [{"location": [7.4, 43.7], "distance": -1}]}, "not a place on Earth"),
    ],
)
def test_malformed_nearest_replies_are_clear_errors(replies, reply, problem):
    url, handler = replies
    handler.broken_nearest = reply
    with pytest.raises(OSRMError, match=rf"OSRM nearest at {url}: .*{problem}"):
        OSRMClient(url, retries=0).nearest(POINTS[:1])


def test_build_city_with_a_bad_reply_saves_nothing(replies, tmp_path, capsys):
    url, handler = replies
    args = ["data", "build-city", "--osrm-url", url, "--points", "6", "--bbox", BBOX, "--out", str(tmp_path)]
    assert cli([*args, "--name", "good"]) == 0  # the well-formed replies make a pool
    city = load_city(str(tmp_path / "good.npz"))
    assert city.size == 6 and (city.distance[~np.eye(6, dtype=bool)] > 0).all()
    handler.broken_table = {"code": "Ok", "distances": [[1.0]], "durations": [[1.0]]}
    assert cli([*args, "--name", "bad"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "nco data build-city: error: OSRM table at" in error and "must be" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.npz"], "a bad reply must leave no pool and no temp file"


def test_build_city_refuses_a_path_as_name_before_any_request(replies, tmp_path, capsys):
    url, handler = replies
    for name in ("../evil", "a/b", "..", ".hidden", ""):
        with pytest.raises(SystemExit) as done:
            cli(
                [
                    "data",
                    "build-city",
                    "--osrm-url",
                    url,
                    "--name",
                    name,
                    "--points",
                    "6",
                    "--bbox",
                    BBOX,
                    "--out",
                    str(tmp_path / "pools"),
                ]
            )
        assert done.value.code == 2
        assert "must be a plain file name" in capsys.readouterr().err
    assert handler.requests == [] and not (tmp_path / "pools").exists() and not (tmp_path / "evil.npz").exists()
