"""rds-failover's zonal step: the writer failed over only when it is in the named AZ
(instance or cluster, by identifier or by tag), else skipped with the reason and no
mutation, said in the plan and stamped on the timeline."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import fault_stamps
from chaosaws_ext.rds import actions
from chaosaws_ext.rds.planning import plan_failover_if_writer_in_az
from chaosaws_ext.runcontext import RunContext
from sandbox.behaviour.rds_failover import RdsFailoverEmulator
from tests.chaosaws_ext.rds.test_rds_failover import create_cluster, create_instance, writer_of
from tests.conftest import REGION

CONFIG = {"aws_region": REGION}
MUTATING = {"RebootDBInstance", "FailoverDBCluster"}


@pytest.fixture
def calls(rds: boto3.client) -> list[str]:
    seen: list[str] = []
    client = aws_client("rds", CONFIG)
    client.meta.events.register("before-call.rds.*", lambda model, **_: seen.append(model.name))
    return seen


def _az(rds: boto3.client, name: str) -> str:
    return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0][
        "AvailabilityZone"
    ]


def test_instance_in_the_az_fails_over_once(
    rds: boto3.client, emulator: RdsFailoverEmulator, run_context: RunContext, calls: list[str]
) -> None:
    create_instance(rds, AvailabilityZone="eu-south-1a")
    result = actions.failover_if_writer_in_az(
        "eu-south-1a", db_instance_identifier="production-analytics-db", configuration=CONFIG
    )
    assert result["skipped"] is False
    assert result["writer_az_before"] == "eu-south-1a"
    assert calls.count("RebootDBInstance") == 1
    entries = Ledger(run_context.ledger_path).unreverted(run_id=run_context.run_id)
    assert [e.fault for e in entries] == ["rds-failover"]
    assert [s.event for s in fault_stamps()] == ["injected"]
    actions.wait_for_db_available(
        "production-analytics-db", timeout=10, poll_interval=0.05, configuration=CONFIG
    )
    assert _az(rds, "production-analytics-db") != "eu-south-1a"


def test_writer_elsewhere_is_skipped_without_mutation(
    rds: boto3.client, run_context: RunContext, calls: list[str]
) -> None:
    create_instance(rds, AvailabilityZone="eu-south-1b")
    result = actions.failover_if_writer_in_az(
        "eu-south-1a", db_instance_identifier="production-analytics-db", configuration=CONFIG
    )
    assert result["skipped"] is True
    assert result["reason"] == (
        "no writer in eu-south-1a (DB instance 'production-analytics-db': writer "
        "production-analytics-db in eu-south-1b)"
    )
    assert not MUTATING & set(calls)
    assert not Path(run_context.ledger_path).exists() or not list(
        Ledger(run_context.ledger_path).entries()
    )
    stamps = fault_stamps()
    assert [(s.fault, s.event, s.reason) for s in stamps] == [
        ("rds-failover", "skipped", result["reason"])
    ]
    assert _az(rds, "production-analytics-db") == "eu-south-1b"


def test_cluster_by_tag_fails_over_only_the_writer_in_the_az(
    rds: boto3.client, emulator: RdsFailoverEmulator, run_context: RunContext, calls: list[str]
) -> None:
    create_cluster(rds, "aurora", readers=1)  # writer aurora-0 in eu-south-1a
    cluster_arn = rds.describe_db_clusters(DBClusterIdentifier="aurora")["DBClusters"][0][
        "DBClusterArn"
    ]
    rds.add_tags_to_resource(ResourceName=cluster_arn, Tags=[{"Key": "tier", "Value": "db"}])
    writer = writer_of(rds, "aurora")
    assert _az(rds, writer[0]) == "eu-south-1a"
    skipped = actions.failover_if_writer_in_az(
        "eu-south-1c", tag_key="tier", tag_value="db", configuration=CONFIG
    )
    assert skipped["skipped"] is True and "FailoverDBCluster" not in calls
    result = actions.failover_if_writer_in_az(
        "eu-south-1a", tag_key="tier", tag_value="db", configuration=CONFIG
    )
    assert result["skipped"] is False and result["kind"] == "db-cluster"
    assert calls.count("FailoverDBCluster") == 1
    actions.wait_for_db_available(
        db_cluster_identifier="aurora", timeout=10, poll_interval=0.05, configuration=CONFIG
    )
    assert writer_of(rds, "aurora") == ["aurora-1"]


def test_nothing_tagged_is_skipped_with_the_reason(rds: boto3.client) -> None:
    plan = plan_failover_if_writer_in_az(
        "eu-south-1a", tag_key="tier", tag_value="none", configuration=CONFIG
    )
    assert plan.changes == []
    assert plan.skipped == f"no DB instance or cluster with tag tier=none in {REGION}"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"availability_zone": "1a"}, "'1a' is not an Availability Zone name"),
        ({"availability_zone": "eu-south-1a"}, "name exactly one of"),
        (
            {"availability_zone": "eu-south-1a", "db_instance_identifier": "a", "tag_key": "k"},
            "name exactly one of",
        ),
    ],
)
def test_bad_arguments_refused_before_any_call(
    rds: boto3.client, calls: list[str], arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(ActivityFailed, match=message):
        actions.failover_if_writer_in_az(**arguments, configuration=CONFIG)
    assert calls == []
