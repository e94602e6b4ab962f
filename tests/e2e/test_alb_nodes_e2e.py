"""The ALBs by name, as a client reaches them on AWS: the DNS name resolves through the
twin's DNS to one loopback address per AZ node, each node answers HTTP, and an AZ
blackhole (our real fault action against a sandbox) silences that zone's node only
until the undo."""

from __future__ import annotations

import http.client
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.resolver
import pytest

from chaosaws_ext.blackhole.actions import (
    blackhole_availability_zone,
    restore_availability_zone,
)
from chaosaws_ext.core.clients import clear_client_cache
from chaosaws_ext.core.waiting import wait_until
from sandbox.seed import API_PATH
from sandbox.server import Sandbox, Topology

pytestmark = pytest.mark.e2e

TIME_SCALE = 0.05  # ALB health checks every 0.5 s, unhealthy after 2 (1 s)
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
TIMED_OUT = "timed out"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(time_scale=TIME_SCALE, health_check_request_interval=10, with_database=False)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def topology(sandbox: Sandbox) -> Topology:
    assert sandbox.topology is not None
    return sandbox.topology


def _resolver(topology: Topology) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [topology.dns_server[0]]
    resolver.port = topology.dns_server[1]
    resolver.cache = None
    return resolver


def _get(address: str, port: int, host: str, timeout: float = 2.0) -> int | str:
    """The HTTP status of GET API_PATH on ``address`` (Host: the ALB's name), or
    TIMED_OUT when no answer came within ``timeout``, or the error's class name."""
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", API_PATH, headers={"Host": host})
        response = connection.getresponse()
        response.read()
        return int(response.status)
    except TimeoutError:
        return TIMED_OUT
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__
    finally:
        connection.close()


def test_the_alb_names_resolve_to_a_node_per_az_each_answering(topology: Topology) -> None:
    resolver = _resolver(topology)
    for side in (topology.primary, topology.standby):
        answer = resolver.resolve(side.load_balancer_dns, "A", lifetime=5)
        addresses = [a.address for a in answer]
        assert len(set(addresses)) == 3
        assert all(ipaddress.ip_address(a) in LOOPBACK for a in addresses)
        assert addresses == [side.alb_nodes[az] for az in side.azs]
        assert answer.rrset is not None and answer.rrset.ttl == topology.dns_ttl
        with pytest.raises(dns.resolver.NoAnswer):  # an ipv4 load balancer: no AAAA
            resolver.resolve(side.load_balancer_dns, "AAAA", lifetime=5)
        for address in addresses:
            assert _get(address, side.listener_port, side.load_balancer_dns) == 200
    # the standby's nodes are not the primary's
    assert not set(topology.primary.alb_nodes.values()) & set(topology.standby.alb_nodes.values())
    # the failover alias record answers the healthy (primary) ALB's nodes
    answer = resolver.resolve(topology.record_name, "A", lifetime=5)
    assert [a.address for a in answer] == [
        topology.primary.alb_nodes[az] for az in topology.primary.azs
    ]


def test_a_blackholed_zone_s_node_stops_answering_until_the_undo(
    sandbox: Sandbox, topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    side = topology.primary
    for key, value in topology.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    clear_client_cache()
    configuration: dict[str, Any] = {
        "aws_region": topology.region,
        "chaos_ledger_path": str(tmp_path / "ledger.jsonl"),
        "allowed_accounts": topology.account_id,
    }
    zone, others = side.azs[0], side.azs[1:]
    port, name = side.listener_port, side.load_balancer_dns

    def status(az: str, timeout: float = 1.0) -> int | str:
        return _get(side.alb_nodes[az], port, name, timeout)

    assert all(status(az) == 200 for az in side.azs)
    blackhole_availability_zone(zone, vpc_id=side.vpc_id, configuration=configuration)
    try:
        # the NACL change takes effect after the emulated EC2 propagation delay
        wait_until(lambda: status(zone) == TIMED_OUT, timeout=15, interval=0.1,
                   what=f"the node of {zone} stops answering")  # fmt: skip
        # the other nodes answer, and once the ALB has taken the zone's target out of
        # rotation (its health checks) they answer 200 every time
        wait_until(
            lambda: all(status(az) == 200 for az in others for _ in range(3)),
            timeout=15,
            interval=0.1,
            what="the other nodes answer 200",
        )
        assert status(zone, timeout=1.5) == TIMED_OUT
        # AWS documents no DNS removal of a node whose subnet drops traffic: still listed
        addresses = [a.address for a in _resolver(topology).resolve(name, "A", lifetime=5)]
        assert addresses == [side.alb_nodes[az] for az in side.azs]
    finally:
        restored = restore_availability_zone(configuration)
    assert restored["verified"]
    wait_until(lambda: status(zone) == 200, timeout=15, interval=0.1,
               what=f"the node of {zone} answers again")  # fmt: skip
    assert all(status(az) == 200 for az in side.azs)
