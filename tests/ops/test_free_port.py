"""free_port hands out ports an outgoing connection cannot take between the probe and the bind."""

from __future__ import annotations

import socket

import pytest

from ops import local_process
from ops.local_process import free_port


def test_ports_lie_below_the_range_the_kernel_gives_outgoing_connections() -> None:
    low = local_process._ephemeral_low()
    ports = [free_port() for _ in range(200)]
    assert all(1024 <= p < low for p in ports)
    assert len(set(ports)) == len(ports)


def test_a_port_something_listens_on_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        spare = free_port()
        local_process._HANDED_OUT.discard(("127.0.0.1", spare))
        draws = iter([taken, taken, spare])
        monkeypatch.setattr(local_process._PORT_DRAW, "randrange", lambda lo, hi: next(draws))
        assert free_port() == spare


def test_a_client_connection_does_not_take_a_handed_out_port() -> None:
    """Open many outgoing loopback connections after drawing: none gets the drawn port."""
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(256)
        clients = [socket.create_connection(server.getsockname(), timeout=2) for _ in range(200)]
        try:
            assert port not in {c.getsockname()[1] for c in clients}
        finally:
            for c in clients:
                c.close()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as late:
        late.bind(("127.0.0.1", port))
