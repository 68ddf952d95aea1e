"""Facility names in consistent case: ALL-CAPS names title-cased, acronyms kept.

Source lists mix ``CHARLOTTE HUNGERFORD HOSPITAL`` with ``Hartford Dispensary``. A name is
recased only when it shouts (at least two all-capital words of three or more letters that are
not known acronyms); then every all-capital word is title-cased except the acronyms of
:data:`ACRONYMS`, words in parentheses (``(ISAAC)``) and words with digits (``8W``), and short
joining words (``of``, ``and``, ``the`` ...) are lower case inside the name.
"""

from __future__ import annotations

import re

#: all-capital words kept as they are
ACRONYMS: frozenset[str] = frozenset(
    {
        "ACT",
        "AIDS",
        "APT",
        "CHC",
        "CDT",
        "CHS",
        "CT",
        "CTE",
        "DBA",
        "DMHAS",
        "FQHC",
        "HIV",
        "II",
        "III",
        "IV",
        "KLF",
        "LLC",
        "MATS",
        "NERC",
        "SBHC",
        "SDA",
        "SSP",
        "UCFS",
        "USA",
        "VA",
        "YMCA",
        "YWCA",
        "YNHH",
    }
)
_SMALL = frozenset({"a", "an", "and", "at", "by", "de", "for", "in", "of", "on", "the", "to"})
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def _shouts(text: str) -> bool:
    loud = [
        w
        for w in _WORD.findall(text)
        if len(w) >= 3 and w.isupper() and w.replace("'", "") not in ACRONYMS
    ]
    return len(loud) >= 2


def tidy_name(text: str) -> str:
    """A facility name in consistent case.

    Parameters
    ----------
    text
        The name as the source writes it.

    Returns
    -------
    str
        The name title-cased if it is written in capitals (acronyms such as YMCA, CT, APT kept),
        otherwise unchanged; runs of spaces collapsed.

    Examples
    --------
    >>> tidy_name("YALE-NEW HAVEN HOSPITAL SAINT RAPHAEL CAMPUS")
    'Yale-New Haven Hospital Saint Raphael Campus'
    >>> tidy_name("ST MARTIN DE PORRES ACADEMY")
    'St Martin de Porres Academy'
    >>> tidy_name("THE INTERDISTRICT SCHOOL FOR ARTS (ISAAC) - SBHC")
    'The Interdistrict School for Arts (ISAAC) - SBHC'
    >>> tidy_name("APT Foundation, Inc.")
    'APT Foundation, Inc.'
    """
    text = " ".join(str(text).split())
    if not _shouts(text):
        return text
    out: list[str] = []
    pos = 0
    first = True
    for m in _WORD.finditer(text):
        out.append(text[pos : m.start()])
        word = m.group(0)
        before = text[m.start() - 1] if m.start() > 0 else ""
        after = text[m.end()] if m.end() < len(text) else ""
        bare = word.replace("'", "")
        if (
            not word.isupper()
            or bare in ACRONYMS
            or (before == "(" and after == ")")
            or after.isdigit()
            or before.isdigit()
        ):
            out.append(word)
        elif not first and word.lower() in _SMALL and before == " ":
            out.append(word.lower())
        else:
            out.append(_cap(word))
        first = False
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def _cap(word: str) -> str:
    """``O'BRIEN`` -> ``O'Brien``, ``MARY'S`` -> ``Mary's``."""
    parts = word.lower().split("'")
    head = parts[0].capitalize()
    tail = [p.capitalize() if len(p) > 1 else p for p in parts[1:]]
    return "'".join([head, *tail])
