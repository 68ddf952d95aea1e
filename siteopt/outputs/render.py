"""The one Jinja2 environment of siteopt: every HTML page is a template in ``templates/``.

Autoescaping is on for ``.html`` templates, so any value from the data is escaped unless it is
explicitly marked safe (:class:`markupsafe.Markup`: inline CSS and JavaScript read from
``templates/``, JSON made safe for ``<script>``, the ``inline`` filter's ``<strong>``). Values are
escaped with :func:`html.escape` (``'`` -> ``&#x27;``, ``"`` -> ``&quot;``) before Jinja2 sees
them, which keeps the bytes of the pages siteopt wrote before it used templates.
"""

from __future__ import annotations

import html
import re
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

__all__ = ["Markup", "environment", "inline", "render", "static_text"]

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def escape(value: Any) -> Markup:
    """``value`` as escaped HTML text (``Markup`` passes unchanged)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def inline(text: str, link: str = "") -> Markup:
    """Plain text escaped, then ``**bold**`` as ``<strong>`` (the only inline markup).

    ``link``: the first mention of this file name becomes a relative link to it.
    """
    out = _BOLD.sub(r"<strong>\1</strong>", html.escape(text, quote=True))
    if link:
        name = html.escape(link, quote=True)
        out = out.replace(name, f'<a href="{name}">{name}</a>', 1)
    return Markup(out)


@cache
def environment() -> jinja2.Environment:
    """The environment: templates of ``siteopt.outputs``, autoescape on for HTML."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("siteopt.outputs", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=escape,
    )
    env.filters["inline"] = inline
    return env


def render(name: str, **values: Any) -> str:
    """Render template ``name`` (e.g. ``report.html``) with ``values``."""
    return environment().get_template(name).render(**values)


def static_text(name: str) -> Markup:
    """A file of ``templates/`` (CSS or JavaScript) to inline as is."""
    path = resources.files("siteopt.outputs").joinpath(f"templates/{name}")
    return Markup(path.read_text("utf-8"))
