"""The web map and the report in a real browser: headless Chromium, offline, from disk.

Chromium opens ``map.html`` and ``report.html`` over file:// with every network path closed (a
dead proxy, no background networking). The page writes what it drew on ``<body>``
(``data-sites``, ``data-errors``, ``data-ready``); ``--dump-dom`` returns the DOM after the
scripts ran. Screenshots are kept under the test's tmp_path as artefacts.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections import Counter
from itertools import pairwise
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
    # the report printed by Chromium as shipped (the default paper, letter) and on A4 (a copy
    # that asks for it, as a printer set to A4 would)
    a4 = art / "report-a4.html"
    a4.write_text(page.replace("</style>", "@page { size: A4; }\n</style>", 1), encoding="utf-8")
    pdf = ["--no-pdf-header-footer", "--run-all-compositor-stages-before-draw"]
    # the print stylesheet applied on screen at A4's printable width (210 mm less the 2 x 14 mm
    # margins = 688 CSS px), measured like the 1,300 px window: needs Chromium only
    on_paper = art / "report-print-fit.html"
    on_paper.write_text(
        page.replace("@media print", "@media all").replace("</body>", FIT_SCRIPT + "</body>"),
        encoding="utf-8",
    )
    jobs = {
        "report_fit": ["--window-size=1300,900", "--dump-dom", fit.as_uri()],
        "print_letter": [
            *pdf,
            f"--print-to-pdf={art / 'letter.pdf'}",
            (out / "report.html").as_uri(),
        ],
        "print_a4": [*pdf, f"--print-to-pdf={art / 'a4.pdf'}", a4.as_uri()],
        "print_fit": ["--window-size=688,900", "--dump-dom", on_paper.as_uri()],
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
    results["out"] = (str(out), "")
    print(f"\nbrowser screenshots: {art / 'map.png'} and {art / 'report.png'}")
    return results


def _pdf_words(pdf: Path) -> tuple[tuple[float, float], str, list[tuple[float, float, str]]]:
    """The page size in points, the text (``pdftotext -layout``) and each word's right edge."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info.stdout)
    assert size is not None, info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    bbox = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    words = [(float(w), float(x), html.unescape(t)) for w, x, t in _bbox_words(bbox)]
    return (float(size.group(1)), float(size.group(2))), text, words


def _bbox_words(bbox: str) -> list[tuple[str, str, str]]:
    """(page width, word's right edge, word) from ``pdftotext -bbox`` XHTML."""
    out = []
    for page_w, body in re.findall(r'<page width="([\d.]+)"[^>]*>(.*?)</page>', bbox, flags=re.S):
        for xmax, word in re.findall(r'<word [^>]*xMax="([\d.]+)"[^>]*>([^<]*)</word>', body):
            out.append((page_w, xmax, word))
    return out


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


#: page sizes in points (width, height)
PAPER = {"letter": (612.0, 792.0), "a4": (595.28, 841.89)}


def _media_boxes(pdf: Path) -> list[tuple[float, float]]:
    """The size (points) of each page of a PDF, read from its page objects' /MediaBox."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf.read_bytes())
    return [(float(w), float(h)) for w, h in boxes]


@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_report_prints_on_letter_and_a4(browsed: dict[str, tuple[str, str]], paper: str) -> None:
    """Chromium's --print-to-pdf gives pages of the paper's size, and with the print stylesheet
    no table is wider than A4's printable width (issue 16)."""
    pdf = Path(browsed["artefacts"][0]) / f"{paper}.pdf"
    assert pdf.is_file(), browsed[f"print_{paper}"][1][-2000:]
    pages = _media_boxes(pdf)
    assert len(pages) >= 8, pages  # the whole report (17 letter pages in December 2026)
    for size in pages:
        assert size == pytest.approx(PAPER[paper], abs=1.0)
    fit = json.loads(_body(browsed["print_fit"][0])["data-fit"].replace("&quot;", '"'))
    assert fit["inner"] == 688, fit
    assert fit["tables"] >= 6, fit
    assert fit["scroll"] <= fit["inner"], fit
    assert fit["cut"] == [], fit


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (pdftotext)")
@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_printed_report_cuts_no_column(browsed: dict[str, tuple[str, str]], paper: str) -> None:
    """The printed report (Chromium's --print-to-pdf) has the paper's width, every table's last
    column header is printed, and no word lies past the page's right margin (issue 16)."""
    art = Path(browsed["artefacts"][0])
    pdf = art / f"{paper}.pdf"
    assert pdf.is_file(), browsed[f"print_{paper}"][1][-2000:]
    (w, h), text, words = _pdf_words(pdf)
    assert (w, h) == pytest.approx(PAPER[paper], abs=1.0)  # pdfinfo agrees with /MediaBox
    assert "Appendix: scenario settings" in text  # printed to the end
    md = (Path(browsed["out"][0]) / "report.md").read_text(encoding="utf-8")
    lines = md.splitlines()
    lasts = [
        line.strip().strip("|").split(" | ")[-1].strip()
        for line, nxt in pairwise(lines)
        if line.startswith("| ") and nxt.startswith("|---")
    ]
    assert len(lasts) >= 8, lasts
    printed = Counter(t for _, _, t in words)
    for last in lasts:  # every table's last column header is printed, word for word
        assert not Counter(last.split()) - printed, (paper, last)
    margin = 14 / 25.4 * 72  # the stylesheet's 14 mm side margins
    past = [(t, x) for pw, x, t in words if x > pw - margin + 1.0]
    assert past == [], past[:10]
    assert len(words) > 2000  # the whole report, not an empty page
