"""Download the newest official releases of the bundle's raw sources, safely.

``fetch`` reads a list of sources (``sources.yaml`` shipped with the package, optionally merged
with a user file), downloads each into a raw data directory laid out the way the bundle
builder reads it, and never lets a bad download replace good data:

* every download goes to a temporary file beside its destination, is checked (HTTP status,
  ``Content-Length``, the schema declared in the sources file) and only then renamed into place
  (``os.replace``, atomic on one file system);
* connection errors, timeouts and 408/429/5xx answers are retried with exponential backoff, a
  bounded number of times (``requests`` with urllib3's ``Retry``);
* a state file, ``<dest>/.siteopt-fetch.json``, keeps each source's ETag, Last-Modified, SHA-256
  and size, so the next run sends a conditional request and an unchanged source (304) is not
  downloaded again.

The report (:class:`FetchReport`) holds no timestamps or durations: the same server answers give
the same report. Only the state file records when each source was fetched.

Modules: :mod:`.sources` (the sources file, pydantic models), :mod:`.http` (requests + Retry),
:mod:`.checks` (content checks), :mod:`.convert` (conversions), :mod:`.stage` (staging, the
atomic swap, the state file), :mod:`.report`, :mod:`.shipped` (the shipped bundle's date) and
:mod:`.run` (``fetch`` itself).
"""

from __future__ import annotations

from siteopt.data.fetch._common import STATE_FILE, FetchError, NoNetworkError
from siteopt.data.fetch.convert import (
    SCHOOL_POINT_COLUMNS,
    acs_town_population_csv,
    ct_schools_points_csv,
)
from siteopt.data.fetch.report import FetchReport, FetchResult
from siteopt.data.fetch.run import fetch
from siteopt.data.fetch.shipped import (
    no_network_message,
    shipped_bundle_date,
    shipped_bundle_manifest,
)
from siteopt.data.fetch.sources import (
    CONVERTERS,
    KINDS,
    LOADERS,
    Expect,
    Source,
    default_sources_path,
    load_sources,
)
from siteopt.data.fetch.stage import read_state

__all__ = [
    "CONVERTERS",
    "KINDS",
    "LOADERS",
    "SCHOOL_POINT_COLUMNS",
    "STATE_FILE",
    "Expect",
    "FetchError",
    "FetchReport",
    "FetchResult",
    "NoNetworkError",
    "Source",
    "acs_town_population_csv",
    "ct_schools_points_csv",
    "default_sources_path",
    "fetch",
    "load_sources",
    "no_network_message",
    "read_state",
    "shipped_bundle_date",
    "shipped_bundle_manifest",
]
