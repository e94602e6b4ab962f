"""AWS Backup in the twin: the plan's daily backup job of the analytics DB and its copy
to the DR region's vault, the model alone and served through moto (in process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.backup.moto_patch import BackupEmulator, register_routes
from sandbox.backup.recovery_points import (
    BACKUP_INTERVAL_S,
    COPY_DURATION_S,
    BackupTimings,
    RecoveryPoint,
    RecoveryPointBook,
    job_times,
)

EPOCH = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
PRIMARY, DR = "eu-south-1", "eu-west-1"
SOURCE = "production-analytics-db"
SOURCE_ARN = f"arn:aws:rds:{PRIMARY}:123456789012:db:{SOURCE}"
VAULT, COPY_VAULT = "production-primary-vault", "production-replica-vault"

register_routes()  # before moto's first Backup request of this process


def test_the_defaults_are_the_plans_daily_schedule_and_a_half_hour_copy_scaled() -> None:
    assert BACKUP_INTERVAL_S == 86400.0 and COPY_DURATION_S == 1800.0
    assert BackupTimings.scaled(time_scale=0.05) == BackupTimings(4320.0, 90.0)
    with pytest.raises(ValueError, match="time_scale must be a positive number"):
        BackupTimings.scaled(time_scale=0)
    with pytest.raises(ValueError, match="backup_interval_seconds must be > 0"):
        BackupTimings.scaled(backup_interval_seconds=0)


def test_a_job_at_the_start_and_every_interval_after() -> None:
    assert job_times(EPOCH, EPOCH - timedelta(seconds=1), 60) == []
    assert job_times(EPOCH, EPOCH, 60) == [EPOCH]
    assert job_times(EPOCH, EPOCH + timedelta(seconds=119.9), 60) == [
        EPOCH,
        EPOCH + timedelta(seconds=60),
    ]


def _point(n: int, resource: str = SOURCE_ARN, kind: str = "RDS") -> RecoveryPoint:
    created = EPOCH + timedelta(days=n)
    return RecoveryPoint(
        arn=f"arn:aws:rds:{DR}:123456789012:snapshot:awsbackup:copyjob-{n}",
        vault=COPY_VAULT,
        vault_arn=f"arn:aws:backup:{DR}:123456789012:backup-vault:{COPY_VAULT}",
        region=DR,
        resource_arn=resource,
        resource_type=kind,
        created=created,
        completed=created + timedelta(minutes=30),
        snapshot_id=f"awsbackup:copyjob-{n}",
    )


def test_the_book_lists_newest_first_filtered_by_resource_and_type() -> None:
    book = RecoveryPointBook()
    for point in (_point(1), _point(3), _point(2, resource="arn:other"), _point(4, kind="EBS")):
        book.add(point)
    listed = book.listed(DR, COPY_VAULT, resource_arn=SOURCE_ARN, resource_type="RDS")
    assert [p.snapshot_id for p in listed] == ["awsbackup:copyjob-3", "awsbackup:copyjob-1"]
    assert len(book.listed(DR, COPY_VAULT)) == 4
    assert book.listed(PRIMARY, COPY_VAULT) == []
    assert book.find(DR, COPY_VAULT, _point(3).arn) is not None


class Clock:
    def __init__(self) -> None:
        self.at = EPOCH

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(mocked_aws: None, clock: Clock) -> Iterator[BackupEmulator]:
    boto3.client("rds", region_name=PRIMARY).create_db_instance(
        DBInstanceIdentifier=SOURCE,
        Engine="postgres",
        DBInstanceClass="db.t3.medium",
        AllocatedStorage=100,
        MasterUsername="postgres",
        MasterUserPassword="not-a-secret-1",
    )
    found = BackupEmulator(
        SOURCE, PRIMARY, VAULT, DR, COPY_VAULT, time_scale=0.01, now=clock
    )  # daily -> 864 s, copy 1800 s -> 18 s
    found.start()
    found._stopping.set()  # the test drives the job (tick) on its clock
    try:
        yield found
    finally:
        found.stop()


def _listed(region: str, vault: str, **filters: str) -> list[dict]:
    backup = boto3.client("backup", region_name=region)
    pages = backup.get_paginator("list_recovery_points_by_backup_vault").paginate(
        BackupVaultName=vault, PaginationConfig={"PageSize": 1}, **filters
    )
    return [p for page in pages for p in page["RecoveryPoints"]]


def test_each_backup_is_copied_to_the_dr_vault_after_the_copy_duration(
    emulator: BackupEmulator, clock: Clock
) -> None:
    assert emulator.tick() == pytest.approx(18.0)  # next: the copy
    (backup,) = _listed(PRIMARY, VAULT)
    assert backup["Status"] == "COMPLETED" and backup["ResourceArn"].endswith(f":db:{SOURCE}")
    assert backup["RecoveryPointArn"].startswith(
        f"arn:aws:rds:{PRIMARY}:123456789012:snapshot:awsbackup:job-"
    )
    assert _listed(DR, COPY_VAULT) == []
    clock.at = EPOCH + timedelta(seconds=17.9)
    emulator.tick()
    assert _listed(DR, COPY_VAULT) == []
    clock.at = EPOCH + timedelta(seconds=18)
    assert emulator.tick() == pytest.approx(864.0 - 18.0)  # next: tomorrow's backup
    (copy,) = _listed(DR, COPY_VAULT, ByResourceArn=backup["ResourceArn"], ByResourceType="RDS")
    assert copy["CreationDate"] == backup["CreationDate"] == EPOCH
    assert copy["CompletionDate"] == EPOCH + timedelta(seconds=18)
    assert copy["SourceBackupVaultArn"].endswith(f":backup-vault:{VAULT}")
    assert copy["RecoveryPointArn"].startswith(
        f"arn:aws:rds:{DR}:123456789012:snapshot:awsbackup:copyjob-"
    )
    clock.at = EPOCH + timedelta(seconds=864 * 2 + 18)
    emulator.tick()
    assert len(_listed(PRIMARY, VAULT)) == 3
    assert [p["CreationDate"] for p in _listed(DR, COPY_VAULT)] == [
        EPOCH + timedelta(seconds=864 * n) for n in (2, 1, 0)
    ]
    backup_api = boto3.client("backup", region_name=DR)
    described = backup_api.describe_recovery_point(
        BackupVaultName=COPY_VAULT, RecoveryPointArn=copy["RecoveryPointArn"]
    )
    assert described["CreationDate"] == EPOCH and described["ResourceType"] == "RDS"
    (vault,) = backup_api.list_backup_vaults()["BackupVaultList"]
    assert (vault["BackupVaultName"], vault["NumberOfRecoveryPoints"]) == (COPY_VAULT, 3)


def test_an_unknown_vault_or_point_is_not_found(emulator: BackupEmulator) -> None:
    backup = boto3.client("backup", region_name=DR)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        backup.list_recovery_points_by_backup_vault(BackupVaultName="no-such-vault")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        backup.describe_recovery_point(
            BackupVaultName=COPY_VAULT,
            RecoveryPointArn=f"arn:aws:rds:{DR}:123456789012:snapshot:awsbackup:nothing",
        )


def test_the_copy_restores_in_the_dr_region_by_its_arn_as_of_the_backup(
    emulator: BackupEmulator, clock: Clock
) -> None:
    emulator.tick()
    clock.at = EPOCH + timedelta(seconds=18)
    emulator.tick()
    (copy,) = _listed(DR, COPY_VAULT)
    rds = boto3.client("rds", region_name=DR)
    snapshots = rds.describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"]
    assert [s["DBSnapshotArn"] for s in snapshots] == [copy["RecoveryPointArn"]]
    assert snapshots[0]["OriginalSnapshotCreateTime"] == EPOCH
    # Backup's snapshots are not among the automated and manual ones (the runbook's pick)
    assert rds.describe_db_snapshots(DBInstanceIdentifier=SOURCE)["DBSnapshots"] == []
    restored = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=f"{SOURCE}-restore", DBSnapshotIdentifier=copy["RecoveryPointArn"]
    )["DBInstance"]
    assert restored["DBInstanceArn"].startswith(f"arn:aws:rds:{DR}:")
