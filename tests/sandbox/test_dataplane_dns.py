"""Route 53 failover answers, the moto-backed resolver and the DNS server."""

from __future__ import annotations

import boto3
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import pytest
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from sandbox.route53.dns import FailoverDnsServer
from sandbox.route53.failover_routing import failover_answer, route53_failover_resolver
from tests.conftest import REGION


@pytest.mark.parametrize(
    ("primary_healthy", "secondary_healthy", "expected"),
    [(True, True, "p"), (True, False, "p"), (False, True, "s"), (False, False, "p")],
)
def test_failover_answer(primary_healthy: bool, secondary_healthy: bool, expected: str) -> None:
    assert failover_answer("p", "s", primary_healthy, secondary_healthy, 60) == [(expected, 60)]


def _resolver(port: int) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.lifetime = 2
    resolver.cache = None
    return resolver


def test_server_answers_primary_then_secondary_with_the_ttl() -> None:
    health = {"primary": True}

    def records(qname: str, qtype: str) -> list[tuple[str, int]] | None:
        if qname != "api.tickets.test.":
            return None
        if qtype != "A":
            return []
        return failover_answer("127.0.1.1", "127.0.2.1", health["primary"], True, 7)

    with FailoverDnsServer(records) as server:
        host, port = server.address
        resolver = _resolver(port)
        answer = resolver.resolve("api.tickets.test", "A")
        assert [r.address for r in answer] == ["127.0.1.1"] and answer.rrset.ttl == 7
        health["primary"] = False
        assert [r.address for r in resolver.resolve("api.tickets.test", "A")] == ["127.0.2.1"]
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver.resolve("nothing.tickets.test", "A")
        with pytest.raises(dns.resolver.NoAnswer):
            resolver.resolve("api.tickets.test", "AAAA")
        query = dns.message.make_query("api.tickets.test", "A")
        over_tcp = dns.query.tcp(query, host, port=port, timeout=2)
        assert over_tcp.answer[0][0].address == "127.0.2.1"


def test_moto_route53_records_drive_the_answers(mocked_aws: None) -> None:
    route53 = boto3.client("route53", region_name=REGION)
    zone = route53.create_hosted_zone(Name="tickets.test.", CallerReference="z")["HostedZone"]
    check = route53.create_health_check(
        CallerReference="hc",
        HealthCheckConfig={"Type": "HTTP", "IPAddress": "127.0.1.1", "Port": 80},
    )["HealthCheck"]["Id"]

    def record(name: str, value: str, **extra: object) -> dict[str, object]:
        rrset = {"Name": name, "Type": "A", "TTL": 30, "ResourceRecords": [{"Value": value}]}
        return {"Action": "CREATE", "ResourceRecordSet": rrset | extra}

    route53.change_resource_record_sets(
        HostedZoneId=zone["Id"],
        ChangeBatch={
            "Changes": [
                record(
                    "api.tickets.test",
                    "127.0.1.1",
                    SetIdentifier="primary",
                    Failover="PRIMARY",
                    HealthCheckId=check,
                ),
                record(
                    "api.tickets.test", "127.0.2.1", SetIdentifier="secondary", Failover="SECONDARY"
                ),
                record("www.tickets.test", "127.0.3.1"),
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "alb.tickets.test",
                        "Type": "A",
                        "AliasTarget": {
                            "HostedZoneId": "Z2P70J7EXAMPLE",
                            "DNSName": "tickets-1.eu-south-1.elb.amazonaws.com.",
                            "EvaluateTargetHealth": False,
                        },
                    },
                },
            ]
        },
    )
    healthy = {check: True}
    records = route53_failover_resolver(
        get_backend("route53")[DEFAULT_ACCOUNT_ID]["aws"],
        "tickets.test",
        lambda hc: healthy[hc],
        alias_resolver=lambda name: ["127.0.4.1"] if name.startswith("tickets-1.") else [],
    )
    assert records("api.tickets.test.", "A") == [("127.0.1.1", 30)]
    assert records("www.tickets.test", "A") == [("127.0.3.1", 30)]
    assert records("alb.tickets.test.", "A") == [("127.0.4.1", 60)]
    assert records("api.tickets.test.", "AAAA") == []
    assert records("missing.tickets.test.", "A") is None
    healthy[check] = False
    assert records("API.tickets.test.", "A") == [("127.0.2.1", 30)]
    with FailoverDnsServer(records) as server:
        answer = _resolver(server.address[1]).resolve("api.tickets.test", "A")
        assert [r.address for r in answer] == ["127.0.2.1"] and answer.rrset.ttl == 30
