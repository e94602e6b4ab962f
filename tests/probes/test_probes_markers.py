"""Write markers on a real PostgreSQL (pgserver) and on DynamoDB (moto server): RPO 0
when nothing is lost, the right span when markers are deleted, replication lag, cleanup.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chaosaws_ext.core.recovery_schema import problems
from probes import session as measurement
from probes.outage_servers import SwitchableServer
from probes.recovery import Marker
from tests.conftest import OTHER_REGION, REGION

WRITER_INTERVAL = 0.05


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    from sandbox.dataplane.postgres import import_pgserver

    pgserver = import_pgserver()

    folder = tempfile.mkdtemp(prefix="pgm")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def target() -> Iterator[SwitchableServer]:
    server = SwitchableServer().start()
    yield server
    server.stop()


@pytest.fixture
def start_session(tmp_path: Path, target: SwitchableServer) -> Iterator[Any]:
    path = tmp_path / "targets.yaml"
    path.write_text("services:\n  db: {rto_s: 30, rpo_s: 0.5, source: test}\n")

    def start(markers: dict, writer: bool = True) -> measurement.MeasurementSession:
        spec = measurement.parse_spec(
            {
                "service": "db",
                "targets_file": str(path),
                "samplers": [{"kind": "http", "url": target.url}],
                "markers": markers,
            }
        )
        session = measurement.install(measurement.MeasurementSession(spec))
        session.start()
        if writer:
            assert session.writer is not None, session.errors
        return session

    yield start
    measurement.clear()


def wait_acked(session: measurement.MeasurementSession, count: int, bound: float = 10) -> None:
    deadline = time.monotonic() + bound
    assert session.writer is not None
    while time.monotonic() < deadline:
        if sum(m.acked for m in session.writer.markers()) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} acknowledged markers within {bound}s")


def by_seq(session: measurement.MeasurementSession) -> dict[int, Marker]:
    assert session.writer is not None
    return {m.seq: m for m in session.writer.markers()}


def pg_rows(postgres: Any, run_id: str) -> set[int]:
    import psycopg

    with psycopg.connect(postgres.get_uri(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT seq FROM gameday_markers WHERE run_id = %s", (run_id,)
        ).fetchall()
    return {row[0] for row in rows}


def pg_delete(postgres: Any, run_id: str, seqs: list[int]) -> None:
    import psycopg

    with psycopg.connect(postgres.get_uri(), autocommit=True) as conn:
        conn.execute(
            "DELETE FROM gameday_markers WHERE run_id = %s AND seq = ANY(%s)", (run_id, seqs)
        )


def test_postgres_markers_nothing_lost(start_session, postgres) -> None:
    session = start_session(
        {"kind": "postgres", "dsn": postgres.get_uri(), "interval_s": WRITER_INTERVAL}
    )
    wait_acked(session, 10)
    session.stop()
    verdict = session.rpo_verdict()
    acked = [m.seq for m in by_seq(session).values() if m.acked]
    assert verdict["measured_s"] == 0.0 and verdict["lost"] == 0 and verdict["met"] is True
    assert verdict["acknowledged"] == len(acked) >= 10
    assert set(acked) <= pg_rows(postgres, session.run_id)
    session.cleanup()
    assert pg_rows(postgres, session.run_id) == set()


def test_postgres_markers_lost_in_the_middle_and_at_the_end(start_session, postgres) -> None:
    session = start_session(
        {"kind": "postgres", "dsn": postgres.get_uri(), "interval_s": WRITER_INTERVAL}
    )
    wait_acked(session, 20)
    assert session.writer is not None
    session.writer.stop()  # no new markers while we "lose" some
    markers = by_seq(session)
    acked = sorted(seq for seq, m in markers.items() if m.acked)
    middle = acked[5:8]
    end = acked[-2:]
    pg_delete(postgres, session.run_id, middle + end)
    session.stop()
    verdict = session.rpo_verdict()
    middle_span = markers[middle[-1]].ack_mono - markers[acked[4]].ack_mono
    end_span = markers[end[-1]].ack_mono - markers[acked[-3]].ack_mono
    assert verdict["lost"] == 5
    assert verdict["measured_s"] == pytest.approx(max(middle_span, end_span), abs=0.001)
    assert verdict["met"] == (verdict["measured_s"] <= 0.5)
    block = session.recovery_block()
    assert problems(block) == []
    assert block["rpo"]["lost"] == 5 and block["rpo"]["resolution_s"] == WRITER_INTERVAL
    session.cleanup()
    assert pg_rows(postgres, session.run_id) == set()


def test_verdicts_during_the_method_leave_the_writer_running(start_session, postgres) -> None:
    """A verdict asked before the method ends (a continuous hypothesis) judges nothing
    yet and changes nothing: the writer keeps writing, the RPO is read back by stop."""
    session = start_session(
        {"kind": "postgres", "dsn": postgres.get_uri(), "interval_s": WRITER_INTERVAL}
    )
    wait_acked(session, 3)
    early = [session.rpo_verdict(), session.rpo_verdict()]
    assert early[0] == early[1]
    assert early[0]["measured_s"] is None and early[0]["met"] is False  # db has an RPO target
    assert early[0]["reason"].startswith("RPO not measured: the markers are still being written")
    session.rto_verdict()
    assert session.rpo_result is None and session.stopped_mono is None
    before = len(by_seq(session))
    wait_acked(session, before + 3)  # still writing after the verdicts
    session.stop()
    verdict = session.rpo_verdict()
    assert verdict["measured_s"] == 0.0 and verdict["acknowledged"] >= before + 3
    session.cleanup()


def test_no_acknowledged_write_is_not_an_rpo_of_zero(start_session, postgres) -> None:
    """A store that refused every marker lost nothing we know of, and proved nothing
    either: the RPO is not measured (not met against a target), never "0 s, met"."""
    import psycopg

    with psycopg.connect(postgres.get_uri(), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS refusing_markers (run_id text NOT NULL, "
            "seq bigint NOT NULL, written_at timestamptz NOT NULL, CHECK (false))"
        )
    session = start_session(
        {
            "kind": "postgres",
            "dsn": postgres.get_uri(),
            "table": "refusing_markers",
            "interval_s": WRITER_INTERVAL,
        }
    )
    deadline = time.monotonic() + 10
    while len(by_seq(session)) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    session.stop()
    attempted = by_seq(session)
    assert len(attempted) >= 5 and not any(m.acked for m in attempted.values())
    verdict = session.rpo_verdict()
    assert verdict["measured_s"] is None and verdict["met"] is False
    assert verdict["acknowledged"] == 0 and verdict["written"] == len(attempted)
    assert verdict["reason"] == (
        f"RPO not measured: no marker write was acknowledged ({len(attempted)} attempted): "
        "the data store took no write during the run"
    )
    assert problems(session.recovery_block()) == []
    session.cleanup()


def test_postgres_markers_unreachable_primary(start_session) -> None:
    session = start_session({"kind": "postgres", "dsn": "host=/nonexistent dbname=x"}, writer=False)
    # prepare failed: the session reports why and the verdict is not met
    verdict = session.rpo_verdict()
    assert verdict["met"] is False and "could not prepare postgres" in verdict["reason"]


def make_table(region: str) -> None:
    boto3.client("dynamodb", region_name=region).create_table(
        TableName="tickets",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


class Replicator:
    """Copies new items from region A to region B after ``delay`` s (moto does not)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.source = boto3.client("dynamodb", region_name=REGION)
        self.sink = boto3.client("dynamodb", region_name=OTHER_REGION)
        self.copied: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        due: list[tuple[float, dict]] = []
        seen: set[str] = set()
        while not self._stop.is_set():
            for item in self.source.scan(TableName="tickets")["Items"]:
                key = item["pk"]["S"]
                if key not in seen:
                    seen.add(key)
                    due.append((time.monotonic() + self.delay, item))
            now = time.monotonic()
            for when, item in [d for d in due if d[0] <= now]:
                self.sink.put_item(TableName="tickets", Item=item)
                self.copied[item["pk"]["S"]] = time.monotonic()
                due.remove((when, item))
            self._stop.wait(0.01)

    def __enter__(self) -> Replicator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def test_dynamodb_markers_rpo_lag_and_cleanup(start_session, moto_endpoint) -> None:
    make_table(REGION)
    make_table(OTHER_REGION)
    with Replicator(delay=0.3):
        session = start_session(
            {
                "kind": "dynamodb",
                "table": "tickets",
                "region": REGION,
                "replica_region": OTHER_REGION,
                "interval_s": 0.1,
                "timeout_s": 1.0,
                "lag_interval_s": 0.05,
            }
        )
        wait_acked(session, 10)
        assert session.writer is not None
        session.writer.stop()
        markers = by_seq(session)
        acked = sorted(seq for seq, m in markers.items() if m.acked)
        lost = acked[3:5]
        client = boto3.client("dynamodb", region_name=REGION)
        for seq in lost:
            client.delete_item(
                TableName="tickets",
                Key={
                    "pk": {"S": f"gameday-marker#{session.run_id}#{seq:09d}"},
                    "sk": {"S": "gameday-marker"},
                },
            )
        session.stop()  # waits (bounded) until the replica saw every marker
    block = session.recovery_block()
    assert problems(block) == []  # the lag block too
    assert block["rpo"]["lost"] == 2
    expected = markers[lost[-1]].ack_mono - markers[acked[2]].ack_mono
    assert block["rpo"]["measured_s"] == pytest.approx(expected, abs=0.001)
    lag = block["replication_lag_s"]
    assert lag["unseen"] == 0 and lag["count"] == len(acked)
    # replication takes 0.3 s here; the poller's resolution is 0.05 s (+ moto's scan loop)
    assert 0.3 <= lag["p50"] <= 0.3 + 4 * 0.05  # four poller intervals
    assert lag["p50"] <= lag["p99"] <= lag["max"]
    session.cleanup()
    for region in (REGION, OTHER_REGION):
        items = boto3.client("dynamodb", region_name=region).scan(TableName="tickets")["Items"]
        assert [i for i in items if i["pk"]["S"].startswith("gameday-marker#")] == []


def test_dynamodb_markers_need_a_string_partition_key(start_session, moto_endpoint) -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="numbers",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    spec_error = None
    try:
        start_session({"kind": "dynamodb", "table": "numbers", "region": REGION})
    except AssertionError as error:
        spec_error = str(error)
    assert spec_error and "partition key id must be a string" in spec_error
