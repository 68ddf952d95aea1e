"""Outputs: every file a run writes, into one directory, atomically.

For planners, ``report.html`` / ``report.md`` (the ranked sites in plain words) and ``map.pdf`` /
``map.png`` (the print map); for committee staff, ``map.html`` (an offline web map); for GIS
users, RFC 7946 GeoJSON layers and ``siteopt.gpkg`` (every layer in EPSG:6433, styled for QGIS),
with the fields documented in ``FIELDS.md``; for scripts, ``solution.json``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siteopt.outputs.files import (
        GEOJSON_LAYERS,
        OUTPUT_FILES,
        begin_outputs,
        default_output_dir,
        write_outputs,
    )
    from siteopt.outputs.writer import check_target, output_lock

__all__ = [
    "GEOJSON_LAYERS",
    "OUTPUT_FILES",
    "begin_outputs",
    "check_target",
    "default_output_dir",
    "output_lock",
    "write_outputs",
]

#: where each public name lives; imported on first use, so that ``siteopt.outputs.writer``
#: (used by the data builder and the fetcher) does not pull in matplotlib and the renderers
_HOME = {
    "GEOJSON_LAYERS": "siteopt.outputs.files",
    "OUTPUT_FILES": "siteopt.outputs.files",
    "begin_outputs": "siteopt.outputs.files",
    "default_output_dir": "siteopt.outputs.files",
    "write_outputs": "siteopt.outputs.files",
    "check_target": "siteopt.outputs.writer",
    "output_lock": "siteopt.outputs.writer",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module 'siteopt.outputs' has no attribute {name!r}")
