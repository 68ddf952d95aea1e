"""Writing the bundle: destination checks, the GeoPackage, staging beside ``dest`` and install.

The three files are written into a temporary folder beside ``dest`` and swapped in with one
rename only when all are written and the bundle is within :data:`MAX_BUNDLE_BYTES`; a failed
build leaves an existing bundle untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyogrio

from siteopt._errors import OutputError, OutputExistsError
from siteopt.data.build.context import _Layer
from siteopt.data.layers import (
    BUNDLE_FILE,
    BUNDLE_FILES,
    GEOMETRY,
    LAYERS,
    MANIFEST_FILE,
    README_FILE,
)
from siteopt.data.manifest import render_readme, write_json
from siteopt.outputs.writer import atomic_dir, refuse_to_replace

#: the bundle must stay this small (all files together)
MAX_BUNDLE_BYTES = 20 * 1024 * 1024
#: GeoPackage ``last_change`` timestamps are pinned to this value so rebuilds are identical
PINNED_GPKG_DATE = "2000-01-01T00:00:00.000Z"


def _check_dest(dest: Path, overwrite: bool, inputs: Sequence[Path] = ()) -> None:
    """Refuse a ``dest`` that exists without ``overwrite``, holds other files or an input."""
    if not dest.exists():
        return
    if not overwrite:
        raise OutputExistsError(
            f"Bundle directory {dest} already exists.",
            hint="Pass --overwrite to replace it, or choose another --dest.",
        )
    if not dest.is_dir():
        raise OutputExistsError(f"{dest} exists and is not a directory; choose another --dest.")
    foreign = sorted(p.name for p in dest.iterdir() if p.name not in BUNDLE_FILES)
    if foreign:
        raise OutputExistsError(
            f"Bundle directory {dest} holds files that are not bundle files "
            f"({', '.join(foreign[:5])}); refusing to replace it.",
            hint="Choose an empty or bundle-only --dest.",
        )
    refuse_to_replace(dest, inputs)


def _write_gpkg(path: Path, layers: list[_Layer]) -> None:
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_GPKG_DATE})
    try:
        for layer in layers:
            kwargs: dict[str, Any] = {"layer_options": {"DESCRIPTION": LAYERS[layer.name]}}
            if GEOMETRY[layer.name] is not None:
                kwargs["geometry_type"] = GEOMETRY[layer.name]
            pyogrio.write_dataframe(layer.frame, path, layer=layer.name, driver="GPKG", **kwargs)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise OutputError(f"Cannot write {path}: {exc}") from exc
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def _write_bundle(
    dest: Path,
    layers: list[_Layer],
    manifest: dict[str, Any],
    overwrite: bool = False,
    inputs: Sequence[Path] = (),
) -> dict[str, int]:
    """Write the bundle files beside ``dest``, then move them into place; return their sizes.

    Written through the project's one atomic writer (:func:`siteopt.outputs.writer.atomic_dir`):
    a failed or interrupted build leaves an earlier ``dest`` as it was.

    Raises
    ------
    OutputError
        A file could not be written, or the bundle would exceed :data:`MAX_BUNDLE_BYTES`
        (nothing is then written to ``dest``).
    """
    with atomic_dir(dest, check=lambda d: _check_dest(d, overwrite, inputs), marker=False) as tmp:
        gpkg = tmp / BUNDLE_FILE
        _write_gpkg(gpkg, layers)
        write_json(tmp / MANIFEST_FILE, manifest)
        (tmp / README_FILE).write_text(render_readme(manifest), encoding="utf-8")
        sizes = {name: (tmp / name).stat().st_size for name in BUNDLE_FILES}
        total = sum(sizes.values())
        if total > MAX_BUNDLE_BYTES:
            raise OutputError(
                f"The bundle would be {total / 1e6:.1f} MB, over the "
                f"{MAX_BUNDLE_BYTES / 1e6:.0f} MB limit; nothing was written to {dest}."
            )
    return sizes
