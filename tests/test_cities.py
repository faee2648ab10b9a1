"""Shipped and user-built city pools: files, precision, split, listing and fast loading."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from envs.cities import city_infos, list_cities, load_city, save_city, shipped_dir
from nco.cli import main as cli

MB = 1e6


@pytest.fixture(autouse=True)
def no_user_pools(tmp_path_factory, monkeypatch):
    """Pools the user built on this machine must not change what the shipped-pool tests see."""
    monkeypatch.setenv("NCO_DATA_DIR", str(tmp_path_factory.mktemp("user-data")))


@pytest.fixture(scope="module")
def split() -> dict:
    return json.loads((shipped_dir() / "split.json").read_text())


def test_shipped_pools_cover_many_places():
    infos = city_infos("all")
    places = {info.place for info in infos}
    assert len(places) >= 30, sorted(places)
    total = sum(info.path.stat().st_size for info in infos)
    assert total < 60 * MB, f"data/cities holds {total / MB:.1f} MB"


def test_split_is_by_place_and_spans_continents(split):
    train, test = set(split["train"]), set(split["test"])
    assert not train & test
    assert len(test) >= 0.2 * len(train | test)
    assert len({split["continent"][place] for place in test}) > 1
    for info in city_infos("all"):
        assert info.split == ("test" if info.place in test else "train")
    test_names = set(list_cities("test"))
    assert test_names and not test_names & set(list_cities("train"))
    assert {load_city(name).meta["place"] for name in test_names} <= test


def test_every_shipped_pool_is_a_valid_strongly_connected_pool():
    for info in city_infos("all"):
        city = load_city(info.name)
        m = city.size
        assert m == info.points == city.meta["points"] >= 100
        assert city.points.shape == (m, 2) and city.distance.shape == city.duration.shape == (m, m)
        off = ~np.eye(m, dtype=bool)
        assert (np.diag(city.distance) == 0).all() and (np.diag(city.duration) == 0).all()
        # every ordered pair is routed and distinct points are apart: no zero, no missing cell
        assert (city.distance[off] > 0).all() and (city.duration[off] > 0).all(), info.name
        assert not np.allclose(city.distance, city.distance.T), info.name
        minlon, minlat, maxlon, maxlat = city.meta["bbox"]
        assert (city.points[:, 0] >= minlat).all() and (city.points[:, 0] <= maxlat).all()
        assert (city.points[:, 1] >= minlon).all() and (city.points[:, 1] <= maxlon).all()
        assert "OpenStreetMap contributors" in city.meta["attribution"]
        assert len(city.meta["source_sha256"]) == 64 and city.meta["osrm_version"]
        # a 3 km window: plausible urban travel, minutes and km
        assert city.distance.max() < 60 and city.duration.max() < 120, info.name


def test_load_city_is_cached_and_read_only():
    name = list_cities("train")[0]
    first = load_city(name)
    start = time.perf_counter()
    again = load_city(name)
    assert time.perf_counter() - start < 0.05
    assert again is first
    with pytest.raises(ValueError):
        first.distance[0, 1] = 1.0


def test_save_load_round_trip_precision(tmp_path):
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(43.7, 43.8, 6), rng.uniform(7.4, 7.5, 6)])
    distance_m = rng.integers(1, 4000, (6, 6))
    duration_ds = rng.integers(1, 90000, (6, 6))  # > 65535: needs uint32
    np.fill_diagonal(distance_m, 0)
    np.fill_diagonal(duration_ds, 0)
    path = save_city("tiny", points, distance_m, duration_ds, {"place": "nowhere"}, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.npz"]
    with np.load(path) as raw:
        assert raw["distance_m"].dtype == np.uint16 and raw["duration_ds"].dtype == np.uint32
    city = load_city(str(path))
    assert city.name == "tiny" and city.meta["place"] == "nowhere" and city.meta["points"] == 6
    np.testing.assert_allclose(city.points, points, atol=5e-7)
    np.testing.assert_allclose(city.distance, distance_m / 1000)
    np.testing.assert_allclose(city.duration, duration_ds / 600)


def test_user_pools_are_listed_separately(tmp_path, monkeypatch):
    monkeypatch.setenv("NCO_DATA_DIR", str(tmp_path))
    zero = np.zeros((2, 2), dtype=np.int64)
    save_city("mine", np.array([[1.0, 2.0], [1.1, 2.1]]), zero + 5, zero + 7, {"place": "home"})
    assert list_cities("user") == ["mine"]
    assert "mine" in list_cities("all") and "mine" not in list_cities("train")
    assert load_city("mine").size == 2
    shipped = list_cities("train")[0]
    save_city(shipped, np.array([[1.0, 2.0], [1.1, 2.1]]), zero + 5, zero + 7, {"place": "home"})
    assert load_city(shipped).size == 2  # the user's pool shadows the shipped one ...
    assert shipped not in list_cities("train") and shipped in list_cities("user")  # ... in listings too


def test_bad_names_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="unknown city 'atlantis'; available: .*porto"):
        load_city("atlantis")
    with pytest.raises(ValueError, match="split 'val'"):
        list_cities("val")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz: not a valid city pool"):
        load_city(str(bad))
    with pytest.raises(ValueError, match="plain file name"):
        save_city("../x", np.zeros((1, 2)), np.zeros((1, 1)), np.zeros((1, 1)), {}, tmp_path)


def test_cli_lists_every_shipped_city(capsys):
    assert cli(["data", "cities"]) == 0
    out = capsys.readouterr().out
    for info in city_infos("all"):
        line = next(line for line in out.splitlines() if line.split()[:1] == [info.name])
        assert line.split()[1:3] == [str(info.points), info.split]
    assert cli(["data", "cities", "--split", "test"]) == 0
    assert f"{len(list_cities('test'))} pools (test)" in capsys.readouterr().out
