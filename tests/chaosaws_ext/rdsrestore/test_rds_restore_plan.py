"""The restore drill's plan (read only) and undo against in-process moto, and the
verification of restored markers as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.rdsrestore.planning import plan_restore
from chaosaws_ext.rdsrestore.undo import delete_restored_instance, find_restored_instances
from probes.drills import counted_markers, verification
from probes.recovery import Marker
from tests.conftest import REGION

SOURCE = "production-analytics-db"
CONFIG = {"aws_region": REGION}


@pytest.fixture
def rds(mocked_aws: None) -> boto3.client:
    client = boto3.client("rds", region_name=REGION)
    client.create_db_instance(
        DBInstanceIdentifier=SOURCE,
        Engine="postgres",
        DBInstanceClass="db.t3.medium",
        AllocatedStorage=100,
        StorageType="gp3",
        MultiAZ=True,
        MasterUsername="postgres",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=7,
    )
    return client


def test_the_plan_shows_what_would_be_created_and_its_undo(rds: boto3.client) -> None:
    plan = plan_restore(SOURCE, configuration=CONFIG)
    (change,) = plan.changes
    assert change.resource == f"{SOURCE}-restore"
    assert "postgres, db.t3.medium, 100 GiB gp3, single-AZ, not public" in change.change
    assert change.undo.startswith("delete-db-instance --skip-final-snapshot")
    assert plan.details["kind"] == "rds-point-in-time"
    assert {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]} == {
        SOURCE
    }


def test_the_plan_refuses_a_restored_name_that_exists(rds: boto3.client) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier="taken-name",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="postgres",
        MasterUserPassword="not-a-secret-1",
    )
    with pytest.raises(ActivityFailed, match="'taken-name' already exists in eu-south-1"):
        plan_restore(SOURCE, restored_db_instance_identifier="taken-name", configuration=CONFIG)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"restore_source": "tape"},
            "restore_source 'tape' is not one of backup-copy, point-in-time, snapshot",
        ),
        ({"restore_source": "backup-copy", "backup_vault": "a/b"}, "is not a backup vault name"),
        ({"restore_age_s": -1}, "restore_age_s must be"),
        ({"restored_db_instance_identifier": "1bad"}, "is not a DB instance identifier"),
        ({"restored_db_instance_identifier": SOURCE}, "must not be the source"),
    ],
)
def test_bad_input_is_refused_in_one_line(rds: boto3.client, arguments: dict, message: str) -> None:
    with pytest.raises(ActivityFailed, match=message) as refused:
        plan_restore(SOURCE, configuration=CONFIG, **arguments)
    assert "\n" not in str(refused.value)


def test_the_undo_deletes_only_our_tagged_instances_and_is_idempotent(
    rds: boto3.client,
) -> None:
    ours = [
        {"Key": "chaos:managed-by", "Value": "chaosaws-ext"},
        {"Key": "chaos:fault", "Value": "rds-restore"},
        {"Key": "chaos:expires-at", "Value": "2030-01-01T00:00:00Z"},
    ]
    for name, tags in (("ours-restore", ours), ("not-ours", [])):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="postgres",
            MasterUserPassword="not-a-secret-1",
            Tags=tags,
        )
    (spec,) = find_restored_instances(configuration=CONFIG, region=REGION)
    assert spec["args"] == {"db_instance_identifier": "ours-restore"}
    assert spec["expires_at"] == "2030-01-01T00:00:00Z"
    with pytest.raises(ActivityFailed, match="does not carry our chaos"):
        delete_restored_instance("not-ours", configuration=CONFIG, region=REGION)
    done = delete_restored_instance("ours-restore", poll_interval=0.05, configuration=CONFIG)
    assert done == {"db": "ours-restore", "deleted": True, "already_gone": False}
    again = delete_restored_instance("ours-restore", configuration=CONFIG)
    assert again["already_gone"] is True
    names = {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]}
    assert names == {SOURCE, "not-ours"}


def _marker(seq: int, ack: float, base: datetime) -> Marker:
    at = (base + timedelta(seconds=ack)).isoformat()
    return Marker(seq, ack - 0.01, at, acked=True, ack_mono=ack, ack_wall=at)


def test_only_markers_acknowledged_by_the_restore_point_must_be_present() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    markers = [_marker(seq, seq * 1.0, base) for seq in range(1, 7)]
    counted = counted_markers(markers, called_mono=5.0)  # 6 was acknowledged after the call
    assert [m.seq for m in counted] == [1, 2, 3, 4, 5]
    point = base + timedelta(seconds=3.5)
    passed = verification(counted, {1, 2, 3}, point)
    assert passed == {
        "markers_expected": 3,
        "markers_present": 3,
        "missing_count": 0,
        "first_missing": None,
        "last_missing": None,
        "passed": True,
    }
    failed = verification(counted, {1, 3}, point)
    assert failed["missing_count"] == 1 and failed["first_missing"] == 2
    assert failed["passed"] is False
