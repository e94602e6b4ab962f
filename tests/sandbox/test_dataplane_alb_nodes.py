"""The ALB's node listeners (sandbox.elbv2.nodes): one per enabled AZ, each on a
loopback address of its own and the ALB's port, handing its requests to the ALB as
that node; two sandboxes' nodes never share an address."""

from __future__ import annotations

import http.client
import random
import socket
from typing import Any

import pytest

from sandbox.elbv2.nodes import AlbNodes
from sandbox.loopback_http import QuietHandler

AZS = ["eu-south-1a", "eu-south-1b", "eu-south-1c"]


class _Alb:
    """What AlbNodes uses of an AlbEmulator: its port, its enabled AZs, ``handle``."""

    def __init__(self, port: int) -> None:
        self.address = ("127.0.0.1", port)

    def node_azs(self) -> list[str]:
        return list(reversed(AZS))  # any order: the nodes are listed in AZ order

    def handle(self, handler: QuietHandler, body: bytes, node_az: str | None = None) -> None:
        handler.send_body(200, f"node {node_az}".encode())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(host: str, port: int) -> tuple[int, str]:
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_a_node_per_az_each_answering_as_its_node() -> None:
    port = _free_port()
    nodes = AlbNodes(_Alb(port))  # type: ignore[arg-type]
    with nodes:
        by_az = nodes.by_az()
        assert list(by_az) == AZS
        assert len(set(by_az.values())) == 3
        assert all(a.startswith("127.") and a != "127.0.0.1" for a in by_az.values())
        assert nodes.addresses() == list(by_az.values())
        for az, address in by_az.items():
            assert _get(address, port) == (200, f"node {az}")
    assert nodes.addresses() == []
    nodes.stop()  # idempotent


def test_two_sandboxes_nodes_take_different_addresses() -> None:
    """Same candidate order for both (one seed), same port: the second sandbox's nodes
    cannot bind the first one's addresses and take others."""
    port = _free_port()
    first = AlbNodes(_Alb(port), rng=random.Random(7))  # type: ignore[arg-type]
    second = AlbNodes(_Alb(port), rng=random.Random(7))  # type: ignore[arg-type]
    with first, second:
        assert not set(first.addresses()) & set(second.addresses())
        assert len(set(first.addresses() + second.addresses())) == 6
        for address in first.addresses() + second.addresses():
            assert _get(address, port)[0] == 200


def test_a_node_that_cannot_bind_stops_the_ones_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every candidate address taken (the first sandbox's, same seed, three attempts):
    start raises OSError and leaves nothing of its own listening."""
    import sandbox.elbv2.nodes as nodes_module
    from sandbox.loopback_address import bind_free_loopback

    def three_attempts(start: Any, attempts: int = 32, rng: Any = None) -> Any:
        return bind_free_loopback(start, attempts=3, rng=rng)

    monkeypatch.setattr(nodes_module, "bind_free_loopback", three_attempts)
    port = _free_port()
    first = AlbNodes(_Alb(port), rng=random.Random(3))  # type: ignore[arg-type]
    with first:
        taken = first.addresses()
        blocked = AlbNodes(_Alb(port), rng=random.Random(3))  # type: ignore[arg-type]
        with pytest.raises(OSError, match="no free loopback address after 3 attempts"):
            blocked.start()
        assert blocked.addresses() == []
        assert first.addresses() == taken
        assert all(_get(address, port)[0] == 200 for address in taken)
