"""A small document model rendered to Markdown and to self-contained HTML with the same content.

Every text comes in as plain text. The HTML is rendered by the Jinja2 template
``templates/report.html`` with autoescape, so names from data can never inject markup there (the
only inline markup is ``**bold**``, applied after escaping); Markdown keeps the text exactly as in
the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from siteopt.outputs.render import Markup, render


@dataclass
class Heading:
    """A section heading (level 1-3)."""

    kind: ClassVar[str] = "heading"

    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    """A paragraph of plain text (``**bold**`` allowed).

    ``link`` names a file beside the report: its first mention in ``text`` links to it.
    """

    kind: ClassVar[str] = "para"

    text: str
    css: str = ""
    link: str = ""


@dataclass
class Bullets:
    """A bulleted list; an item may carry sub-items."""

    kind: ClassVar[str] = "bullets"

    items: Sequence[str | tuple[str, list[str]]]


@dataclass
class Table:
    """A table of plain-text cells; ``align`` holds ``l`` or ``r`` per column."""

    kind: ClassVar[str] = "table"

    header: list[str]
    rows: list[list[str]]
    align: str = ""
    caption: str = ""

    @property
    def right(self) -> list[bool]:
        """Per column, True when it is right-aligned (numbers)."""
        return [a == "r" for a in (self.align or "l" * len(self.header))]


@dataclass
class Pre:
    """Preformatted text (the formulation)."""

    kind: ClassVar[str] = "pre"

    text: str


@dataclass
class Image:
    """An image: a file name for Markdown and a data URI (or inline SVG) for HTML."""

    kind: ClassVar[str] = "image"

    src: str
    alt: str
    data_uri: str = ""
    caption: str = ""


Block = Heading | Para | Bullets | Table | Pre | Image


@dataclass
class Document:
    """A titled list of blocks."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        """Append blocks."""
        self.blocks.extend(blocks)


# --------------------------------------------------------------------------------- Markdown


def _md_inline(text: str) -> str:
    """Markdown keeps names exactly as in the data (it is read as text; ``report.html`` is the
    rendered, escaped form). Only line breaks are normalised."""
    return text


def _md_cell(text: str) -> str:
    return _md_inline(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document) -> str:
    """The document as GitHub-flavoured Markdown."""
    out: list[str] = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + _md_inline(b.text), ""]
        elif isinstance(b, Para):
            text = _md_inline(b.text)
            if b.link:
                text = text.replace(b.link, f"[{b.link}]({b.link})", 1)
            out += [text, ""]
        elif isinstance(b, Bullets):
            for item in b.items:
                if isinstance(item, tuple):
                    out.append("- " + _md_inline(item[0]))
                    out += ["  - " + _md_inline(s) for s in item[1]]
                else:
                    out.append("- " + _md_inline(item))
            out.append("")
        elif isinstance(b, Table):
            if b.caption:
                out += [_md_inline(b.caption), ""]
            align = b.align or "l" * len(b.header)
            out.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
            out.append("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
            for row in b.rows:
                out.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
            out.append("")
        elif isinstance(b, Pre):
            out += ["```text", b.text.rstrip("\n"), "```", ""]
        elif isinstance(b, Image):
            out += [f"![{_md_inline(b.alt)}]({b.src})", ""]
            if b.caption:
                out += [_md_inline(b.caption), ""]
    return "\n".join(out).rstrip("\n") + "\n"


# ------------------------------------------------------------------------------------- HTML


def to_html(doc: Document, css: str, lang: str = "en") -> str:
    """The document as one self-contained HTML page (inline CSS, images as data URIs).

    Rendered by ``templates/report.html`` with autoescape: every text is escaped.
    """
    return render("report.html", doc=doc, css=Markup(css), lang=lang)
