"""Inputs: the layers a scenario needs, read from a bundle in one metric CRS (EPSG:6433).

A scenario that reads no bundle (``data: none``) gets inputs without layers; its working CRS is
chosen from its points (see :func:`siteopt.problem.points.working_crs`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd

from siteopt._errors import BundleError, DataError
from siteopt.data.layers import default_bundle_dir, read_layer, read_manifest
from siteopt.scenario import Scenario
from siteopt.settings import CRS

T = TypeVar("T")


@dataclass
class Inputs:
    """The bundle a scenario reads, with layers loaded on first use and kept.

    Parameters
    ----------
    bundle_dir
        Folder of the bundle (``connecticut.gpkg`` and ``bundle.json``); ``None`` for a run
        without a bundle (``data: none``).
    manifest
        The bundle's provenance manifest (empty without a bundle).
    crs
        The working CRS (projected, metres) every layer and point is measured in.
    """

    bundle_dir: Path | None
    manifest: dict[str, Any]
    crs: str = CRS
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _derived: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    @property
    def has_bundle(self) -> bool:
        """Whether a bundle is read (False for ``data: none``)."""
        return self.bundle_dir is not None

    def _bundle(self, name: str) -> Path:
        if self.bundle_dir is None:
            raise DataError(
                f"this run reads no bundle (data: none), so there is no layer '{name}'.",
                "Set 'data: builtin' (or a bundle folder) to use the bundle's layers, or give "
                "the layer as a file path.",
            )
        return self.bundle_dir

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """A geometry layer in the working CRS."""
        if name not in self._cache:
            gdf = _read(name, self._bundle(name))
            if not isinstance(gdf, gpd.GeoDataFrame):
                raise BundleError(f"{self.bundle_dir}: layer '{name}' has no geometry.")
            if gdf.crs is None:
                raise BundleError(
                    f"{self.bundle_dir}: layer '{name}' has no CRS; rebuild the bundle with "
                    "'siteopt data build'."
                )
            if gdf.crs != self.crs:
                gdf = gdf.to_crs(self.crs)
            self._cache[name] = gdf
        return self._cache[name]

    def table(self, name: str) -> pd.DataFrame:
        """A table without geometry (e.g. ``deaths``)."""
        if name not in self._cache:
            self._cache[name] = pd.DataFrame(_read(name, self._bundle(name)))
        return self._cache[name]

    def derived(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``, computed once per key and kept with the layers it was made from.

        For values derived from layers that more than one stage needs (e.g. the union of the
        sewer service areas, used for demand and for candidates); the key must name everything
        the value depends on besides the bundle.
        """
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    def layer_info(self, name: str) -> dict[str, Any]:
        """The manifest entry of a layer (empty if the manifest lacks it)."""
        for entry in self.manifest.get("layers", []):
            if entry.get("name") == name:
                return dict(entry)
        return {}


def _read(name: str, bundle: Path) -> gpd.GeoDataFrame | pd.DataFrame:
    """A bundle layer; a bundle that cannot give it is one problem (:class:`BundleError`)."""
    try:
        return read_layer(name, bundle)
    except BundleError:
        raise
    except DataError as exc:
        raise BundleError(exc.message, exc.hint) from exc


def load_inputs(scenario: Scenario) -> Inputs:
    """Open the bundle named by ``scenario.data`` (``builtin`` is the shipped one).

    A scenario that uses no bundle (``data: none``, said or implied: see
    :meth:`siteopt.scenario.Scenario.uses_bundle`) gets inputs without layers or manifest.
    """
    if not scenario.uses_bundle():
        return Inputs(bundle_dir=None, manifest={})
    if scenario.data == "builtin":
        bundle = default_bundle_dir()
    else:
        bundle = scenario.resolve_path(scenario.data)
        if not bundle.is_dir():
            raise DataError(
                f"{scenario.source_file}: data '{scenario.data}' resolves to {bundle}, which is "
                "not a bundle folder.",
                "Use 'data: builtin' or a folder made by 'siteopt data build'.",
            )
    return Inputs(bundle_dir=bundle, manifest=read_manifest(bundle))
