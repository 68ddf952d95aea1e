"""The manifest (``bundle.json``): one entry per layer, the build notes, the version."""

from __future__ import annotations

from typing import Any

from siteopt.data.build.carry import _Base
from siteopt.data.build.context import _Context, _Layer, _sha256
from siteopt.data.build.write import MAX_BUNDLE_BYTES, PINNED_GPKG_DATE
from siteopt.data.layers import BUNDLE_FILE, GEOMETRY, LAYERS, SCHEMAS, bundle_version
from siteopt.data.places import METHODS, NEAREST_TOWN_TOLERANCE_M, villages_path
from siteopt.settings import CRS

#: manifest format version
FORMAT_VERSION = 1


def _column_types(layer: _Layer) -> dict[str, str]:
    cols = dict(SCHEMAS[layer.name])
    if GEOMETRY[layer.name] is not None:
        cols["geometry"] = f"{GEOMETRY[layer.name]} ({CRS})"
    return cols


def _sources_of(layer: _Layer, ctx: _Context) -> list[dict[str, Any]]:
    new = [
        {"path": rel, "sha256": ctx.hashes[rel], "origin": ctx.origin(rel)} for rel in layer.sources
    ]
    if not layer.kept_sources:
        return new
    return sorted([*new, *layer.kept_sources], key=lambda src: str(src["path"]))


def _entry(layer: _Layer, ctx: _Context, base: _Base | None) -> dict[str, Any]:
    if layer.carried is not None:
        assert base is not None
        copied = dict(layer.carried)
        copied["rows"] = len(layer.frame)
        copied["columns"] = _column_types(layer)
        if "carried_over" not in copied or copied["carried_over"].get("columns"):
            copied["transformations"] = [
                f"Carried over unchanged from {base.mark}: the sources hold no raw file for "
                "this layer. Its transformations there:",
                *copied.get("transformations", []),
            ]
            copied["carried_over"] = {"from": base.label, "version": base.version}
        return copied
    entry: dict[str, Any] = {
        "name": layer.name,
        "title": LAYERS[layer.name],
        "publisher": layer.publisher,
        "sources": _sources_of(layer, ctx),
        "period": layer.period,
        "rows": len(layer.frame),
        "geometry": GEOMETRY[layer.name],
        "crs": CRS if GEOMETRY[layer.name] is not None else None,
        "columns": _column_types(layer),
        "transformations": layer.transformations,
        "caveats": layer.caveats,
        "dropped": layer.dropped,
    }
    entry.update(layer.extra)
    return entry


def _manifest(
    layers: list[_Layer],
    ctx: _Context,
    resolution: dict[str, dict[str, int]],
    base: _Base | None,
) -> dict[str, Any]:
    entries = [_entry(layer, ctx, base) for layer in layers]
    villages = villages_path()
    manifest: dict[str, Any] = {
        "bundle": "connecticut",
        "format_version": FORMAT_VERSION,
        "version": "",
        "file": BUNDLE_FILE,
        "crs": CRS,
        "layers": entries,
        "build": {
            "resolution": resolution,
            "resolution_methods": list(METHODS),
            "village_crosswalk": {
                "path": "siteopt/data/villages.csv",
                "entries": len(ctx.index.villages),
                "sha256": _sha256(villages),
            },
            "nearest_town_tolerance_m": NEAREST_TOWN_TOLERANCE_M,
            "simplification": "none: every polygon is stored as in the source (already "
            "simplified upstream), reprojected and repaired only; the bundle fits in "
            f"{MAX_BUNDLE_BYTES // (1024 * 1024)} MB without further simplification.",
            "gpkg_timestamps": f"GeoPackage last_change pinned to {PINNED_GPKG_DATE} so the "
            "file is reproducible.",
            "dropped": {e["name"]: e["dropped"] for e in entries if e.get("dropped")},
        },
    }
    carried = [e["name"] for e in entries if "carried_over" in e]
    carried += [e["name"] for e in entries if "carried_over_feeds" in e]
    carried += [
        e["name"] for e in entries if any(d.get("carried_over") for d in e.get("feeds", []))
    ]
    if base is not None and carried:
        manifest["build"]["base_bundle"] = {
            "bundle": base.label,
            "version": base.version,
            "layers_carried_over": sorted(set(carried)),
        }
    manifest["version"] = bundle_version(manifest)
    return manifest
