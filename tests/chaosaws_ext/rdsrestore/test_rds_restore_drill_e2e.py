"""rds-restore-drill end to end: the real `chaos run` against the sandbox (restore
window, lagging LatestRestorableTime, a real restored PostgreSQL), then `gameday
recover` after a SIGKILL mid-restore, by ledger and by tag."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chaosaws_ext.core.recovery_schema import problems
from chaosaws_ext.core.waiting import wait_until
from sandbox.orchestrator import Sandbox
from sandbox.rds.restore import RESTORE_SECONDS
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable, gameday_executable

pytestmark = pytest.mark.e2e

SCALE = 0.01
WINDOW = RESTORE_SECONDS * SCALE  # the emulated restore window (6 s)
EXPERIMENT = REPO / "experiments" / "rds-restore-drill.yaml"
RESTORED = "production-analytics-db-restore"
QUERY_INTERVAL = 0.25  # wait_for_restored_instance's default: the RTO's resolution
# a shared 2-core machine: thread and process scheduling on top of the resolutions
SLACK_S = 1.5


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    twin = Sandbox(time_scale=SCALE)
    twin.start()
    yield twin
    twin.stop()


def _env(sandbox: Sandbox, tmp_path: Path, **extra: str) -> dict[str, str]:
    assert sandbox.topology is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    env.update(sandbox.topology.env())
    env.update(GAMEDAY_LEDGER=str(tmp_path / "ledger.jsonl"), **extra)
    return env


def _chaos(env: dict[str, str], tmp_path: Path) -> list[str]:
    return [
        chaos_executable(),
        "--no-log-file",
        "--no-version-check",
        "run",
        "--journal-path",
        str(tmp_path / "journal.json"),
        str(EXPERIMENT),
    ]


def _instances(sandbox: Sandbox) -> set[str]:
    rds = sandbox.client("rds")
    return {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]}


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _assert_nothing_left(sandbox: Sandbox) -> None:
    assert _instances(sandbox) == {"production-analytics-db"}
    assert sandbox.rds_restore.restores == {}
    restored = sandbox.workdir / "restored" if sandbox.workdir else None
    if restored is not None:  # a restore cut short stops its half-started database itself
        wait_until(
            lambda: not any(restored.glob("restored-*")) or None,
            timeout=30,
            interval=0.1,
            what="the restored data directories to be removed",
        )


def _recovery(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "journal.json").read_text())["recovery"]


def test_the_drill_measures_the_restore_verifies_it_and_deletes_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = _env(sandbox, tmp_path)
    done = subprocess.run(
        _chaos(env, tmp_path), env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    recovery = _recovery(tmp_path)
    assert problems(recovery) == []  # the drill block validates against the schema
    restore = recovery["restore"]
    assert restore["kind"] == "rds-point-in-time"
    assert restore["source"] == "production-analytics-db" and restore["restored"] == RESTORED
    assert restore["deleted"] is True
    phases = {p["name"]: p["at_s"] for p in restore["phases"]}
    assert list(phases) == ["api_accepted", "available", "endpoint_resolvable", "first_query"]
    poll = float(env["GAMEDAY_RESTORE_POLL_INTERVAL"])
    # available once the emulated window is over (seen within one poll), answering
    # within one query interval after that
    assert WINDOW <= phases["available"] <= WINDOW + poll + SLACK_S
    rto = recovery["rto"]
    assert rto["measured_s"] == phases["first_query"]
    recovered = (_at(rto["recovered_at"]) - _at(restore["drill_started"])).total_seconds()
    assert recovered == pytest.approx(phases["first_query"], abs=0.002)
    assert WINDOW <= rto["measured_s"] <= WINDOW + poll + QUERY_INTERVAL + SLACK_S
    assert rto["resolution_s"] == QUERY_INTERVAL
    assert rto["met"] is True and rto["target_s"] == 14400
    # restore RPO: the markers acknowledged between the restore point and the restore
    # call are the ones lost; their span is the call - restore point within resolution
    truth = (_at(restore["drill_started"]) - _at(restore["restore_point"])).total_seconds()
    rpo = recovery["rpo"]
    marker_interval = float(env["GAMEDAY_MARKER_INTERVAL"])
    assert rpo["measured_s"] == pytest.approx(truth, abs=2 * marker_interval + 0.2)
    assert rpo["met"] is True and rpo["target_s"] == 14400
    assert restore["latest_restorable_lag_s"] == pytest.approx(truth, abs=0.05)
    assert 0 <= restore["latest_restorable_lag_s"] < 300 * SCALE + 0.5
    verification = restore["verification"]
    assert verification["passed"] is True and verification["missing_count"] == 0
    assert verification["markers_expected"] == verification["markers_present"] > 0
    assert recovery["target"]["source"].endswith(
        "| Analytics DB | Medium | < 4 hours | < 4 hours | Multi-AZ + Daily Backup |"
    )
    _assert_nothing_left(sandbox)


def test_an_older_restore_point_is_the_rpo_and_misses_the_target(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    gap = 2.0
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        "version: 1\nservices:\n  analytics-db:\n    rto_s: 14400\n    rto_bound: '<'\n"
        f"    rpo_s: {gap / 2}\n    rpo_bound: '<'\n"
        "    source: 'test: an RPO target below the deliberate gap'\n"
    )
    env = _env(
        sandbox,
        tmp_path,
        GAMEDAY_RESTORE_AGE=str(gap),
        GAMEDAY_RESTORABLE_AFTER=str(gap + 1),
        GAMEDAY_TARGETS_FILE=str(targets),
    )
    done = subprocess.run(
        _chaos(env, tmp_path), env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    recovery = _recovery(tmp_path)
    restore = recovery["restore"]
    truth = (_at(restore["drill_started"]) - _at(restore["restore_point"])).total_seconds()
    assert truth >= gap
    assert recovery["rpo"]["measured_s"] == pytest.approx(truth, abs=0.4)
    assert recovery["rpo"]["met"] is False
    assert "restore lost" in recovery["rpo"]["reason"]
    assert restore["verification"]["passed"] is True  # what is older than the point is there
    assert restore["deleted"] is True
    _assert_nothing_left(sandbox)


def _kill_mid_restore(sandbox: Sandbox, env: dict[str, str], tmp_path: Path) -> None:
    process = subprocess.Popen(
        _chaos(env, tmp_path),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: RESTORED in _instances(sandbox) or None,
            timeout=90,
            interval=0.1,
            what="the restore to begin",
        )
        assert (
            sandbox.client("rds").describe_db_instances(DBInstanceIdentifier=RESTORED)[
                "DBInstances"
            ][0]["DBInstanceStatus"]
            == "creating"
        )
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _gameday(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [gameday_executable(), "recover", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _dsn_of_restored(sandbox: Sandbox) -> str | None:
    restore = next(iter(sandbox.rds_restore.restores.values()), None)
    if restore is None or restore.database is None or restore.database.proxy is None:
        return None
    host, port = restore.database.proxy.address
    return f"postgresql://postgres@{host}:{port}/postgres"


def test_sigkill_mid_restore_then_recover_from_the_ledger_leaves_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = _env(sandbox, tmp_path)
    _kill_mid_restore(sandbox, env, tmp_path)
    assert RESTORED in _instances(sandbox)
    done = _gameday(env, tmp_path, "--ledger", env["GAMEDAY_LEDGER"])
    assert done.returncode == 0, done.stdout + done.stderr
    _assert_nothing_left(sandbox)


def test_sigkill_mid_restore_then_recover_by_tag_leaves_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = _env(sandbox, tmp_path)
    _kill_mid_restore(sandbox, env, tmp_path)
    dsn = _dsn_of_restored(sandbox)
    Path(env["GAMEDAY_LEDGER"]).unlink()  # the ledger is lost
    assert sandbox.topology is not None
    var_file = tmp_path / "sandbox.env"
    var_file.write_text("".join(f"{k}={v}\n" for k, v in sandbox.topology.env().items()))
    done = _gameday(
        env,
        tmp_path,
        "--by-tag",
        "--force",  # the killed run has not expired yet
        "--var-file",
        str(var_file),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert RESTORED in done.stdout
    _assert_nothing_left(sandbox)
    if dsn is not None:  # the restored database is stopped too
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=2)


def test_the_max_duration_switch_deletes_the_restored_instance_mid_restore(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = _env(sandbox, tmp_path, GAMEDAY_DRILL_MAX_SECONDS=str(int(WINDOW / 2)))
    done = subprocess.run(
        _chaos(env, tmp_path), env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode != 0, done.stdout[-3000:] + done.stderr[-3000:]
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] in ("interrupted", "aborted", "failed")
    _assert_nothing_left(sandbox)


def test_the_snapshot_restore_is_measured_from_the_newest_snapshot(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rds = sandbox.client("rds")
    snapshots = rds.describe_db_snapshots(DBInstanceIdentifier="production-analytics-db")
    newest = max(s["SnapshotCreateTime"] for s in snapshots["DBSnapshots"])
    env = _env(sandbox, tmp_path, GAMEDAY_RESTORE_SOURCE="snapshot")
    done = subprocess.run(
        _chaos(env, tmp_path), env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    recovery = _recovery(tmp_path)
    restore = recovery["restore"]
    assert restore["kind"] == "rds-snapshot"
    assert abs((_at(restore["restore_point"]) - newest).total_seconds()) < 0.001
    # the snapshot is older than every marker: all of them are lost, none was expected
    assert restore["verification"]["markers_expected"] == 0
    assert recovery["rpo"]["lost"] == recovery["rpo"]["acknowledged"] > 0
    assert WINDOW <= recovery["rto"]["measured_s"] <= WINDOW + 0.1 + QUERY_INTERVAL + SLACK_S
    _assert_nothing_left(sandbox)
