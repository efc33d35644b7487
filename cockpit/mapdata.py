"""The shipped China map (cockpit/data/china_provinces.geojson), loaded once per process.

The file is built offline from ECharts 4.9.0 (see cockpit/data/README.md); this module only reads
it and answers what the map figure needs: the features, which codes are provinces, label points.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final

from contracts.geo import PROVINCES

GEOJSON_PATH: Final = Path(__file__).parent / "data" / "china_provinces.geojson"
NANHAI: Final = "nanhai"
# Too small to see at wall-screen scale: marked by a labelled point as well as their area.
SMALL: Final[tuple[str, ...]] = ("810000", "820000")


@lru_cache(maxsize=1)
def geojson() -> dict[str, Any]:
    return json.loads(GEOJSON_PATH.read_text(encoding="utf-8"))


def province_codes() -> tuple[str, ...]:
    """The 34 divisions in the contract's order (not the file's): the order figures draw in."""
    return tuple(p.code for p in PROVINCES)


@cache
def label_point(code: str) -> tuple[float, float]:
    for f in geojson()["features"]:
        if f["properties"]["code"] == code:
            lon, lat = f["properties"]["cp"]
            return float(lon), float(lat)
    raise KeyError(code)
