"""Write markers through the ticket API (probes.ticket_markers), against the sandbox's
API instance started here over a moto server: acknowledged = a 2xx answer, read back
from the table (or through the API), an unanswered POST not acknowledged (never lost),
writes spread over every address a nameserver answers, cleanup and the crash cleanup
of the DynamoDB markers deleting them, and the spec's one-line errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chaosaws_ext.controls.measurement import delete_markers, find_markers
from probes import session as measurement
from probes.outage_servers import SwitchableServer
from probes.spec import parse_spec
from probes.ticket_markers import TicketApiMarkers, marker_ticket_id
from sandbox.route53.dns import FailoverDnsServer
from sandbox.seed import TABLE_NAME, seed_table
from sandbox.workload.api import ApiInstance
from sandbox.workload.tickets import TicketStore
from tests.conftest import OTHER_REGION, REGION

INTERVAL = 0.05


@pytest.fixture
def dynamodb(moto_endpoint: str) -> Any:
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint)
    seed_table(client)
    return client


@pytest.fixture
def api(dynamodb: Any) -> Iterator[ApiInstance]:
    instance = ApiInstance("api-a", REGION, f"{REGION}a", store=TicketStore(dynamodb, TABLE_NAME))
    instance.start()
    yield instance
    instance.stop()


def url_of(address: tuple[str, int], host: str | None = None) -> str:
    return f"http://{host or address[0]}:{address[1]}/api/tickets"


@pytest.fixture
def start_session(tmp_path: Path) -> Iterator[Any]:
    targets = tmp_path / "targets.yaml"
    targets.write_text("services:\n  api: {rto_s: 300, rpo_s: 0, source: test}\n")
    probe = SwitchableServer().start()

    def start(markers: dict[str, Any]) -> measurement.MeasurementSession:
        spec = parse_spec(
            {
                "service": "api",
                "targets_file": str(targets),
                "samplers": [{"kind": "http", "url": probe.url}],
                "markers": {
                    "kind": "ticket-api",
                    "table": TABLE_NAME,
                    "region": REGION,
                    "interval_s": INTERVAL,
                    "timeout_s": 0.5,
                    **markers,
                },
            }
        )
        session = measurement.install(measurement.MeasurementSession(spec))
        session.start()
        assert session.writer is not None, session.errors
        return session

    yield start
    measurement.clear()
    probe.stop()


def run_items(dynamodb: Any, run_id: str) -> dict[int, dict[str, Any]]:
    page = dynamodb.scan(
        TableName=TABLE_NAME,
        FilterExpression="gameday_run_id = :r",
        ExpressionAttributeValues={":r": {"S": run_id}},
        ConsistentRead=True,
    )
    return {int(item["gameday_seq"]["N"]): item for item in page["Items"]}


def wait_written(session: measurement.MeasurementSession, count: int, bound: float = 20) -> None:
    deadline = time.monotonic() + bound
    assert session.writer is not None
    while time.monotonic() < deadline:
        done = [m for m in session.writer.markers() if m.acked or m.error]
        if len(done) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} markers answered within {bound}s")


def test_every_acknowledged_ticket_is_read_back_then_deleted(start_session, api, dynamodb) -> None:
    session = start_session({"url": url_of(api.address)})
    wait_written(session, 15)
    session.stop()
    markers = session.writer.markers()
    acked = {m.seq for m in markers if m.acked}
    verdict = session.rpo_verdict()
    assert verdict["measured_s"] == 0.0 and verdict["lost"] == 0 and verdict["met"] is True
    assert verdict["written"] == len(markers) and verdict["acknowledged"] == len(acked) >= 15
    stored = run_items(dynamodb, session.run_id)
    assert acked <= set(stored)
    item = stored[min(acked)]
    assert item["ticket_id"]["S"] == marker_ticket_id(session.run_id, min(acked))
    assert item["gameday_written_at"]["S"] and "created_at" in item
    assert "status" not in item and "customer_id" not in item  # out of the indexes
    session.cleanup()
    assert session.cleaned == len(stored)
    assert run_items(dynamodb, session.run_id) == {}


def test_an_address_in_the_url_is_not_resolved(start_session, api, dynamodb) -> None:
    """A client given an address asks no DNS: a nameserver that never answers (a closed
    port on loopback) changes nothing for a URL that names its address."""
    session = start_session({"url": url_of(api.address), "nameserver": "127.0.0.1:9"})
    wait_written(session, 5)
    session.stop()
    markers = session.writer.markers()
    assert all(m.acked for m in markers), [m.error for m in markers if not m.acked]
    session.cleanup()


def test_an_acknowledged_ticket_missing_after_recovery_is_lost(
    start_session, api, dynamodb
) -> None:
    session = start_session({"url": url_of(api.address)})
    wait_written(session, 20)
    session.writer.stop()
    markers = {m.seq: m for m in session.writer.markers()}
    acked = sorted(seq for seq, m in markers.items() if m.acked)
    gone = acked[5:8]
    stored = run_items(dynamodb, session.run_id)
    for seq in gone:
        key = {k: stored[seq][k] for k in ("ticket_id", "created_at")}
        dynamodb.delete_item(TableName=TABLE_NAME, Key=key)
    session.stop()
    verdict = session.rpo_verdict()
    span = markers[gone[-1]].ack_mono - markers[acked[4]].ack_mono
    assert verdict["lost"] == 3 and verdict["met"] is False
    assert verdict["measured_s"] == pytest.approx(span, abs=0.001)


def test_read_back_through_the_api(start_session, api, dynamodb) -> None:
    session = start_session({"url": url_of(api.address), "read_url": url_of(api.address)})
    wait_written(session, 10)
    session.writer.stop()
    first = min(m.seq for m in session.writer.markers() if m.acked)
    item = run_items(dynamodb, session.run_id)[first]
    dynamodb.delete_item(
        TableName=TABLE_NAME, Key={k: item[k] for k in ("ticket_id", "created_at")}
    )
    session.stop()
    assert session.rpo_result is not None and session.rpo_result.lost_seqs == [first]


def test_a_post_to_a_node_that_never_answers_is_not_acknowledged_not_lost(
    start_session, api, dynamodb
) -> None:
    """The name answers two addresses on the API's port: the API, and a node that
    accepts and never answers (a blackholed zone's). Writes take them in turn."""
    host, port = api.address
    silent = SwitchableServer("127.0.0.2", port).start()
    silent.hang()
    name = "api.tickets.test"
    dns = FailoverDnsServer(
        lambda qname, qtype: (
            [("127.0.0.1", 60), ("127.0.0.2", 60)]
            if qname.rstrip(".") == name and qtype == "A"
            else None
        )
    )
    dns_host, dns_port = dns.start()
    try:
        session = start_session(
            {
                "url": url_of((host, port), name),
                "nameserver": f"{dns_host}:{dns_port}",
                "timeout_s": 0.3,
            }  # fmt: skip
        )
        wait_written(session, 12)
        session.stop()
    finally:
        dns.stop()
        silent.stop()
    markers = session.writer.markers()
    unanswered = [m for m in markers if not m.acked]
    acked = [m for m in markers if m.acked]
    assert acked and unanswered
    assert {m.error for m in unanswered} <= {"TimeoutError", "timeout", "not started"}
    # one write in two went to the silent address (in turn, whatever the skips)
    assert abs(len(acked) - len(unanswered)) <= 2, (len(acked), len(unanswered))
    verdict = session.rpo_verdict()
    assert verdict["lost"] == 0 and verdict["measured_s"] == 0.0
    assert (verdict["written"], verdict["acknowledged"]) == (len(markers), len(acked))
    assert {m.seq for m in acked} == set(run_items(dynamodb, session.run_id))
    session.cleanup()
    assert run_items(dynamodb, session.run_id) == {}


def test_a_crashed_runs_tickets_are_found_by_the_orphan_search_and_deleted(
    api, dynamodb, moto_endpoint
) -> None:
    backend = TicketApiMarkers(url_of(api.address), TABLE_NAME, REGION)
    backend.prepare()
    for seq in (1, 2, 3):
        backend.write("run-crashed", seq, "2020-01-01T00:00:00+00:00", timeout=5)
    spec = {"kind": "ticket-api", "url": backend.url, "table": TABLE_NAME, "region": REGION}
    # the same table named by a dynamodb markers spec too, with its replica region
    items = {"kind": "dynamodb", "table": TABLE_NAME, "replica_region": "eu-west-1"}
    configuration = {"aws_region": REGION, "chaos_markers": [spec, items, {**spec}]}
    found = find_markers(configuration, None, REGION)
    assert [f["args"]["run_id"] for f in found] == ["run-crashed"]  # one table, searched once
    assert found[0]["args"]["replica_region"] == "eu-west-1"
    found[0]["args"]["replica_region"] = None  # this test's moto has no replica table
    assert delete_markers(**found[0]["args"], region=REGION) == {"deleted": 3}
    assert run_items(dynamodb, "run-crashed") == {}
    assert delete_markers(**found[0]["args"], region=REGION) == {"deleted": 0}


@pytest.mark.parametrize(
    ("markers", "error"),
    [
        ({"table": "t"}, "markers.url is required for ticket-api markers"),
        ({"url": "http://a/x"}, "markers.table is required for ticket-api markers"),
        ({"url": "ftp://a/x", "table": "t"}, "markers.url must be http(s)://host[:port]/path"),
        (
            {"url": "http://a/x", "table": "t", "read_url": "a/x"},
            "markers.read_url must be http(s)://host[:port]/path",
        ),
        (
            {"url": "http://a/x", "table": "t", "nameserver": "dns.example"},
            "markers.nameserver must be 'ip' or 'ip:port'",
        ),
    ],  # fmt: skip
)
def test_bad_ticket_api_markers_are_refused_in_one_line(
    tmp_path: Path, markers: dict[str, Any], error: str
) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text("services:\n  api: {rto_s: 300, rpo_s: 0, source: test}\n")
    with pytest.raises(measurement.SpecError) as raised:
        parse_spec(
            {
                "service": "api",
                "targets_file": str(targets),
                "samplers": [{"kind": "http", "url": "http://127.0.0.1:9/"}],
                "markers": {"kind": "ticket-api", **markers},
            }
        )
    assert str(raised.value).startswith(error) and "\n" not in str(raised.value)


def test_read_back_in_another_region_finds_what_it_holds(
    start_session, api, dynamodb, moto_endpoint
) -> None:
    """read_region: the tickets read where a failover would read them (here a table of
    that name that nothing replicates into: every acknowledged ticket is missing)."""
    other = boto3.client("dynamodb", region_name=OTHER_REGION, endpoint_url=moto_endpoint)
    seed_table(other)
    session = start_session({"url": url_of(api.address), "read_region": OTHER_REGION})
    wait_written(session, 5)
    session.stop()
    verdict = session.rpo_verdict()
    assert verdict["lost"] == verdict["acknowledged"] >= 5 and verdict["met"] is False
    session.cleanup()
    assert run_items(dynamodb, session.run_id) == {}


def test_the_lag_poller_sees_tickets_in_the_replica_by_the_key_the_api_answered(
    api, dynamodb, moto_endpoint
) -> None:
    """present_in (the lag poller's read of the replica): each acknowledged ticket by its
    full key from the API's 201 (the API chose created_at), batched; a ticket copied
    into the other region's table is seen there, one not copied is not."""
    other = boto3.client("dynamodb", region_name=OTHER_REGION, endpoint_url=moto_endpoint)
    seed_table(other)
    markers = TicketApiMarkers(url_of(api.address), TABLE_NAME, REGION, replica_region=OTHER_REGION)
    markers.prepare()
    run_id = "lagtest"
    for seq in (1, 2, 3):
        markers.write(run_id, seq, "2026-12-01T00:00:00+00:00", timeout=5)
    assert sorted(markers._stored) == [1, 2, 3]  # every key taken from the API's answer
    stored = run_items(dynamodb, run_id)
    assert sorted(stored) == [1, 2, 3]
    for seq in (1, 3):  # the "replication" of two of them
        other.put_item(TableName=TABLE_NAME, Item=stored[seq])
    assert markers.present_in(OTHER_REGION, run_id, [1, 2, 3]) == {1, 3}
    assert markers.present_in(REGION, run_id, [1, 2, 3]) == {1, 2, 3}
    markers._stored.clear()  # an API that answers no key: read by partition key instead
    assert markers.present_in(OTHER_REGION, run_id, [1, 2, 3]) == {1, 3}
    assert markers.cleanup(run_id, [1, 2, 3]) == 3
    assert run_items(dynamodb, run_id) == {}
