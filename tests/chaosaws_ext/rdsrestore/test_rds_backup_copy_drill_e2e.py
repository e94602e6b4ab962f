"""rds-restore-drill from the DR region's AWS Backup copy, end to end: the real `chaos
run` against the sandbox (the plan's backup job and its copy to eu-west-1 emulated, the
restore window, a real restored PostgreSQL as of the recovery point), and `gameday plan`
refusing when the vault holds no recovery point."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chaosaws_ext.core.recovery_schema import problems
from chaosaws_ext.core.waiting import wait_until
from sandbox import seed
from sandbox.orchestrator import Sandbox
from sandbox.rds.restore import RESTORE_SECONDS
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable, gameday_executable

pytestmark = pytest.mark.e2e

SCALE = 0.01
WINDOW = RESTORE_SECONDS * SCALE  # the emulated restore window (6 s)
# the plan's job every 10 min and a 5 min copy, scaled: a backup every 6 s, copied in 3 s
BACKUP_INTERVAL_S, COPY_S = 600.0, 300.0
EXPERIMENT = REPO / "experiments" / "rds-restore-drill.yaml"
SOURCE = seed.DB_INSTANCE_ID
RESTORED = f"{SOURCE}-restore"
QUERY_INTERVAL = 0.25  # wait_for_restored_instance's default: the RTO's resolution
SLACK_S = 1.5  # a shared 2-core machine: scheduling on top of the resolutions


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    twin = Sandbox(
        time_scale=SCALE,
        backup_interval_seconds=BACKUP_INTERVAL_S,
        backup_copy_seconds=COPY_S,
    )
    twin.start()
    yield twin
    twin.stop()


def _env(sandbox: Sandbox, tmp_path: Path, **extra: str) -> dict[str, str]:
    assert sandbox.topology is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    env.update(sandbox.topology.env())
    env.update(
        GAMEDAY_LEDGER=str(tmp_path / "ledger.jsonl"),
        GAMEDAY_RESTORE_SOURCE="backup-copy",
        GAMEDAY_RESTORABLE_TIMEOUT="60",
        **extra,
    )
    return env


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _instances(sandbox: Sandbox, region: str) -> set[str]:
    rds = sandbox.client("rds", region)
    return {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]}


def _copies(sandbox: Sandbox) -> list[dict[str, Any]]:
    backup = sandbox.client("backup", seed.STANDBY_REGION)
    found = backup.list_recovery_points_by_backup_vault(BackupVaultName=seed.BACKUP_COPY_VAULT)
    return list(found["RecoveryPoints"])


def _assert_nothing_left(sandbox: Sandbox) -> None:
    """Nothing of the drill in either region: no instance, no restore, no data folder."""
    assert _instances(sandbox, seed.PRIMARY_REGION) == {SOURCE}
    assert _instances(sandbox, seed.STANDBY_REGION) == set()
    assert sandbox.rds_restore.restores == {}
    assert sandbox.workdir is not None  # else the data folders could not be checked
    restored = sandbox.workdir / "restored"
    wait_until(
        lambda: not any(restored.glob("restored-*")) or None,
        timeout=30,
        interval=0.1,
        what="the restored data directories to be removed",
    )


def test_the_backup_copy_drill_restores_in_the_dr_region_measures_and_deletes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = _env(sandbox, tmp_path)
    began = datetime.now(UTC)
    done = subprocess.run(
        [chaos_executable(), "--no-log-file", "--no-version-check", "run",
         "--journal-path", str(tmp_path / "journal.json"), str(EXPERIMENT)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    journal = json.loads((tmp_path / "journal.json").read_text())
    recovery = journal["recovery"]
    assert problems(recovery) == []
    restore = recovery["restore"]
    assert restore["kind"] == "rds-backup-copy" and restore["region"] == seed.STANDBY_REGION
    assert restore["source"] == SOURCE and restore["restored"] == RESTORED
    assert restore["deleted"] is True
    # the recovery point: a COMPLETED copy in the DR vault, newer than the drill's start
    point = restore["recovery_point"]
    copies = {c["RecoveryPointArn"]: c for c in _copies(sandbox)}
    assert point["arn"] in copies and point["vault"] == seed.BACKUP_COPY_VAULT
    assert point["arn"].startswith(f"arn:aws:rds:{seed.STANDBY_REGION}:")
    copy = copies[point["arn"]]
    # the restore point is the copy's CreationDate (ISO, to the millisecond)
    assert point["created"] == restore["restore_point"]
    assert abs((_at(point["created"]) - copy["CreationDate"]).total_seconds()) < 0.001
    assert copy["ResourceArn"] == sandbox.topology.db_instance_arn  # type: ignore[union-attr]
    assert _at(point["created"]) > began  # taken during the drill, as the probe waited
    # restore RTO: the emulated window, seen within one poll, answered within one query
    phases = {p["name"]: p["at_s"] for p in restore["phases"]}
    assert list(phases) == ["api_accepted", "available", "endpoint_resolvable", "first_query"]
    poll = float(env["GAMEDAY_RESTORE_POLL_INTERVAL"])
    rto = recovery["rto"]
    assert rto["measured_s"] == phases["first_query"]
    assert WINDOW <= rto["measured_s"] <= WINDOW + poll + QUERY_INTERVAL + SLACK_S
    assert rto["met"] is True and rto["target_s"] == 14400
    # restore RPO: the markers acknowledged after the recovery point (and before the
    # restore call) are missing: ground truth = call - CreationDate, also its age
    truth = (_at(restore["drill_started"]) - _at(point["created"])).total_seconds()
    assert point["age_at_drill_start_s"] == pytest.approx(truth, abs=0.01)
    marker_interval = float(env["GAMEDAY_MARKER_INTERVAL"])
    rpo = recovery["rpo"]
    assert rpo["lost"] > 0
    assert rpo["measured_s"] == pytest.approx(truth, abs=2 * marker_interval)
    verification = restore["verification"]
    assert verification["passed"] is True and verification["missing_count"] == 0
    assert verification["markers_expected"] == verification["markers_present"] > 0
    _assert_nothing_left(sandbox)


def test_an_empty_dr_vault_is_refused_in_one_line_and_nothing_is_created(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.client("backup", seed.STANDBY_REGION).create_backup_vault(
        BackupVaultName="empty-dr-vault"
    )
    env = _env(sandbox, tmp_path, GAMEDAY_BACKUP_VAULT="empty-dr-vault")
    done = subprocess.run(
        [gameday_executable(), "plan", "rds-restore-drill"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    line = (
        "refusing rds-restore: no COMPLETED recovery point of 'production-analytics-db' in "
        "backup vault 'empty-dr-vault' of eu-west-1 (has the backup plan's copy to "
        "eu-west-1 run?)"
    )
    lines = done.stdout.splitlines()
    assert f"  restore-db-instance: CANNOT RUN: {line}" in lines, done.stdout + done.stderr
    assert "plan only, nothing was changed" in lines[0]
    assert any(x.strip().startswith("API calls:") and "all read-only" in x for x in lines)
    _assert_nothing_left(sandbox)
