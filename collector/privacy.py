"""Pseudonyms: no raw address and no raw user id leave the collector.

A visitor without a platform id is `v` + a keyed hash of (day's salt, platform, address,
User-Agent): the salt of a day is HMAC(secret, day), so yesterday's hashes cannot be linked to
today's and, once the day is over, no one can recompute them from an address (Plausible's scheme).
A platform's own pseudonymous id is hashed with the secret itself (stable across days, still not
the id the platform holds). The secret lives in one file readable only by the collector's user.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

_DAY_MS = 86_400_000


def load_secret(path: Path) -> bytes:
    """The collector's secret, created (0600) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data[:32]
    except FileNotFoundError:
        pass
    data = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
    return data


class Pseudonyms:
    """Visitor and session pseudonyms of a day; `utc_offset_s` sets where a day starts (Beijing)."""

    def __init__(self, secret: bytes, utc_offset_s: int = 8 * 3600) -> None:
        self.secret = secret
        self.offset_ms = utc_offset_s * 1000
        self._day = -1
        self._salt = b""

    def salt(self, now_ms: int) -> bytes:
        day = (now_ms + self.offset_ms) // _DAY_MS
        if day != self._day:
            self._salt = hmac.new(self.secret, f"day:{day}".encode(), hashlib.sha256).digest()[:16]
            self._day = day
        return self._salt

    def visitor(self, now_ms: int, platform: str, address: str, user_agent: str) -> str:
        h = hashlib.blake2b(f"{platform}\x00{address}\x00{user_agent}".encode(), digest_size=12, key=self.salt(now_ms))
        return "v" + h.hexdigest()

    def platform_id(self, pid: str) -> str:
        return "p" + hashlib.blake2b(pid.encode(), digest_size=12, key=self.secret).hexdigest()

    def session(self, now_ms: int, visitor: str, client_session: str | None) -> str:
        """A client's session id is hashed too (a tracker's is random, a server's may not be)."""
        text = f"{visitor}\x00{client_session or ''}"
        return "s" + hashlib.blake2b(text.encode(), digest_size=12, key=self.salt(now_ms)).hexdigest()
