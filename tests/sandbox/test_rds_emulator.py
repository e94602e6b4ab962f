"""The sandbox's RDS failover emulation (moto makes a forced failover a no-op)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from sandbox.behaviour.rds_failover import (
    MSG_INSTANCE_FAILOVER_COMPLETED,
    MSG_INSTANCE_FAILOVER_STARTED,
    RdsFailoverEmulator,
)
from tests.conftest import REGION

WINDOW = 0.3
# long enough that the describe right after the reboot call sees it on a loaded machine
# (0.15 s was not, once in CI)
REBOOT_S = 1.5


@pytest.fixture
def rds(mocked_aws: None) -> boto3.client:
    return boto3.client("rds", region_name=REGION)


@pytest.fixture
def emulator(mocked_aws: None) -> Iterator[RdsFailoverEmulator]:
    emulator = RdsFailoverEmulator(
        failover_seconds=WINDOW, reboot_seconds=REBOOT_S, cluster_failover_seconds=WINDOW
    ).install()
    yield emulator
    emulator.uninstall()


def create_instance(rds: boto3.client, name: str = "db1", multi_az: bool = True) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MultiAZ=multi_az,
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
    )


def describe(rds: boto3.client, name: str = "db1") -> dict:
    return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def test_forced_failover_swaps_azs_after_the_window(
    rds: boto3.client, emulator: RdsFailoverEmulator
) -> None:
    create_instance(rds)
    before = describe(rds)
    assert (before["AvailabilityZone"], before["SecondaryAvailabilityZone"]) == (
        "eu-south-1a",
        "eu-south-1b",
    )
    changes: list[tuple[str, bool, str]] = []
    emulator.on_change(lambda db, ok, az: changes.append((db, ok, az)))

    started = time.monotonic()
    answer = rds.reboot_db_instance(DBInstanceIdentifier="db1", ForceFailover=True)
    assert answer["DBInstance"]["DBInstanceStatus"] == "rebooting"
    assert describe(rds)["DBInstanceStatus"] == "rebooting"
    assert emulator.is_available("db1") is False
    assert emulator.wait_idle(timeout=5)
    elapsed = time.monotonic() - started

    after = describe(rds)
    assert after["DBInstanceStatus"] == "available"
    assert (after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == (
        "eu-south-1b",
        "eu-south-1a",
    )
    assert emulator.is_available("db1") and emulator.writer_az("db1") == "eu-south-1b"
    assert WINDOW <= elapsed < WINDOW + 1.0  # generous: CI machines are loaded
    assert changes == [("db1", False, "eu-south-1a"), ("db1", True, "eu-south-1b")]
    messages = [
        e["Message"]
        for e in rds.describe_events(SourceType="db-instance", SourceIdentifier="db1")["Events"]
    ]
    assert messages.index(MSG_INSTANCE_FAILOVER_STARTED) < messages.index(
        MSG_INSTANCE_FAILOVER_COMPLETED
    )


def test_plain_reboot_keeps_the_az(rds: boto3.client, emulator: RdsFailoverEmulator) -> None:
    create_instance(rds)
    rds.reboot_db_instance(DBInstanceIdentifier="db1")
    assert describe(rds)["DBInstanceStatus"] == "rebooting"
    assert emulator.wait_idle(timeout=5)
    after = describe(rds)
    assert (after["DBInstanceStatus"], after["AvailabilityZone"]) == ("available", "eu-south-1a")


def test_force_failover_refused_for_single_az_and_while_rebooting(
    rds: boto3.client, emulator: RdsFailoverEmulator
) -> None:
    create_instance(rds, "single", multi_az=False)
    with pytest.raises(ClientError, match="Multi-AZ"):
        rds.reboot_db_instance(DBInstanceIdentifier="single", ForceFailover=True)
    assert "SecondaryAvailabilityZone" not in describe(rds, "single")
    create_instance(rds)
    rds.reboot_db_instance(DBInstanceIdentifier="db1", ForceFailover=True)
    with pytest.raises(ClientError, match="not in available state"):
        rds.reboot_db_instance(DBInstanceIdentifier="db1", ForceFailover=True)
    assert emulator.wait_idle(timeout=5)


def test_cluster_failover_switches_writer_after_the_window(
    rds: boto3.client, emulator: RdsFailoverEmulator
) -> None:
    rds.create_db_cluster(
        DBClusterIdentifier="aurora",
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
    )
    for name, az in (("aurora-1", "eu-south-1a"), ("aurora-2", "eu-south-1b")):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBClusterIdentifier="aurora",
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            AvailabilityZone=az,
        )
    assert emulator.writer_az("aurora") == "eu-south-1a"
    rds.failover_db_cluster(DBClusterIdentifier="aurora", TargetDBInstanceIdentifier="aurora-2")
    cluster = rds.describe_db_clusters(DBClusterIdentifier="aurora")["DBClusters"][0]
    assert cluster["Status"] == "failing-over"
    writers = [
        m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"]
    ]
    assert writers == ["aurora-1"]
    assert not emulator.is_available("aurora")
    assert emulator.wait_idle(timeout=5)
    cluster = rds.describe_db_clusters(DBClusterIdentifier="aurora")["DBClusters"][0]
    writers = [
        m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"] if m["IsClusterWriter"]
    ]
    assert (cluster["Status"], writers) == ("available", ["aurora-2"])
    assert emulator.writer_az("aurora") == "eu-south-1b"
    messages = [
        e["Message"]
        for e in rds.describe_events(SourceType="db-cluster", SourceIdentifier="aurora")["Events"]
    ]
    assert messages == [
        "Started cross AZ failover to DB instance: aurora-2",
        "Completed failover to DB instance: aurora-2",
    ]


def test_uninstall_settles_pending_windows_and_restores_moto(
    rds: boto3.client, mocked_aws: None
) -> None:
    backend = get_backend("rds")[DEFAULT_ACCOUNT_ID][REGION]
    original = backend.reboot_db_instance
    threads_before = set(threading.enumerate())
    emulator = RdsFailoverEmulator(failover_seconds=60).install()
    assert "reboot_db_instance" in backend.__dict__
    create_instance(rds)
    rds.reboot_db_instance(DBInstanceIdentifier="db1", ForceFailover=True)
    emulator.uninstall()
    assert "reboot_db_instance" not in backend.__dict__
    assert backend.reboot_db_instance == original
    after = describe(rds)
    assert (after["DBInstanceStatus"], after["AvailabilityZone"]) == ("available", "eu-south-1b")
    # moto's own behaviour again: a forced failover is a no-op
    rds.reboot_db_instance(DBInstanceIdentifier="db1", ForceFailover=True)
    assert describe(rds)["DBInstanceStatus"] == "available"
    assert not [
        t for t in set(threading.enumerate()) - threads_before if t.name.startswith("rds-failover-")
    ]


def test_time_scale_and_published_defaults() -> None:
    emulator = RdsFailoverEmulator(time_scale=0.01)
    assert emulator.failover_window == pytest.approx(0.9)
    assert emulator.cluster_failover_window == pytest.approx(0.3)
    with pytest.raises(ValueError):
        RdsFailoverEmulator(time_scale=0)


def test_install_again_after_a_moto_reset(rds: boto3.client, mocked_aws: None) -> None:
    backend = get_backend("rds")[DEFAULT_ACCOUNT_ID][REGION]
    with RdsFailoverEmulator(failover_seconds=WINDOW) as emulator:
        backend.reset()  # what /moto-api/reset does: the wrappers are gone
        assert "reboot_db_instance" not in backend.__dict__
        assert emulator.install() is emulator
        create_instance(rds)
        rds.reboot_db_instance(DBInstanceIdentifier="db1", ForceFailover=True)
        assert describe(rds)["DBInstanceStatus"] == "rebooting"
        assert emulator.wait_idle(timeout=5)
        assert describe(rds)["AvailabilityZone"] == "eu-south-1b"
    assert "reboot_db_instance" not in backend.__dict__
