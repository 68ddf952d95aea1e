"""A small document model rendered to Markdown and to self-contained HTML with the same content.

Every text comes in as plain text. The HTML renderer escapes it, so names from data can never
inject markup there (the only inline markup is ``**bold**``, applied after escaping); Markdown
keeps the text exactly as in the data.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_BOLD = re.compile(r"\*\*(.+?)\*\*")


@dataclass
class Heading:
    """A section heading (level 1-3)."""

    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    """A paragraph of plain text (``**bold**`` allowed)."""

    text: str
    css: str = ""


@dataclass
class Bullets:
    """A bulleted list; an item may carry sub-items."""

    items: Sequence[str | tuple[str, list[str]]]


@dataclass
class Table:
    """A table of plain-text cells; ``align`` holds ``l`` or ``r`` per column."""

    header: list[str]
    rows: list[list[str]]
    align: str = ""
    caption: str = ""


@dataclass
class Pre:
    """Preformatted text (the formulation)."""

    text: str


@dataclass
class Image:
    """An image: a file name for Markdown and a data URI (or inline SVG) for HTML."""

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
            out += [_md_inline(b.text), ""]
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


def _inline(text: str) -> str:
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(text, quote=True))


def to_html(doc: Document, css: str, lang: str = "en") -> str:
    """The document as one self-contained HTML page (inline CSS, images as data URIs)."""
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(doc.title)}</title>",
        f"<style>\n{css}\n</style>",
        "</head>",
        "<body>",
        "<main>",
    ]
    for b in doc.blocks:
        if isinstance(b, Heading):
            anchor = f' id="{html.escape(b.anchor)}"' if b.anchor else ""
            out.append(f"<h{b.level}{anchor}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            css_class = f' class="{html.escape(b.css)}"' if b.css else ""
            out.append(f"<p{css_class}>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>")
            for item in b.items:
                if isinstance(item, tuple):
                    subs = "".join(f"<li>{_inline(s)}</li>" for s in item[1])
                    out.append(f"<li>{_inline(item[0])}<ul>{subs}</ul></li>")
                else:
                    out.append(f"<li>{_inline(item)}</li>")
            out.append("</ul>")
        elif isinstance(b, Table):
            align = b.align or "l" * len(b.header)
            out.append('<div class="table"><table>')
            if b.caption:
                out.append(f"<caption>{_inline(b.caption)}</caption>")
            cls = ['class="num"' if a == "r" else "" for a in align]
            out.append(
                "<thead><tr>"
                + "".join(
                    f"<th {c}>{_inline(h)}</th>".replace(" >", ">")
                    for h, c in zip(b.header, cls, strict=True)
                )
                + "</tr></thead><tbody>"
            )
            for row in b.rows:
                out.append(
                    "<tr>"
                    + "".join(
                        f"<td {c}>{_inline(v)}</td>".replace(" >", ">")
                        for v, c in zip(row, cls, strict=True)
                    )
                    + "</tr>"
                )
            out.append("</tbody></table></div>")
        elif isinstance(b, Pre):
            out.append(f"<pre>{html.escape(b.text.rstrip())}</pre>")
        elif isinstance(b, Image):
            src = b.data_uri or b.src
            cap = f"<figcaption>{_inline(b.caption)}</figcaption>" if b.caption else ""
            out.append(
                f'<figure><img src="{html.escape(src)}" alt="{html.escape(b.alt)}">{cap}</figure>'
            )
    out += ["</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
