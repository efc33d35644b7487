"""Per-address rate limit: a token bucket per client address, in a bounded table."""

from __future__ import annotations

import math


class RateLimiter:
    """`allow(key, now)` spends a token or says how many seconds until one is there."""

    def __init__(self, rate: float, burst: float, max_keys: int = 200_000) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[str, list[float]] = {}

    def allow(self, key: str, now: float) -> float:
        """0.0 if allowed, else the wait in seconds (for Retry-After)."""
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, b[0] + (now - b[1]) * self.rate)
        b[1] = now
        if tokens >= 1.0:
            b[0] = tokens - 1.0
            return 0.0
        b[0] = tokens
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Drop buckets that have refilled (they behave as new ones); all of them if none has."""
        full = [k for k, b in self._buckets.items() if b[0] + (now - b[1]) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
