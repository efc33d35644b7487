"""The client's address: the TCP peer, or what trusted proxies say in X-Forwarded-For / X-Real-IP.

X-Forwarded-For is read right to left: each hop added by a trusted proxy is believed, the first
untrusted one is the client (so a client cannot spoof its address by sending the header itself,
unless every proxy in front is trusted and forwards it). Headers from an untrusted peer are ignored.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from typing import Final

MAX_HOPS: Final = 16  # longer X-Forwarded-For chains are cut (bounded work per request)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _v4(text: str) -> int | None:
    """A dotted-quad IPv4 address as an int, parsed in C (strict: four decimal parts, no leading
    zeros, so the text is already canonical); None for anything else."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        return None


@lru_cache(maxsize=65_536)
def _clean(text: str) -> str | None:
    text = text.strip().strip('"')
    if _v4(text) is not None:  # the common case, without ipaddress's pure-Python parser
        return text
    if text.startswith("["):  # [v6]:port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class ClientAddress:
    """Resolves the client address of a request given the trusted proxy networks."""

    def __init__(self, trusted: list[str]) -> None:
        self.trusted: tuple[Network, ...] = tuple(ipaddress.ip_network(t, strict=False) for t in trusted)
        self._v4_nets = tuple(
            (int(n.network_address), int(n.netmask)) for n in self.trusted if isinstance(n, ipaddress.IPv4Network)
        )
        self._is_trusted = lru_cache(maxsize=65_536)(self._trusted)

    def _trusted(self, addr: str) -> bool:
        v4 = _v4(addr)
        if v4 is not None:
            return any(v4 & mask == net for net, mask in self._v4_nets)
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def resolve(self, peer: str | None, forwarded_for: str | None, real_ip: str | None) -> str | None:
        """The client address, or None when nothing usable is known."""
        addr = _clean(peer) if peer else None
        if addr is None or not self.trusted or not self._is_trusted(addr):
            return addr
        if forwarded_for:
            hops = forwarded_for.split(",")[-MAX_HOPS:]
            for hop in reversed(hops):
                hop_addr = _clean(hop)
                if hop_addr is None:
                    return addr  # garbage from here on: the last believable address stands
                addr = hop_addr
                if not self._is_trusted(addr):
                    return addr
            return addr
        if real_ip:
            real = _clean(real_ip)
            if real is not None:
                return real
        return addr
