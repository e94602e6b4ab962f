"""Samplers against local targets that really go down and up (HTTP, TCP, DNS, PostgreSQL,
DynamoDB on moto): the measured RTO is within one interval + 50 ms of the ground truth.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosaws_ext.mutation import stamp_injected
from probes import session as measurement
from probes.activities import wait_for_recovery
from probes.outage_servers import SwitchableServer
from probes.samplers import DnsHttpCheck, SpecError, build_check

TOLERANCE = 2 * 0.05  # two sampling intervals at 20 Hz: scheduling delay on a loaded machine


@pytest.fixture
def targets_file(tmp_path: Path) -> str:
    path = tmp_path / "targets.yaml"
    path.write_text(
        "services:\n"
        "  web: {rto_s: 30, rpo_s: 5, source: test}\n"
        "  strict: {rto_s: 0.1, rpo_s: 0, source: test}\n"
    )
    return str(path)


@pytest.fixture
def start_session(targets_file: str) -> Iterator[Any]:
    sessions: list[measurement.MeasurementSession] = []

    def start(samplers: list[dict], service: str = "web", **extra: Any):
        spec = measurement.parse_spec(
            {"service": service, "targets_file": targets_file, "samplers": samplers, **extra}
        )
        session = measurement.install(
            measurement.MeasurementSession(spec, f"test-{time.monotonic_ns()}")
        )
        sessions.append(session)
        session.start()
        return session

    yield start
    for session in sessions:
        session.stop()
    measurement.clear()


@pytest.fixture
def server() -> Iterator[SwitchableServer]:
    target = SwitchableServer().start()
    yield target
    target.stop()


def wait_samples(session: measurement.MeasurementSession, count: int, bound: float = 5) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if all(len(s.settled()) >= count for s in session.samplers):
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} samples within {bound}s")


def outage(server: SwitchableServer, seconds: float, fault: str = "test") -> tuple[float, float]:
    """Stamp t0, take the server down for ``seconds``; returns (t0, truth_rto)."""
    t0 = stamp_injected(fault).monotonic
    server.down_for(seconds)
    return t0, 0.0


def truth_rto(server: SwitchableServer, t0: float) -> float:
    spans = server.outages()
    assert spans and spans[-1][1] is not None
    return spans[-1][1] - t0


@pytest.mark.parametrize("hz", [4, 20])
def test_http_outage_rto_within_one_interval(start_session, server, hz: int) -> None:
    session = start_session(
        [{"name": "web", "kind": "http", "url": server.url, "expect_body": "ok"}],
        frequency_hz=hz,
    )
    wait_samples(session, 4)
    t0, _ = outage(server, 1.0)
    result = wait_for_recovery(timeout=10, quiet_period=5)
    assert result["outage"] is True
    truth = truth_rto(server, t0)
    verdict = session.rto_verdict()
    assert truth <= verdict["measured_s"] + 0.005
    assert verdict["measured_s"] - truth <= 1 / hz + TOLERANCE
    assert verdict["met"] is True and verdict["resolution_s"] == pytest.approx(1 / hz)
    errors = {s.error for s in session.samplers[0].samples() if not s.ok}
    assert errors == {"refused"}


def test_no_outage_gives_rto_zero(start_session, server) -> None:
    session = start_session([{"kind": "http", "url": server.url}], frequency_hz=20)
    wait_samples(session, 3)
    stamp_injected("harmless")
    result = wait_for_recovery(timeout=5, quiet_period=0.5)
    assert result == {"outage": False, "rto_s": 0.0, "waited_s": result["waited_s"]}
    assert session.rto_verdict()["measured_s"] == 0.0


def test_outage_that_never_ends_fails_the_wait_and_the_verdict(start_session, server) -> None:
    from chaoslib.exceptions import ActivityFailed

    session = start_session([{"kind": "http", "url": server.url}], frequency_hz=20)
    wait_samples(session, 3)
    stamp_injected("forever")
    server.down()
    started = time.monotonic()
    with pytest.raises(ActivityFailed, match="not recovered within 1s"):
        wait_for_recovery(timeout=1, quiet_period=5)
    assert time.monotonic() - started < 2
    session.stop()
    verdict = session.rto_verdict()
    assert verdict["met"] is False and verdict["measured_s"] is None
    assert "had not ended" in verdict["reason"]


def test_hanging_target_does_not_stall_the_cadence(start_session, server) -> None:
    session = start_session([{"kind": "http", "url": server.url}], frequency_hz=20, max_in_flight=3)
    wait_samples(session, 3)
    t0 = stamp_injected("hang").monotonic
    server.hang()
    time.sleep(0.6)  # let it hang for a while (the thing under test is the cadence)
    server.up()
    wait_for_recovery(timeout=5, quiet_period=5)
    session.stop()
    samples = session.samplers[0].samples()
    during = [s for s in samples if t0 <= s.t_mono <= t0 + 0.6]
    gaps = [b.t_mono - a.t_mono for a, b in zip(samples, samples[1:], strict=False)]
    # a stalled cadence would leave a gap as long as the hang (0.6 s); a loaded machine
    # may delay one tick by an interval or two
    assert max(gaps) < 0.05 * 4, "the cadence stalled while the target hung"
    assert len(during) >= 10
    assert {s.error for s in during} <= {"timeout", "overrun"}
    assert "timeout" in {s.error for s in during}
    # no sample is slower than its timeout and still counted as ok
    assert all(s.latency_ms is None or s.latency_ms <= 40 + 50 for s in samples if s.ok)


def test_tcp_sampler(start_session, server) -> None:
    session = start_session(
        [{"kind": "tcp", "host": "127.0.0.1", "port": str(server.port)}], frequency_hz=20
    )
    wait_samples(session, 3)
    t0, _ = outage(server, 0.5)
    wait_for_recovery(timeout=5, quiet_period=5)
    measured = session.rto_verdict()["measured_s"]
    # a sample is stamped at its tick: one started up to its timeout before the target
    # came back can still succeed, so the error is within one interval either way (+50 ms)
    assert -0.05 <= measured - truth_rto(server, t0) <= 0.05 + TOLERANCE


class _FlipResolver:
    """A DNS server answering one name with an address we flip, with a TTL."""

    def __init__(self, name: str, address: str, ttl: int) -> None:
        self.name, self.address, self.ttl = name, address, ttl
        self.queries = 0

    def resolve(self, request: Any, handler: Any) -> Any:
        from dnslib import QTYPE, RR, A

        reply = request.reply()
        self.queries += 1
        if str(request.q.qname).rstrip(".") == self.name and request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(self.address), ttl=self.ttl))
        return reply


@pytest.fixture
def dns_server() -> Iterator[tuple[_FlipResolver, str]]:
    from dnslib.server import DNSLogger, DNSServer

    resolver = _FlipResolver("api.gameday.test", "127.0.0.1", ttl=1)
    server = DNSServer(
        resolver, port=0, address="127.0.0.1", logger=DNSLogger("-request,-reply,-truncated")
    )
    server.start_thread()
    port = server.server.server_address[1]
    yield resolver, f"127.0.0.1:{port}"
    server.stop()


def test_http_through_dns_honours_the_ttl_and_sees_the_flip(start_session, dns_server) -> None:
    resolver, nameserver = dns_server
    primary = SwitchableServer("127.0.0.1").start()
    secondary = SwitchableServer("127.0.0.2", primary.port).start()
    try:
        url = f"http://api.gameday.test:{primary.port}/health"
        session = start_session(
            [{"name": "dns", "kind": "http_dns", "url": url, "nameserver": nameserver}],
            frequency_hz=20,
        )
        wait_samples(session, 10)
        elapsed = time.monotonic() - (session.started_mono or 0)
        samples = len(session.samplers[0].samples())
        # cached for its TTL (1 s): about one query per second, not one per sample
        assert resolver.queries <= elapsed + 2 < samples
        t0 = stamp_injected("route53").monotonic
        primary.down()
        resolver.address = "127.0.0.2"  # the failover flips the record
        flipped = time.monotonic()
        wait_for_recovery(timeout=5, quiet_period=5)
        session.stop()
        block = session.recovery_block()
        measured = block["rto"]["measured_s"]
        # the client keeps the old answer until its TTL (1 s) runs out
        assert 0 < measured <= 1.0 + 0.05 + TOLERANCE + (flipped - t0)
        assert block["rto"]["phases"]["dns_s"] == pytest.approx(measured, abs=0.001)
        details = {s.detail for s in session.samplers[0].samples() if s.error != "timeout"}
        assert details == {"127.0.0.1", "127.0.0.2"}
        assert secondary.requests > 0
    finally:
        primary.stop()
        secondary.stop()


def test_dns_check_errors() -> None:
    with pytest.raises(SpecError, match="ip:port"):
        DnsHttpCheck("http://a.test/", "ns.example.com:53")
    assert DnsHttpCheck("http://a.test/", "10.0.0.2").ns_port == 53
    assert DnsHttpCheck("http://a.test/", "[::1]:5353").nameserver == "::1"
    assert DnsHttpCheck("http://a.test/", "").nameserver is None  # the system's resolvers
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))  # a nameserver that never answers
    try:
        check = DnsHttpCheck("http://a.test/", f"127.0.0.1:{sock.getsockname()[1]}")
        with pytest.raises(Exception) as info:
            check(0.1)
        assert getattr(info.value, "kind", "") == "dns_timeout"
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "ftp"}, "kind must be one of"),
        ({"kind": "http"}, "http needs url"),
        ({"kind": "http", "url": "ftp://x"}, "url must be http"),
        ({"kind": "http", "url": "http://x", "expect_status": "200"}, "expect_status"),
        ({"kind": "tcp", "host": "h", "port": "x"}, "port must be an integer"),
        ({"kind": "http", "url": "http://x", "requests_per_sample": 0}, "between 1 and 16"),
        ({"kind": "http", "url": "http://x", "requests_per_sample": "x"}, "requests_per_sample"),
        ({"kind": "http", "url": "http://x", "requests_per_sample": 2.5}, "requests_per_sample"),
        ({"kind": "postgres"}, "dsn"),
        ({"kind": "dynamodb"}, "needs table"),
        ({"kind": "dynamodb", "table": "t", "key": "pk"}, "key must be a mapping"),
        ({"kind": "dynamodb", "table": "t", "key": {"pk": "a"}, "operation": "scan"}, "get"),
    ],
)
def test_sampler_spec_errors(spec: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        build_check(spec)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    from sandbox.dataplane.postgres import import_pgserver

    pgserver = import_pgserver()
    import psycopg

    folder = tempfile.mkdtemp(prefix="pg")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE app")
    yield server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def set_connections(postgres: Any, allowed: bool) -> float:
    import psycopg

    with psycopg.connect(postgres.get_uri(), autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE app ALLOW_CONNECTIONS {str(allowed).lower()}")
    return time.monotonic()


def test_postgres_sampler_outage(start_session, postgres) -> None:
    session = start_session(
        [{"name": "db", "kind": "postgres", "dsn": postgres.get_uri("app")}], frequency_hz=10
    )
    wait_samples(session, 3)
    t0 = stamp_injected("rds").monotonic
    set_connections(postgres, False)
    threading.Timer(0.8, set_connections, args=(postgres, True)).start()
    wait_for_recovery(timeout=10, quiet_period=5)
    session.stop()
    samples = session.samplers[0].samples()
    first_ok_after = min(
        s.t_mono for s in samples if s.ok and s.t_mono > t0 + 0.8
    )  # ground truth: connections allowed again at ~t0 + 0.8
    measured = session.rto_verdict()["measured_s"]
    assert 0.8 <= measured + 0.005
    assert measured - 0.8 <= 0.1 + 0.1 + TOLERANCE  # ALTER DATABASE round trip + interval
    assert first_ok_after - t0 == pytest.approx(measured, abs=0.001)
    assert not all(s.ok for s in samples)


def test_dynamodb_sampler_outage(start_session, moto_endpoint) -> None:
    import boto3

    client = boto3.client("dynamodb", region_name="eu-south-1")

    def create() -> float:
        client.create_table(
            TableName="tickets",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return time.monotonic()

    create()
    session = start_session(
        [
            {"name": "get", "kind": "dynamodb", "table": "tickets"},  # key from the schema
            {
                "name": "put",
                "kind": "dynamodb",
                "table": "tickets",
                "key": {"pk": "probe"},
                "operation": "put",
                "region": "eu-south-1",
            },
        ],
        frequency_hz=10,
        timeout_s=0.5,
    )
    wait_samples(session, 3)
    t0 = stamp_injected("dynamodb").monotonic
    client.delete_table(TableName="tickets")
    back: list[float] = []
    timer = threading.Timer(0.6, lambda: back.append(create()))
    timer.start()
    wait_for_recovery(timeout=10, quiet_period=5)
    session.stop()
    truth = back[0] - t0
    measured = session.rto_verdict()["measured_s"]
    assert -0.005 <= measured - truth <= 0.1 + TOLERANCE
    errors = {s.error for s in session.samplers[0].samples() if not s.ok}
    assert "ResourceNotFoundException" in errors
    assert errors <= {"ResourceNotFoundException", "timeout", "overrun"}


def test_wall_clock_jumping_backwards_does_not_change_durations(
    start_session, server, monkeypatch
) -> None:
    import itertools

    import probes.samplers as samplers_module

    counter = itertools.count()

    def jumping_wall() -> str:  # an hour back after the 10th sample
        return "2026-01-01T10:00:00Z" if next(counter) < 10 else "2026-01-01T09:00:00Z"

    monkeypatch.setattr(samplers_module, "wall_now", jumping_wall)
    session = start_session([{"kind": "http", "url": server.url}], frequency_hz=20)
    wait_samples(session, 12)
    t0, _ = outage(server, 0.5)
    wait_for_recovery(timeout=5, quiet_period=5)
    measured = session.rto_verdict()["measured_s"]
    # a sample is stamped at its tick: one started up to its timeout before the target
    # came back can still succeed, so the error is within one interval either way (+50 ms)
    assert -0.05 <= measured - truth_rto(server, t0) <= 0.05 + TOLERANCE
    assert session.samplers[0].samples()[-1].t_wall == "2026-01-01T09:00:00Z"


def test_a_round_of_requests_per_sample_sees_a_partial_outage_every_time() -> None:
    """Behind a round robin over three backends, one of them lost: one request per
    sample fails one sample in three; a round of three per sample fails every one."""
    import itertools
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    rotation = itertools.count()

    class RoundRobin(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            status = 503 if next(rotation) % 3 == 0 else 200  # backend 0 is lost
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), RoundRobin)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"

        def outcomes(check: Any) -> list[bool]:
            results = []
            for _ in range(6):
                try:
                    check(2.0)
                    results.append(True)
                except Exception:
                    results.append(False)
            return results

        assert outcomes(build_check({"kind": "http", "url": url})).count(False) == 2
        round_check = build_check({"kind": "http", "url": url, "requests_per_sample": "3"})
        assert outcomes(round_check) == [False] * 6
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
