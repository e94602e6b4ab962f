"""failover_record_answer against a tiny dnslib server on 127.0.0.1 (port 0)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import QTYPE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from chaosaws_ext.healthcheck.probes import failover_record_answer

RECORD = "api.ai-support.example.com."


class FailoverResolver(BaseResolver):
    """Answers RECORD with two A records (TTL 60); NXDOMAIN for anything else."""

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname)
        if name.lower() == RECORD and request.q.qtype == QTYPE.A:
            for ip in ("127.0.0.7", "127.0.0.5"):  # loopback only: tests never reach out
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=60))
        elif name.lower() != RECORD:
            reply.header.rcode = 3  # NXDOMAIN
        return reply


@pytest.fixture
def dns_server() -> Iterator[str]:
    server = DNSServer(FailoverResolver(), port=0, address="127.0.0.1")
    server.start_thread()
    host, port = server.server.server_address[:2]
    yield f"{host}:{port}"
    server.stop()
    server.server.server_close()


def test_answer_and_ttl_from_the_chosen_nameserver(dns_server: str) -> None:
    found = failover_record_answer("api.ai-support.example.com", nameserver=dns_server)

    assert found["answers"] == ["127.0.0.5", "127.0.0.7"]
    assert found["ttl"] == 60
    assert found["error"] is None
    assert found["nameserver"] == dns_server


def test_port_argument_and_failures_are_reported_not_raised(dns_server: str) -> None:
    host, port = dns_server.split(":")
    assert failover_record_answer(RECORD, nameserver=host, port=int(port))["ttl"] == 60
    missing = failover_record_answer("nope.example.com", nameserver=dns_server)
    assert missing["answers"] == [] and missing["error"] == "NXDOMAIN"
    no_data = failover_record_answer(RECORD, nameserver=dns_server, record_type="AAAA")
    assert no_data["answers"] == [] and no_data["ttl"] is None and no_data["error"] is None
