"""RDS restores in the twin: LatestRestorableTime lags as AWS documents, a restore is
``creating`` for its window, and the restored instance's described endpoint serves a
real PostgreSQL holding the source's rows up to the restore point and none after."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from chaosaws_ext.core.waiting import wait_until
from sandbox.orchestrator import Sandbox
from sandbox.rds.restore import (
    LOG_UPLOAD_INTERVAL_S,
    RESTORE_SECONDS,
    RestoreTimings,
    latest_restorable_time,
    restore_time_problem,
)

SCALE = 0.01
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_latest_restorable_time_is_the_last_five_minute_log_upload() -> None:
    assert LOG_UPLOAD_INTERVAL_S == 300.0
    at = latest_restorable_time
    assert at(EPOCH, EPOCH + timedelta(seconds=299), 300) == EPOCH
    assert at(EPOCH, EPOCH + timedelta(seconds=300), 300) == EPOCH + timedelta(seconds=300)
    assert at(EPOCH, EPOCH + timedelta(seconds=899), 300) == EPOCH + timedelta(seconds=600)
    assert at(EPOCH, EPOCH - timedelta(seconds=5), 300) == EPOCH


def test_a_restore_time_after_the_latest_restorable_one_is_refused() -> None:
    latest = EPOCH + timedelta(seconds=600)
    assert restore_time_problem(latest, EPOCH, latest) is None
    later = restore_time_problem(latest + timedelta(seconds=1), EPOCH, latest)
    assert later is not None and "after the latest restorable time" in later
    earlier = restore_time_problem(EPOCH - timedelta(seconds=1), EPOCH, latest)
    assert earlier is not None and "before the earliest restorable time" in earlier


def test_timings_scale_and_refuse_nonsense() -> None:
    timings = RestoreTimings.scaled(time_scale=0.01)
    assert timings.restore == pytest.approx(RESTORE_SECONDS * 0.01)
    assert timings.log_upload == pytest.approx(3.0)
    with pytest.raises(ValueError):
        RestoreTimings.scaled(time_scale=0)
    with pytest.raises(ValueError):
        RestoreTimings.scaled(log_upload_seconds=0)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    twin = Sandbox(time_scale=SCALE)
    twin.start()
    yield twin
    twin.stop()


def _describe(rds: Any, db_id: str) -> dict[str, Any]:
    return rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]


def _write_rows(dsn: str, run_id: str, stamps: list[datetime]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS gameday_markers (run_id text NOT NULL, "
            "seq bigint NOT NULL, written_at timestamptz NOT NULL, PRIMARY KEY (run_id, seq))"
        )
        for seq, stamp in enumerate(stamps, start=1):
            conn.execute("INSERT INTO gameday_markers VALUES (%s, %s, %s)", (run_id, seq, stamp))


def test_a_point_in_time_restore_holds_the_rows_up_to_the_restore_point(
    sandbox: Sandbox,
) -> None:
    assert sandbox.topology is not None
    rds = sandbox.client("rds")
    source = sandbox.topology.db_instance_id
    lrt = _describe(rds, source)["LatestRestorableTime"]
    lag = (datetime.now(UTC) - lrt).total_seconds()
    assert -0.5 <= lag < LOG_UPLOAD_INTERVAL_S * SCALE + 0.5
    point = datetime.now(UTC) - timedelta(seconds=0.5)
    run_id = "restore-test"
    before = [point - timedelta(seconds=s) for s in (3, 2, 1)]
    after = [point + timedelta(seconds=s) for s in (0.2, 0.4)]
    _write_rows(sandbox.topology.db_dsn, run_id, before + after)
    with pytest.raises(ClientError, match="after the latest restorable time"):
        rds.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier=source,
            TargetDBInstanceIdentifier="refused-restore",
            RestoreTime=datetime.now(UTC) + timedelta(seconds=60),
        )
    # wait until the restore point is restorable (the next log upload), bounded
    wait_until(
        lambda: _describe(rds, source)["LatestRestorableTime"] >= point or None,
        timeout=10,
        interval=0.1,
        what="the next log upload",
    )
    called = time.monotonic()
    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=source,
        TargetDBInstanceIdentifier="restore-test-db",
        RestoreTime=point,
        Tags=[{"Key": "chaos:managed-by", "Value": "chaosaws-ext"}],
    )
    assert _describe(rds, "restore-test-db")["DBInstanceStatus"] == "creating"
    window = RESTORE_SECONDS * SCALE
    wait_until(
        lambda: _describe(rds, "restore-test-db")["DBInstanceStatus"] == "available" or None,
        timeout=window + 20,
        interval=0.05,
        what="the restored instance",
    )
    took = time.monotonic() - called
    assert window - 0.1 <= took <= window + 5
    endpoint = _describe(rds, "restore-test-db")["Endpoint"]
    assert endpoint["Address"].startswith("127.")
    assert endpoint["Address"] != _describe(rds, source)["Endpoint"]["Address"]
    dsn = f"postgresql://postgres@{endpoint['Address']}:{endpoint['Port']}/postgres"
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        seqs = [
            r[0]
            for r in conn.execute(
                "SELECT seq FROM gameday_markers WHERE run_id = %s ORDER BY seq", (run_id,)
            )
        ]
    assert seqs == [1, 2, 3]  # the two rows written after the restore point are not there
    rds.delete_db_instance(DBInstanceIdentifier="restore-test-db", SkipFinalSnapshot=True)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=2)
