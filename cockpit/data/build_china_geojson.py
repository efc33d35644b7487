"""Decode ECharts' compact `map/json/china.json` into the plain GeoJSON the cockpit ships.

Run once when the map source changes, never at start-up (the cockpit reads only the output):

    cd /tmp && npm pack echarts@4.9.0 && tar xzf echarts-4.9.0.tgz package/map/json/china.json
    python cockpit/data/build_china_geojson.py /tmp/package/map/json/china.json

Why decode here rather than load ECharts in the browser: Plotly draws GeoJSON, and a file in plain
GeoJSON can be reviewed, diffed and tested. The decoding follows ECharts 4.9.0
`src/coord/geo/parseGeoJson.js` (ZigZag + delta coded characters, scale 1/1024 degree). The South
China Sea islands inset (南海诸岛) is ECharts' own `src/coord/geo/fix/nanhai.js` drawing, added as a
feature of its own, as ECharts-based Chinese dashboards show it. Rings are rewound for d3-geo
(exterior clockwise). Output: features keyed by the GB/T 2260 code (`properties.code`) with `name` (Chinese) and `cp` (label point), coordinates
rounded to 3 decimals (the source's own resolution is 1/1024 degree).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("china_provinces.geojson")
NANHAI_CODE = "nanhai"

# ECharts 4.9.0 src/coord/geo/fix/nanhai.js: the inset box and its island dashes, in a 64 x 93.1
# grid placed at (126E, 25N), x / 10.5 and y / (-10.5 / 0.75) degrees.
_NANHAI_ORIGIN = (126.0, 25.0)
_NANHAI_POINTS: list[list[list[float]]] = [
    [
        [0, 3.5],
        [7, 11.2],
        [15, 11.9],
        [30, 7],
        [42, 0.7],
        [52, 0.7],
        [56, 7.7],
        [59, 0.7],
        [64, 0.7],
        [64, 0],
        [5, 0],
        [0, 3.5],
    ],
    [[13, 16.1], [19, 14.7], [16, 21.7], [11, 23.1], [13, 16.1]],
    [[12, 32.2], [14, 38.5], [15, 38.5], [13, 32.2], [12, 32.2]],
    [[16, 47.6], [12, 53.2], [13, 53.2], [18, 47.6], [16, 47.6]],
    [[6, 64.4], [8, 70], [9, 70], [8, 64.4], [6, 64.4]],
    [[23, 82.6], [29, 79.8], [30, 79.8], [25, 82.6], [23, 82.6]],
    [[37, 70.7], [43, 62.3], [44, 62.3], [39, 70.7], [37, 70.7]],
    [[48, 51.1], [51, 45.5], [53, 45.5], [50, 51.1], [48, 51.1]],
    [[51, 35], [51, 28.7], [53, 28.7], [53, 35], [51, 35]],
    [[52, 22.4], [55, 17.5], [56, 17.5], [53, 22.4], [52, 22.4]],
    [[58, 12.6], [62, 7], [63, 7], [60, 12.6], [58, 12.6]],
    [[0, 3.5], [0, 93.1], [64, 93.1], [64, 0], [63, 0], [63, 92.4], [1, 92.4], [1, 3.5], [0, 3.5]],
]


def decode_ring(encoded: str, offset: list[int], scale: float = 1024.0) -> list[list[float]]:
    """One ring: pairs of characters, each ZigZag-coded delta from the previous point."""
    prev_x, prev_y = offset
    ring: list[list[float]] = []
    for i in range(0, len(encoded), 2):
        x = ord(encoded[i]) - 64
        y = ord(encoded[i + 1]) - 64
        x = (x >> 1) ^ -(x & 1)
        y = (y >> 1) ^ -(y & 1)
        prev_x, prev_y = x + prev_x, y + prev_y
        ring.append([round(prev_x / scale, 3), round(prev_y / scale, 3)])
    return ring


def signed_area(ring: list[list[float]]) -> float:
    """Shoelace area in the lon/lat plane: positive when the ring runs counter-clockwise."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=False)) / 2


def wind(rings: list[list[list[float]]]) -> list[list[list[float]]]:
    """Exterior clockwise, holes counter-clockwise: the winding d3-geo (Plotly's renderer) needs.

    d3-geo reads ring orientation on the sphere: a counter-clockwise exterior means "everything
    except this area", which paints the whole globe (seen as a grey map before this rewinding).
    """
    out = []
    for i, ring in enumerate(rings):
        clockwise = signed_area(ring) < 0
        want_clockwise = i == 0
        out.append(ring if clockwise == want_clockwise else ring[::-1])
    return out


def decode_geometry(geometry: dict[str, Any], scale: float) -> dict[str, Any]:
    coords, offsets = geometry["coordinates"], geometry["encodeOffsets"]
    if geometry["type"] == "Polygon":
        rings = [decode_ring(r, offsets[i], scale) for i, r in enumerate(coords)]
        return {"type": "Polygon", "coordinates": wind(rings)}
    polys = [wind([decode_ring(r, offsets[i][j], scale) for j, r in enumerate(poly)]) for i, poly in enumerate(coords)]
    return {"type": "MultiPolygon", "coordinates": polys}


def nanhai_feature() -> dict[str, Any]:
    ox, oy = _NANHAI_ORIGIN
    rings = [[[round(x / 10.5 + ox, 3), round(y / (-10.5 / 0.75) + oy, 3)] for x, y in ring] for ring in _NANHAI_POINTS]
    return {
        "type": "Feature",
        "id": NANHAI_CODE,
        "properties": {"code": NANHAI_CODE, "name": "南海诸岛", "cp": list(_NANHAI_ORIGIN)},
        "geometry": {"type": "MultiPolygon", "coordinates": [wind([r]) for r in rings]},
    }


def convert(source: dict[str, Any]) -> dict[str, Any]:
    scale = float(source.get("UTF8Scale") or 1024)
    features: list[dict[str, Any]] = []
    for f in source["features"]:
        props = f["properties"]
        geometry = decode_geometry(f["geometry"], scale) if source.get("UTF8Encoding") else f["geometry"]
        features.append(
            {
                "type": "Feature",
                "id": str(props["id"]),
                "properties": {"code": str(props["id"]), "name": props["name"], "cp": props.get("cp")},
                "geometry": geometry,
            }
        )
    features.sort(key=lambda f: f["id"])
    features.append(nanhai_feature())
    return {"type": "FeatureCollection", "features": features}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    source = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    OUT.write_text(json.dumps(convert(source), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
