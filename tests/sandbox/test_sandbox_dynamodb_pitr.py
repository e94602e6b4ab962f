"""The point-in-time recovery emulation: a restored table holds the items as of the
restore point (not moto's copy of now), stays CREATING for the restore duration (reads
refused, DeleteTable refused), and the latest restorable time lags as AWS documents."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.dynamodb.pitr import PointInTimeRecovery

REGION = "eu-south-1"
SCALE = 0.002  # lag 300 s -> 0.6 s, restore 1200 s -> 2.4 s


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="tickets",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="tickets", Item={"pk": {"S": "seeded"}, "sk": {"S": "0"}})
        client.update_continuous_backups(
            TableName="tickets",
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        with PointInTimeRecovery(time_scale=SCALE):
            yield client


def _keys(client: Any, table: str) -> set[str]:
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["pk"]["S"] for item in items}


def _wait_active(client: Any, table: str, bound: float) -> float:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if client.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE":
            return time.monotonic()
        time.sleep(0.02)
    raise AssertionError(f"{table} not ACTIVE within {bound}s")


def test_restore_holds_the_items_as_of_the_restore_point(dynamodb: Any) -> None:
    dynamodb.put_item(TableName="tickets", Item={"pk": {"S": "before"}, "sk": {"S": "0"}})
    dynamodb.delete_item(TableName="tickets", Key={"pk": {"S": "seeded"}, "sk": {"S": "0"}})
    # a whole second: botocore before 1.44 sends RestoreDateTime in whole seconds
    point = float(math.ceil(time.time() + 0.05))
    time.sleep(max(0.0, point - time.time()) + 0.05)
    dynamodb.put_item(TableName="tickets", Item={"pk": {"S": "after"}, "sk": {"S": "0"}})
    dynamodb.put_item(TableName="tickets", Item={"pk": {"S": "seeded"}, "sk": {"S": "0"}})
    lag = 300 * SCALE
    time.sleep(lag + 0.1)  # the point is restorable once it is older than the lag
    window = dynamodb.describe_continuous_backups(TableName="tickets")
    latest = window["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
        "LatestRestorableDateTime"
    ]
    assert abs((time.time() - latest.timestamp()) - lag) < 0.1

    called = time.monotonic()
    answer = dynamodb.restore_table_to_point_in_time(
        SourceTableName="tickets", TargetTableName="restored", RestoreDateTime=point
    )["TableDescription"]
    assert answer["TableStatus"] == "CREATING"
    assert answer["RestoreSummary"]["RestoreInProgress"] is True
    with pytest.raises(ClientError) as refused:
        dynamodb.scan(TableName="restored")
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as in_use:
        dynamodb.delete_table(TableName="restored")
    assert in_use.value.response["Error"]["Code"] == "ResourceInUseException"

    active = _wait_active(dynamodb, "restored", 10)
    assert 1200 * SCALE - 0.1 <= active - called <= 1200 * SCALE + 0.5
    assert _keys(dynamodb, "restored") == {"before"}  # neither the deleted nor the later ones
    assert _keys(dynamodb, "tickets") == {"before", "after", "seeded"}  # source untouched
    dynamodb.delete_table(TableName="restored")


def test_a_restore_time_outside_the_window_is_refused(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as too_new:
        dynamodb.restore_table_to_point_in_time(
            SourceTableName="tickets", TargetTableName="restored", RestoreDateTime=time.time()
        )
    assert too_new.value.response["Error"]["Code"] == "InvalidRestoreTimeException"
    assert "restored" not in dynamodb.list_tables()["TableNames"]


def test_latest_restorable_time_restores_what_was_there_a_lag_ago(dynamodb: Any) -> None:
    time.sleep(300 * SCALE + 0.1)
    dynamodb.put_item(TableName="tickets", Item={"pk": {"S": "recent"}, "sk": {"S": "0"}})
    dynamodb.restore_table_to_point_in_time(
        SourceTableName="tickets", TargetTableName="latest", UseLatestRestorableTime=True
    )
    _wait_active(dynamodb, "latest", 10)
    assert _keys(dynamodb, "latest") == {"seeded"}  # "recent" is younger than the lag


def test_a_long_history_is_folded_into_the_baseline_without_changing_any_restore() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    from sandbox.dynamodb.pitr import TableHistory

    key = (DynamoType({"S": "k"}), None)
    other = (DynamoType({"S": "gone"}), None)
    history = TableHistory(0.0, {other: "seed"})  # type: ignore[dict-item]
    for n in range(1, 11):  # version n of k written at t = n
        history.changes.append((float(n), key, f"v{n}"))  # type: ignore[arg-type]
    history.changes.insert(5, (5.5, other, None))  # "gone" deleted at t = 5.5
    before = {t: history.as_of(t) for t in (6.0, 8.5, 10.0)}
    history.fold(keep=4)
    assert len(history.changes) == 4 and history.baseline_at == 6.0  # 11 changes, 7 folded
    assert history.baseline == {key: "v6"}
    assert {t: history.as_of(t) for t in (6.0, 8.5, 10.0)} == before
