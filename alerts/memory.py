"""Bounded memory of every value a series has taken, to ask "how far is x from anything seen before?"

Why: on labelled benchmarks the strongest single signal of an anomaly is a value the series has
never come close to (a new extreme, or a level in a gap never visited), measured relative to the
range seen so far. Keeping all past values would grow without bound; instead values are quantised
to at most `max_bins` occupied bins across the observed range, and the bin width doubles (bins merge)
whenever the range outgrows them. A distance is under-estimated by less than one bin width, i.e.
less than 1/1024 of the range with the defaults, far under the distances that matter (about 1 % of
the range).
Cost per point: a bisect and a list insert over at most `max_bins` integers.
"""

from __future__ import annotations

import math
from bisect import bisect_left


class ValueMemory:
    """Quantised set of seen values with exact min/max; `distance(x)` = gap to the nearest seen value."""

    __slots__ = ("max_bins", "width", "origin", "keys", "counts", "lo", "hi", "count")

    def __init__(self, max_bins: int = 4096) -> None:
        if max_bins < 16:
            raise ValueError("max_bins must be at least 16")
        self.max_bins = max_bins
        self.width = 0.0  # 0 until two distinct values have been seen
        self.origin = 0.0
        self.keys: list[int] = []
        self.counts: list[int] = []  # values seen per occupied bin, for quantiles
        self.lo = math.inf
        self.hi = -math.inf
        self.count = 0

    @property
    def range(self) -> float:
        return self.hi - self.lo if self.count else 0.0

    def distance(self, x: float) -> float:
        """Distance from x to the closest value seen so far (0 if none seen yet)."""
        if not self.count:
            return 0.0
        if x <= self.lo:
            return self.lo - x
        if x >= self.hi:
            return x - self.hi
        if not self.keys:
            return 0.0
        k = (x - self.origin) / self.width
        i = bisect_left(self.keys, k)
        best = math.inf
        for j in (i - 1, i):
            if 0 <= j < len(self.keys):
                centre = self.keys[j] + 0.5
                best = min(best, max(0.0, abs(k - centre) - 0.5))
        return best * self.width

    def local_gap(self, x: float, k: int) -> float:
        """Mean spacing of the seen values around x: the span from the k-th seen value below x to the
        k-th above, over 2k (the ends of the range stand in when fewer are seen on a side)."""
        if not self.keys or self.width <= 0:
            return 0.0
        i = bisect_left(self.keys, math.floor((x - self.origin) / self.width))
        lo, hi = self._kth_centre(i - 1, -1, k, self.lo), self._kth_centre(i, 1, k, self.hi)
        return max(0.0, hi - lo) / (2 * k)

    def _kth_centre(self, j: int, step: int, k: int, end: float) -> float:
        """Centre of the bin holding the k-th value seen walking from bin j by step; `end` if fewer."""
        c = 0
        while 0 <= j < len(self.keys):
            c += self.counts[j]
            if c >= k:
                return self.origin + (self.keys[j] + 0.5) * self.width
            j += step
        return end

    def add(self, x: float) -> None:
        self.count += 1
        self.lo = min(self.lo, x)
        self.hi = max(self.hi, x)
        if not self.width:
            if self.hi > self.lo:
                # every earlier value equalled the first one, which is now lo or hi
                self.width = (self.hi - self.lo) / (self.max_bins / 4)
                self.origin = self.lo
                first = self.hi if x == self.lo else self.lo
                self._insert(first, self.count - 1)
                self._insert(x, 1)
            return
        self._insert(x, 1)
        while (self.hi - self.lo) / self.width > self.max_bins / 2:
            self._coarsen()

    def _insert(self, x: float, n: int) -> None:
        k = math.floor((x - self.origin) / self.width)
        i = bisect_left(self.keys, k)
        if i == len(self.keys) or self.keys[i] != k:
            self.keys.insert(i, k)
            self.counts.insert(i, n)
        else:
            self.counts[i] += n

    def _coarsen(self) -> None:
        """Double the bin width; bins pair up (floor division keeps the origin fixed)."""
        self.width *= 2.0
        keys: list[int] = []
        counts: list[int] = []
        for k, c in zip(self.keys, self.counts, strict=False):
            m = k // 2
            if keys and keys[-1] == m:
                counts[-1] += c
            else:
                keys.append(m)
                counts.append(c)
        self.keys, self.counts = keys, counts

    def quantile(self, q: float) -> float:
        """Approximate q-quantile of the values seen (bin centres, linear between ranks; exact ends)."""
        if not self.count:
            return math.nan
        if not self.keys:
            return self.lo
        rank = q * (self.count - 1)
        lo_rank = math.floor(rank)
        a = self._value_at(lo_rank)
        b = self._value_at(min(lo_rank + 1, self.count - 1))
        return a + (b - a) * (rank - lo_rank)

    def _value_at(self, rank: int) -> float:
        if rank <= 0:
            return self.lo
        if rank >= self.count - 1:
            return self.hi
        seen = 0
        for k, c in zip(self.keys, self.counts, strict=False):
            seen += c
            if seen > rank:
                return min(self.hi, max(self.lo, self.origin + (k + 0.5) * self.width))
        return self.hi

    def robust_range(self, q: float) -> float:
        """Spread between the q and 1-q quantiles: the range without its rarest extremes."""
        if self.count < 2:
            return 0.0
        return self.quantile(1.0 - q) - self.quantile(q)
