"""Convert the San Francisco test data that spopt ships into the CSV files siteopt reads.

spopt (PySAL, BSD 3-Clause licence) ships 205 census tracts of San Francisco (centroids, 2000
population), 16 store sites and the street-network distance from every store to every tract in
its test data. This script finds those files in the installed package (without importing it)
and writes, beside ``san_francisco.yaml`` (or into the folder given):

- ``demand.csv``: ``id`` (the tract's NAME), ``lon``, ``lat``, ``people`` (POP2000);
- ``candidates.csv``: ``id`` (the store's NAME), ``lon``, ``lat``;
- ``costs.csv``: ``demand_id``, ``candidate_id``, ``metres`` (network distance, 3,280 pairs).

Usage: ``pip install spopt && python configs/examples/san_francisco/convert.py [FOLDER]``.
The data are not part of siteopt: they are read from your spopt installation each time.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd

DEMAND = "SF_demand_205_centroid_uniform_weight.csv"
NETWORK = "SF_network_distance_candidateStore_16_censusTract_205_new.csv"
STORES = "SF_store_site_16_longlat.csv"


def spopt_data() -> Path:
    """The folder of spopt's locate test data (the package is found, not imported)."""
    spec = importlib.util.find_spec("spopt")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("spopt is not installed: pip install spopt")
    root = next(iter(spec.submodule_search_locations))
    folder = Path(root) / "tests" / "test_locate" / "data"
    missing = [f for f in (DEMAND, NETWORK, STORES) if not (folder / f).is_file()]
    if missing:
        raise SystemExit(
            f"{folder} lacks {', '.join(missing)}: this spopt version does not ship them"
        )
    return folder


def convert(dest: Path) -> list[Path]:
    """Write ``demand.csv``, ``candidates.csv`` and ``costs.csv`` into ``dest``."""
    src = spopt_data()
    dem = pd.read_csv(src / DEMAND, dtype={"NAME": str})
    net = pd.read_csv(src / NETWORK, dtype={"DestinationName": str, "name": str})
    stores = pd.read_csv(src / STORES, dtype={"NAME": str})
    dest.mkdir(parents=True, exist_ok=True)
    out = [dest / "demand.csv", dest / "candidates.csv", dest / "costs.csv"]
    pd.DataFrame(
        {"id": dem["NAME"], "lon": dem["long"], "lat": dem["lat"], "people": dem["POP2000"]}
    ).to_csv(out[0], index=False)
    pd.DataFrame({"id": stores["NAME"], "lon": stores["long"], "lat": stores["lat"]}).to_csv(
        out[1], index=False
    )
    pd.DataFrame(
        {
            "demand_id": net["DestinationName"],
            "candidate_id": net["name"],
            "metres": net["distance"],
        }
    ).to_csv(out[2], index=False)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for path in convert(target):
        print(f"wrote {path}")
