"""report.md and report.html of one run share one built report: the HTML fills the map and the
curve into the Markdown's document instead of building it again (the parent's report work
halved), with the same bytes as a report.html built on its own."""

from __future__ import annotations

import dataclasses

import pytest
from outputs.test_outputs import connecticut_result

import siteopt.outputs.report as report_mod
from siteopt.outputs.document import to_html
from siteopt.outputs.render import static_text
from siteopt.outputs.tables import build_tables

MAP = b"\x89PNG map bytes"
CURVE = b"\x89PNG curve bytes"


@pytest.mark.parametrize("curve", [CURVE, b"", None])
def test_report_html_after_report_md_builds_once_with_the_same_bytes(
    curve: bytes | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = connecticut_result()
    assert result.committee.curve  # the curve's image is in the report
    t = build_tables(result)
    want = to_html(
        report_mod.build_document(t, map_png=MAP, curve_png=curve), static_text("report.css")
    )
    calls = []
    real = report_mod.build_document

    def counting(*args: object, **kwargs: object) -> report_mod.Document:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(report_mod, "build_document", counting)
    report_mod.report_markdown(result, t)
    assert report_mod.report_html(result, MAP, t, curve) == want
    assert len(calls) == 1
    # another run's tables (or a second report.html) build their own
    other = dataclasses.replace(t)
    assert report_mod.report_html(result, MAP, other, curve) == want
    assert len(calls) == 2
