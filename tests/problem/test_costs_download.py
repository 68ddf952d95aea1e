"""Downloading the street network with OSMnx, against an Overpass server on 127.0.0.1.

The server answers OSMnx's status and interpreter requests with the small network of
``test_costs_network`` (whatever the query), so the downloaded costs must equal the costs read
from the same network written as an OSM XML file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import serve_http
from test_costs_network import MAIN, NODES, WAYS, node_xy, write_osm

from siteopt._errors import InputError
from siteopt.cli.main import cli
from siteopt.models.base import Pairs
from siteopt.problem.costs.network import DownloadError, network_pairs

STATUS = (
    "Connected as: 1\nCurrent time: 2026-11-28T00:00:00Z\nAnnounced endpoint: none\n"
    "Rate limit: 2\n2 slots available now.\n"
    "Currently running queries (pid, space limit, time limit, start time):\n"
)


def overpass_json() -> dict:
    elements: list[dict] = [
        {"type": "node", "id": i, "lat": lat, "lon": lon} for i, (lat, lon) in NODES.items()
    ]
    elements += [{"type": "way", "id": w, "nodes": nds, "tags": tags} for w, nds, tags in WAYS]
    return {"version": 0.6, "generator": "siteopt test", "elements": elements}


class Overpass:
    """A tiny Overpass API: ``/api/status`` and ``/api/interpreter`` (or 500 when broken)."""

    def __init__(self) -> None:
        self.interpreter_calls = 0
        self.broken = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.startswith("/api/status"):
                    self._send(200, STATUS.encode(), "text/plain")
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if not self.path.startswith("/api/interpreter"):
                    self._send(404, b"not found", "text/plain")
                    return
                outer.interpreter_calls += 1
                if outer.broken:
                    self._send(500, b"<html>overloaded</html>", "text/html")
                    return
                self._send(200, json.dumps(overpass_json()).encode(), "application/json")

        self.handler = Handler
        self.url = ""


@pytest.fixture
def overpass(local_only: None) -> Iterator[Overpass]:
    """The tiny Overpass API on 127.0.0.1; nothing else resolves during the test."""
    server = Overpass()
    with serve_http(server.handler) as base:
        server.url = f"{base}/api"
        yield server


@pytest.fixture
def osm_xml(tmp_path: Path) -> Path:
    return write_osm(tmp_path / "town.osm")


BBOX = (-72.915, 41.295, -72.895, 41.310)


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_download_equals_the_local_file_and_is_cached(
    overpass: Overpass, osm_xml: Path, tmp_path: Path, mode: str
) -> None:
    xy = node_xy(MAIN)
    local = network_pairs(xy, xy, 5000.0, source=osm_xml, mode=mode, use_cache=False)  # type: ignore[arg-type]
    cache = tmp_path / "cache"

    def download() -> Pairs:
        return network_pairs(
            xy,
            xy,
            5000.0,
            bbox=BBOX,
            allow_network=True,
            overpass_url=overpass.url,
            mode=mode,  # type: ignore[arg-type]
            cache_dir=cache,
        )

    got = download()
    assert overpass.interpreter_calls == 1
    assert np.array_equal(got.rows, local.rows) and np.array_equal(got.cols, local.cols)
    np.testing.assert_allclose(got.cost, local.cost, rtol=1e-9, atol=1e-6)
    assert list(cache.glob(f"osm-{mode}-*.graphml"))  # the graph is kept
    assert not (Path.cwd() / "cache").exists()  # OSMnx's HTTP cache is not in the cwd
    again = download()
    assert overpass.interpreter_calls == 1  # served from the cache
    np.testing.assert_array_equal(again.cost, got.cost)


def test_download_needs_permission(overpass: Overpass, tmp_path: Path) -> None:
    xy = node_xy(MAIN)
    with pytest.raises(InputError, match="network access"):
        network_pairs(xy, xy, 100.0, bbox=BBOX, overpass_url=overpass.url, cache_dir=tmp_path)
    assert overpass.interpreter_calls == 0


def test_failed_download_is_a_runtime_error(overpass: Overpass, tmp_path: Path) -> None:
    overpass.broken = True
    xy = node_xy(MAIN)
    with pytest.raises(DownloadError, match="could not download the walk street network") as e:
        network_pairs(
            xy,
            xy,
            100.0,
            bbox=BBOX,
            allow_network=True,
            overpass_url=overpass.url,
            cache_dir=tmp_path,
        )
    assert e.value.exit_code == 1
    assert not list(tmp_path.glob("osm-*.graphml"))  # nothing half-written is kept


def scenario(tmp_path: Path, network: str, extra: str = "") -> Path:
    lonlat = [(NODES[i][1], NODES[i][0]) for i in MAIN]
    pd.DataFrame(
        {"id": [f"d{i}" for i in MAIN], "lon": [p[0] for p in lonlat],
         "lat": [p[1] for p in lonlat], "deaths": [3, 1, 4, 1, 5]}
    ).to_csv(tmp_path / "demand.csv", index=False)  # fmt: skip
    pd.DataFrame(
        {"id": [f"c{i}" for i in MAIN], "lon": [p[0] for p in lonlat],
         "lat": [p[1] for p in lonlat]}
    ).to_csv(tmp_path / "candidates.csv", index=False)  # fmt: skip
    path = tmp_path / f"net_{abs(hash(network)) % 1000}.yaml"
    path.write_text(
        "name: net\n"
        "demand:\n  points: {path: demand.csv, id: id, weight: deaths}\n"
        "candidates:\n  points: {path: candidates.csv, id: id}\n"
        "  within: []\n  outside: []\n  exclusions: []\n"
        "sites: {p: 1, max_per_municipality: null}\n"
        "objective: {kind: median}\n"
        f"costs:\n  kind: network\n  network: {network}\n  mode: walk\n{extra}",
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
def test_scenario_download_key_solves_like_the_local_file(
    overpass: Overpass, osm_xml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEOPT_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    local = scenario(tmp_path, str(osm_xml))
    res = runner.invoke(cli, ["solve", str(local), "-o", str(tmp_path / "local")])
    assert res.exit_code == 0, res.output
    online = scenario(
        tmp_path, "download", f"  allow_download: true\n  overpass_url: {overpass.url}\n"
    )
    res = runner.invoke(cli, ["solve", str(online), "-o", str(tmp_path / "online")])
    assert res.exit_code == 0, res.output
    assert overpass.interpreter_calls == 1
    a = json.loads((tmp_path / "local" / "solution.json").read_text())
    b = json.loads((tmp_path / "online" / "solution.json").read_text())
    assert a["status"] == b["status"] == "optimal"
    assert a["objective"] == pytest.approx(b["objective"])
    assert [s["id"] for s in a["sites"]] == [s["id"] for s in b["sites"]]
    res = runner.invoke(cli, ["solve", str(online), "-o", str(tmp_path / "again")])
    assert res.exit_code == 0 and overpass.interpreter_calls == 1  # cached


def test_scenario_download_without_permission_is_refused(tmp_path: Path) -> None:
    path = scenario(tmp_path, "download")
    res = CliRunner().invoke(cli, ["solve", str(path), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "allow_download: true" in res.output and "Traceback" not in res.output


def test_scenario_download_failure_exits_1(
    overpass: Overpass, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEOPT_CACHE_DIR", str(tmp_path / "cache"))
    overpass.broken = True
    path = scenario(
        tmp_path, "download", f"  allow_download: true\n  overpass_url: {overpass.url}\n"
    )
    res = CliRunner().invoke(cli, ["solve", str(path), "-o", str(tmp_path / "o")])
    assert res.exit_code == 1, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1 and "could not download" in errors[0]
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()
