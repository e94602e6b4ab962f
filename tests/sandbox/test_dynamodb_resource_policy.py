"""The sandbox's DynamoDB resource policies: the Deny statements that pause global-table
replication evaluated as AWS would (principal, action, aws:CurrentTime), the replicator
holding writes to and from a paused member and dropping those held past the streams'
24 h (scaled), and moto's resource-policy answers made AWS's (new revision ids,
PolicyNotFoundException)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chaosaws_ext.core.waiting import wait_until
from sandbox.dynamodb.replicator import GlobalTableReplicator
from sandbox.dynamodb.resource_policy import (
    INBOUND_ACTIONS,
    OUTBOUND_ACTIONS,
    denial_ends_at,
    replication_denied,
)

ACCOUNT = "123456789012"
PRIMARY, REPLICA = "eu-south-1", "eu-west-1"
TABLE = "tickets"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SLR = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/replication.dynamodb.amazonaws.com/"
    "AWSServiceRoleForDynamoDBReplication"
)


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _deny(actions: list[str], until: datetime | None, **condition: Any) -> dict[str, Any]:
    conditions = dict(condition)
    if until is not None:
        conditions["DateLessThan"] = {"aws:CurrentTime": until.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": actions,
            "Resource": "*", "Condition": conditions}  # fmt: skip


SERVICE = {"StringEquals": {"aws:PrincipalServiceName": "replication.dynamodb.amazonaws.com"}}


def test_a_deny_for_the_replication_service_is_in_force_until_its_current_time_bound() -> None:
    later = NOW + timedelta(seconds=30)
    policy = _policy(_deny(["dynamodb:WriteDataForReplication"], later, **SERVICE))
    assert replication_denied(policy, INBOUND_ACTIONS, ACCOUNT, NOW)
    assert not replication_denied(policy, OUTBOUND_ACTIONS, ACCOUNT, NOW)  # other direction
    assert not replication_denied(policy, INBOUND_ACTIONS, ACCOUNT, later)  # expired
    assert denial_ends_at(policy, INBOUND_ACTIONS, ACCOUNT, NOW) == later


@pytest.mark.parametrize(
    "statement, denied",
    [
        (_deny(["dynamodb:PutItem"], None, ArnEquals={"aws:PrincipalArn": SLR}), True),
        (_deny(["dynamodb:*"], None, ArnLike={"aws:PrincipalArn": "arn:aws:iam::*:role/*"}), True),
        # another principal's deny does not stop replication
        (_deny(["dynamodb:PutItem"], None, ArnEquals={"aws:PrincipalArn": "arn:aws:iam::1:role/x"}),
         False),
        # a condition the sandbox does not evaluate: not in force (errs towards replicating)
        (_deny(["dynamodb:*"], None, IpAddress={"aws:SourceIp": "10.0.0.0/8"}), False),
        ({**_deny(["dynamodb:*"], None, **SERVICE), "Effect": "Allow"}, False),
    ],
    ids=["slr-arn", "arn-like-wildcard-action", "other-principal", "unknown-condition", "allow"],
)  # fmt: skip
def test_which_statements_deny_replication(statement: dict[str, Any], denied: bool) -> None:
    assert replication_denied(_policy(statement), INBOUND_ACTIONS, ACCOUNT, NOW) is denied


@pytest.fixture
def world(mocked_aws: None) -> Iterator[tuple[GlobalTableReplicator, Any, Any]]:
    # time_scale 1e-5: the streams' 24 h are 0.864 s here
    replicator = GlobalTableReplicator(lag_seconds=5000, time_scale=1e-5)
    replicator.start()
    primary = boto3.client("dynamodb", region_name=PRIMARY)
    replica = boto3.client("dynamodb", region_name=REPLICA)
    primary.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    replicator.make_global(TABLE, [PRIMARY, REPLICA])
    yield replicator, primary, replica
    replicator.stop()


def _arn(region: str) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{TABLE}"


def _has(client: Any, key: str) -> bool:
    return "Item" in client.get_item(TableName=TABLE, Key={"pk": {"S": key}})


def test_an_outbound_deny_holds_the_members_writes_and_its_removal_releases_them(
    world: tuple[GlobalTableReplicator, Any, Any],
) -> None:
    replicator, primary, replica = world
    later = datetime.now(UTC) + timedelta(hours=1)
    deny = _deny(["dynamodb:ReadDataForReplication"], later, **SERVICE)
    primary.put_resource_policy(ResourceArn=_arn(PRIMARY), Policy=_policy(deny))
    primary.put_item(TableName=TABLE, Item={"pk": {"S": "held"}})
    replica.put_item(TableName=TABLE, Item={"pk": {"S": "inbound-still-flows"}})
    # inbound to the primary is not denied: the replica's write arrives
    assert wait_until(lambda: _has(primary, "inbound-still-flows"), timeout=5, interval=0.01)
    assert replicator.held() == 1 and not _has(replica, "held")
    primary.delete_resource_policy(ResourceArn=_arn(PRIMARY))
    assert wait_until(lambda: _has(replica, "held"), timeout=5, interval=0.01)
    assert replicator.held() == 0


def test_a_write_held_past_the_stream_retention_is_lost(
    world: tuple[GlobalTableReplicator, Any, Any],
) -> None:
    replicator, primary, replica = world
    later = datetime.now(UTC) + timedelta(hours=1)
    deny = _deny(["dynamodb:WriteDataForReplication"], later, **SERVICE)
    replica.put_resource_policy(ResourceArn=_arn(REPLICA), Policy=_policy(deny))
    primary.put_item(TableName=TABLE, Item={"pk": {"S": "too-old"}})
    past = time.time() + replicator.stream_retention_seconds + 0.05
    assert wait_until(lambda: replicator.held() == 1, timeout=5, interval=0.01)
    assert wait_until(lambda: time.time() > past, timeout=5, interval=0.01)  # retention passed
    replica.delete_resource_policy(ResourceArn=_arn(REPLICA))
    assert wait_until(lambda: replicator.stats["expired"] == 1, timeout=5, interval=0.01)
    assert not _has(replica, "too-old") and replicator.held() == 0


def test_resource_policy_answers_are_aws_s(world: tuple[GlobalTableReplicator, Any, Any]) -> None:
    _, primary, _ = world
    arn = _arn(PRIMARY)
    with pytest.raises(ClientError) as raised:
        primary.delete_resource_policy(ResourceArn=arn)
    assert raised.value.response["Error"]["Code"] == "PolicyNotFoundException"
    with pytest.raises(ClientError) as raised:
        primary.put_resource_policy(ResourceArn=arn, Policy=_policy(), ExpectedRevisionId="1")
    assert raised.value.response["Error"]["Code"] == "PolicyNotFoundException"
    revisions = []
    for n in range(5):  # within one millisecond or not: each revision is new
        deny = _deny([f"dynamodb:Action{n}"], None)
        revisions.append(
            primary.put_resource_policy(ResourceArn=arn, Policy=_policy(deny))["RevisionId"]
        )
    assert len(set(revisions)) == 5
    with pytest.raises(ClientError) as raised:  # a stale revision: refused, not overwritten
        primary.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId=revisions[0])
    assert raised.value.response["Error"]["Code"] == "PolicyNotFoundException"


def test_a_policy_update_right_after_another_is_refused_as_aws_does(mocked_aws: None) -> None:
    replicator = GlobalTableReplicator(policy_update_block_seconds=15.0, time_scale=0.1)
    replicator.start()
    try:
        client = boto3.client("dynamodb", region_name=PRIMARY)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        arn = _arn(PRIMARY)
        first = client.put_resource_policy(ResourceArn=arn, Policy=_policy(_deny(["x:Y"], None)))
        with pytest.raises(ClientError) as raised:
            client.delete_resource_policy(ResourceArn=arn)
        assert raised.value.response["Error"]["Code"] == "ResourceInUseException"
        assert client.get_resource_policy(ResourceArn=arn)["RevisionId"] == first["RevisionId"]
        blocked_until = time.monotonic() + replicator.policy_update_block_seconds  # 1.5 s
        assert wait_until(lambda: time.monotonic() > blocked_until, timeout=5, interval=0.05)
        client.delete_resource_policy(ResourceArn=arn)
    finally:
        replicator.stop()
