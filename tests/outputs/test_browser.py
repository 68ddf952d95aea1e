"""The web map and the report in a real browser: headless Chromium, offline, from disk.

Chromium opens ``map.html`` and ``report.html`` over file:// with every network path closed (a
dead proxy, no background networking). The page writes what it drew on ``<body>``
(``data-sites``, ``data-errors``, ``data-ready``); ``--dump-dom`` returns the DOM after the
scripts ran. Screenshots are kept under the test's tmp_path as artefacts.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer
from test_outputs import connecticut_outputs

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian package chromium); the browser test needs it",
)


def _flags(profile: Path, args: list[str]) -> list[str]:
    size = [] if any(a.startswith("--window-size") for a in args) else ["--window-size=1280,860"]
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--proxy-server=127.0.0.1:9",  # nothing leaves the machine
        "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={profile}",
        *size,
        "--hide-scrollbars",
        "--virtual-time-budget=3000",
        "--enable-logging=stderr",
        "--v=0",
    ]


#: measures the page: document width, window width, tables and how many pass their box's edge
FIT_SCRIPT = """<script>
(() => {
  const w = window.innerWidth;
  const tables = Array.from(document.querySelectorAll("table"));
  const cut = tables.filter((t) => {
    const r = t.getBoundingClientRect();
    const box = t.parentElement.getBoundingClientRect();
    return r.right > w + 0.5 || r.right > box.right + 0.5 || r.left < -0.5;
  }).map((t) => (t.querySelector("th") || t).textContent.trim());
  document.body.setAttribute("data-fit", JSON.stringify({
    inner: w, scroll: document.documentElement.scrollWidth, tables: tables.length, cut: cut,
  }));
})();
</script>
"""


@pytest.fixture(scope="module")
def browsed(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[str, str]]:
    """Run the five Chromium jobs at once; return (stdout, stderr) per job."""
    out = connecticut_outputs(tmp_path_factory)
    art = tmp_path_factory.mktemp("browser")
    # a copy of the report measuring its own layout at a 1,300 px window (written on <body>)
    page = (out / "report.html").read_text(encoding="utf-8")
    fit = art / "report-fit.html"
    fit.write_text(page.replace("</body>", FIT_SCRIPT + "</body>"), encoding="utf-8")
    jobs = {
        "report_fit": ["--window-size=1300,900", "--dump-dom", fit.as_uri()],
        "map_dom": ["--dump-dom", (out / "map.html").as_uri() + "#selftest"],
        "report_dom": ["--dump-dom", (out / "report.html").as_uri()],
        "map_shot": [f"--screenshot={art / 'map.png'}", (out / "map.html").as_uri()],
        "report_shot": [f"--screenshot={art / 'report.png'}", (out / "report.html").as_uri()],
    }
    procs = {
        name: subprocess.Popen(
            [str(CHROMIUM), *_flags(art / f"profile-{name}", args), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in jobs.items()
    }
    results = {}
    for name, proc in procs.items():
        try:
            so, se = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            so, se = proc.communicate()
            pytest.fail(f"Chromium timed out on {name}")
        results[name] = (so, se)
    results["artefacts"] = (str(art), "")
    print(f"\nbrowser screenshots: {art / 'map.png'} and {art / 'report.png'}")
    return results


def _body(dom: str) -> dict[str, str]:
    tag = re.search(r"<body\b([^>]*)>", dom)
    assert tag is not None, dom[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(1)))


def _console(stderr: str, page: str) -> list[str]:
    """Console messages (errors, warnings, logs) the page produced."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line and page in line]


def test_web_map_draws_the_three_sites_without_errors(browsed: dict[str, tuple[str, str]]) -> None:
    dom, err = browsed["map_dom"]
    body = _body(dom)
    assert body.get("data-ready") == "1", body
    assert body.get("data-errors") == "0", body
    assert body.get("data-sites") == "3", body
    assert _console(err, "map.html") == []
    assert 'id="layer-sites"' in dom and "<image" not in dom  # no tiles fetched


def test_web_map_projection_matches_pyproj(browsed: dict[str, tuple[str, str]]) -> None:
    body = _body(browsed["map_dom"][0])
    got = json.loads(body["data-selftest"].replace("&quot;", '"'))
    pts = [(-72.75, 40.833333333333336), (-72.690472, 41.772897), (-73.5, 41.0), (-71.8, 42.05)]
    to_6433 = Transformer.from_crs("EPSG:4326", "EPSG:6433", always_xy=True)
    for (lon, lat), g in zip(pts, got, strict=True):
        assert np.allclose(g["fwd"], to_6433.transform(lon, lat), atol=1e-3)  # millimetres
        assert np.allclose(g["inv"], (lon, lat), atol=1e-9)


def test_report_opens_offline_without_errors(browsed: dict[str, tuple[str, str]]) -> None:
    dom, err = browsed["report_dom"]
    assert '<h2 id="summary">Summary</h2>' in dom
    assert re.search(r'<img src="data:image/png;base64,', dom)
    assert _console(err, "report.html") == []


def test_screenshots_show_the_site_markers(browsed: dict[str, tuple[str, str]]) -> None:
    from PIL import Image

    art = Path(browsed["artefacts"][0])
    for name in ("map.png", "report.png"):
        assert (art / name).stat().st_size > 10_000, name
    with Image.open(art / "map.png") as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    assert rgb.shape[:2] == (860, 1280)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    marker_red = (abs(r - 215) < 25) & (abs(g - 48) < 25) & (abs(b - 31) < 25)  # #d7301f
    assert marker_red.sum() > 300  # three filled markers (plus their badges in the list)


def test_report_tables_fit_a_1300_px_window(browsed: dict[str, tuple[str, str]]) -> None:
    """No table is wider than the page or cut by its box at 1,300 px (issue 16)."""
    body = _body(browsed["report_fit"][0])
    fit = json.loads(body["data-fit"].replace("&quot;", '"'))
    assert fit["inner"] == 1300, fit
    assert fit["tables"] >= 6, fit
    assert fit["scroll"] <= fit["inner"], fit
    assert fit["cut"] == [], fit
