"""The backup-copy restore drill's plan against in-process moto with the sandbox's AWS
Backup emulation: the newest COMPLETED copy in the DR vault, restored in the DR region;
no copy: one line, nothing created; the orphan finder looks in the DR region too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.rdsrestore.planning import plan_restore
from chaosaws_ext.rdsrestore.undo import find_restored_instances
from chaosaws_ext.undo import find_orphans
from sandbox.backup.moto_patch import BackupEmulator, register_routes
from tests.conftest import REGION

SOURCE = "production-analytics-db"
DR = "eu-west-1"
VAULT = "production-replica-vault"
CONFIG = {"aws_region": REGION}

register_routes()  # before moto's first Backup request of this process


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def rds(mocked_aws: None) -> boto3.client:
    client = boto3.client("rds", region_name=REGION)
    client.create_db_instance(
        DBInstanceIdentifier=SOURCE,
        Engine="postgres",
        DBInstanceClass="db.t3.medium",
        AllocatedStorage=100,
        StorageType="gp3",
        MasterUsername="postgres",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=7,
    )
    return client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backups(rds: boto3.client, clock: Clock) -> Iterator[BackupEmulator]:
    """The job run by hand (``tick``) on a fake clock: daily, copied in 30 minutes."""
    emulator = BackupEmulator(SOURCE, REGION, "production-primary-vault", DR, VAULT, now=clock)
    emulator.start()
    emulator._stopping.set()  # the test drives the job: no thread ticks meanwhile
    try:
        yield emulator
    finally:
        emulator.stop()


def test_no_copy_in_the_dr_vault_is_refused_in_one_line_and_nothing_is_created(
    backups: BackupEmulator, rds: boto3.client
) -> None:
    backups.tick()  # the backup exists in the primary vault; its copy is 30 min away
    with pytest.raises(ActivityFailed) as refused:
        plan_restore(SOURCE, restore_source="backup-copy", configuration=CONFIG)
    assert str(refused.value) == (
        "refusing rds-restore: no COMPLETED recovery point of 'production-analytics-db' in "
        "backup vault 'production-replica-vault' of eu-west-1 (has the backup plan's copy "
        "to eu-west-1 run?)"
    )
    dr = boto3.client("rds", region_name=DR)
    assert dr.describe_db_instances()["DBInstances"] == []


def test_an_unknown_vault_is_refused_in_one_line(backups: BackupEmulator) -> None:
    with pytest.raises(ActivityFailed) as refused:
        plan_restore(
            SOURCE, restore_source="backup-copy", backup_vault="no-vault", configuration=CONFIG
        )
    assert str(refused.value) == (
        "refusing rds-restore: no backup vault 'no-vault' in eu-west-1 (backup_vault, dr_region)"
    )


def test_the_plan_names_the_newest_copy_and_restores_in_the_dr_region(
    backups: BackupEmulator, clock: Clock
) -> None:
    first = clock.at
    backups.tick()
    clock.at += timedelta(days=1, minutes=31)  # the second backup, then both copies
    backups.tick()
    plan = plan_restore(SOURCE, restore_source="backup-copy", configuration=CONFIG)
    details = plan.details
    point = details["recovery_point"]
    assert plan.region == DR and details["kind"] == "rds-backup-copy"
    assert point["vault"] == VAULT and point["region"] == DR
    assert point["arn"].startswith("arn:aws:rds:eu-west-1:123456789012:snapshot:awsbackup:")
    assert point["created"] == "2026-11-02T03:00:00.000Z"  # the newer of the two
    assert point["completed"] == "2026-11-02T03:30:00.000Z"
    assert details["restore_point"] == point["created"]
    assert details["snapshot_id"] == point["arn"]
    (change,) = plan.changes
    # the source has no subnet group here: the DR region's default; security group ids
    # are per VPC, so none is carried over
    assert "not public, in eu-west-1, the default subnet group and its VPC's default" in (
        change.change
    )
    assert details["vpc_security_group_ids"] == []
    named = plan_restore(
        SOURCE, restore_source="backup-copy", dr_db_subnet_group="dr-db", configuration=CONFIG
    )
    assert "in eu-west-1, subnet group dr-db" in named.changes[0].change
    assert f"restore of AWS Backup recovery point {point['arn']}" in change.change
    assert first < datetime.fromisoformat(point["created"])


def test_the_plan_refuses_a_restored_name_taken_in_the_dr_region(
    backups: BackupEmulator, clock: Clock
) -> None:
    backups.tick()
    clock.at += timedelta(minutes=31)
    backups.tick()
    boto3.client("rds", region_name=DR).create_db_instance(
        DBInstanceIdentifier=f"{SOURCE}-restore",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="postgres",
        MasterUserPassword="not-a-secret-1",
    )
    with pytest.raises(
        ActivityFailed, match="'production-analytics-db-restore' already exists in eu-west-1"
    ):
        plan_restore(SOURCE, restore_source="backup-copy", configuration=CONFIG)


def test_the_finder_looks_in_the_dr_region_once(rds: boto3.client) -> None:
    boto3.client("rds", region_name=DR).create_db_instance(
        DBInstanceIdentifier="ours-restore",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="postgres",
        MasterUserPassword="not-a-secret-1",
        Tags=[
            {"Key": "chaos:managed-by", "Value": "chaosaws-ext"},
            {"Key": "chaos:fault", "Value": "rds-restore"},
        ],
    )
    (spec,) = find_restored_instances(configuration=CONFIG, region=REGION)
    assert spec["region"] == DR and spec["args"] == {"db_instance_identifier": "ours-restore"}
    found = find_orphans(CONFIG, None, [REGION, DR], problems=[], faults={"rds-restore"})
    ours = [s for s in found if s["fault"] == "rds-restore"]
    assert [(s["region"], s["resource"]) for s in ours] == [(DR, "db-instance:ours-restore")]
