"""Settings in one place: the working CRS, the cache folder, time budgets, environment names.

Every module that needs one of these reads it from here; none defines its own copy.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The projected CRS every Connecticut layer is stored and measured in (NAD83(2011) /
#: Connecticut, metres).
CRS = "EPSG:6433"

#: Geographic CRS of GeoJSON (RFC 7946) and of lon/lat input.
LONLAT_CRS = "EPSG:4326"

#: Environment variable naming the on-disk cache folder (problem pieces, grid pairs, cost
#: matrices: see :mod:`siteopt.problem.disk_cache`).
CACHE_DIR_ENV = "SITEOPT_CACHE_DIR"

#: Environment variable that turns the on-disk cache off (``off``, ``0``, ``no``, ``false``);
#: ``siteopt solve --no-cache`` sets it for its run.
CACHE_ENV = "SITEOPT_CACHE"

#: Most bytes the entries of the cache folder may take; the least recently used go first (a
#: 100 m Connecticut grid's pairs are about 800 MB, the default scenario's pieces about 5 MB).
CACHE_MAX_BYTES = 2 * 1024**3

#: Wall-clock budget, in seconds, of a model when the scenario sets no solver time limit.
DEFAULT_TIME_BUDGET_S = 600.0

#: Share of the time limit the coverage set enumeration may use before it hands over to the MIP.
ENUMERATION_SHARE = 0.5

#: Most solves one ``siteopt sweep`` may plan without ``--force``: the ``--vary`` combinations
#: times (``--bootstrap`` N + 1). A default solve takes seconds to a minute, so 2,000 solves are
#: already hours of work on two workers.
MAX_SWEEP_SOLVES = 2000


def cache_enabled() -> bool:
    """False when ``$SITEOPT_CACHE`` is ``off``, ``0``, ``no`` or ``false``."""
    return os.environ.get(CACHE_ENV, "").strip().lower() not in {"off", "0", "no", "false"}


def _xdg_cache() -> str | None:
    """``$XDG_CACHE_HOME/siteopt`` when that variable is an absolute path (the XDG
    specification ignores a relative one), else None."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return str(Path(xdg) / "siteopt") if xdg and Path(xdg).is_absolute() else None


def cache_dir() -> Path:
    """``$SITEOPT_CACHE_DIR``, else ``$XDG_CACHE_HOME/siteopt``, else ``~/.cache/siteopt``."""
    env = os.environ.get(CACHE_DIR_ENV) or _xdg_cache()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "siteopt"


#: The largest YAML file siteopt reads (scenario files, their ``extends:`` bases, zoning use
#: tables, fetch source lists), checked before parsing: real ones are a few kilobytes.
MAX_YAML_BYTES = 1_000_000

#: The deepest nesting of mappings and lists a YAML input may have (real ones have 4 or 5).
MAX_YAML_DEPTH = 20

#: The most aliases (``*name``) a YAML input may use. A few let a source list share one block
#: (the shipped ``sources.yaml`` uses 8); many are a "billion laughs" bomb that expands to
#: gigabytes. Scenario files allow none (``extends:`` shares settings instead).
MAX_YAML_ALIASES = 16
