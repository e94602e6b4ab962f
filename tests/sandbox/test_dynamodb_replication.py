"""The sandbox's DynamoDB global-table replicator (moto in-process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from chaosaws_ext.core.waiting import wait_until
from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator, active_replicator
from tests.conftest import OTHER_REGION, REGION

LAG = 0.3
TABLE = "orders"


@pytest.fixture
def replicator(mocked_aws: None) -> Iterator[GlobalTableReplicator]:
    rep = GlobalTableReplicator(lag_seconds=LAG).start()
    yield rep
    rep.stop()


def _client(region: str):
    return boto3.client("dynamodb", region_name=region)


def _create_table(region: str = REGION, name: str = TABLE, with_range: bool = False) -> None:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if with_range:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
    _client(region).create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attrs,
        BillingMode="PAY_PER_REQUEST",
    )


def _get(region: str, pk: str) -> dict | None:
    return (
        _client(region).get_item(TableName=TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True)
    ).get("Item")


def _stream_records(region: str) -> list[tuple[str, str]]:
    """(event, partition key) of every record of the table's stream, via the Streams API."""
    streams = boto3.client("dynamodbstreams", region_name=region)
    arn = _client(region).describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]


def test_replica_update_creates_the_replica_and_describe_reports_it(replicator):
    _create_table(with_range=True)
    _client(REGION).put_item(TableName=TABLE, Item={"pk": {"S": "old"}, "sk": {"N": "1"}})

    answer = _client(REGION).update_table(
        TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": OTHER_REGION}}]
    )

    assert answer["TableDescription"]["Replicas"] == [
        {"RegionName": OTHER_REGION, "ReplicaStatus": "ACTIVE"}
    ]
    home = _client(REGION).describe_table(TableName=TABLE)["Table"]
    replica = _client(OTHER_REGION).describe_table(TableName=TABLE)["Table"]
    assert replica["Replicas"] == [{"RegionName": REGION, "ReplicaStatus": "ACTIVE"}]
    assert replica["KeySchema"] == home["KeySchema"]
    assert replica["AttributeDefinitions"] == home["AttributeDefinitions"]
    assert replica["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert home["StreamSpecification"]["StreamEnabled"] is True
    assert _client(OTHER_REGION).scan(TableName=TABLE)["Items"] == [
        {"pk": {"S": "old"}, "sk": {"N": "1"}}
    ]
    assert replicator.regions_of(TABLE) == sorted([REGION, OTHER_REGION])

    with pytest.raises(ClientError, match="already exists"):
        _client(REGION).update_table(
            TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": OTHER_REGION}}]
        )


def test_a_write_appears_in_the_other_region_after_the_lag(replicator):
    _create_table()
    replicator.make_global(TABLE, [REGION, OTHER_REGION])

    started = time.monotonic()
    _client(REGION).put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "v": {"S": "1"}})
    wait_until(lambda: _get(OTHER_REGION, "a"), timeout=5, interval=0.005, what="replica")
    lag = time.monotonic() - started

    assert LAG * 0.9 <= lag <= LAG + 1.0, lag  # generous upper bound: busy CI machines
    assert _get(OTHER_REGION, "a") == {"pk": {"S": "a"}, "v": {"S": "1"}}

    _client(OTHER_REGION).delete_item(TableName=TABLE, Key={"pk": {"S": "a"}})
    wait_until(lambda: _get(REGION, "a") is None, timeout=5, interval=0.005, what="delete")


def test_conflicting_writes_converge_on_the_later_writer(mocked_aws, request):
    replicator = GlobalTableReplicator(lag_seconds=LAG).install()  # no delivery until start()
    request.addfinalizer(replicator.stop)
    _create_table()
    replicator.make_global(TABLE, [REGION, OTHER_REGION])

    _client(REGION).put_item(TableName=TABLE, Item={"pk": {"S": "k1"}, "v": {"S": "A"}})
    _client(OTHER_REGION).put_item(TableName=TABLE, Item={"pk": {"S": "k1"}, "v": {"S": "B"}})
    _client(OTHER_REGION).put_item(TableName=TABLE, Item={"pk": {"S": "k2"}, "v": {"S": "B"}})
    _client(REGION).update_item(
        TableName=TABLE,
        Key={"pk": {"S": "k2"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "A"}},
    )
    # before replication each region holds its own write
    assert _get(REGION, "k1")["v"] == {"S": "A"}
    assert _get(OTHER_REGION, "k1")["v"] == {"S": "B"}
    assert replicator.pending() >= 4  # moto streams an UpdateItem of a new item twice

    replicator.start()
    assert replicator.drain(timeout=5)

    for region in (REGION, OTHER_REGION):
        assert _get(region, "k1")["v"] == {"S": "B"}  # later writer: the other region
        assert _get(region, "k2")["v"] == {"S": "A"}
    assert replicator.stats["superseded"] >= 2  # the older writes lost on arrival


def test_a_delete_is_a_tombstone_older_writes_do_not_resurrect(replicator):
    _create_table()
    replicator.make_global(TABLE, [REGION, OTHER_REGION])
    _client(REGION).put_item(TableName=TABLE, Item={"pk": {"S": "k"}, "v": {"S": "A"}})
    _client(OTHER_REGION).put_item(TableName=TABLE, Item={"pk": {"S": "k"}, "v": {"S": "B"}})
    _client(OTHER_REGION).delete_item(TableName=TABLE, Key={"pk": {"S": "k"}})

    assert replicator.drain(timeout=5)

    assert _get(REGION, "k") is None
    assert _get(OTHER_REGION, "k") is None


def test_replicated_writes_are_not_replicated_again(replicator, monkeypatch):
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")  # in-process Streams calls
    _create_table()
    replicator.make_global(TABLE, [REGION, OTHER_REGION])

    _client(REGION).put_item(TableName=TABLE, Item={"pk": {"S": "once"}})
    assert replicator.drain(timeout=5)

    assert replicator.pending() == 0  # the applied copy queued nothing back
    assert replicator.stats["replicated"] == 1
    # the replicated write shows in the replica's stream, as in AWS, once each
    assert _stream_records(REGION) == [("INSERT", "once")]
    assert _stream_records(OTHER_REGION) == [("INSERT", "once")]


def test_strong_consistency_refuses_a_concurrent_cross_region_write(mocked_aws, request):
    # a conflict window wide enough that a slow machine still overlaps the writes
    replicator = GlobalTableReplicator(lag_seconds=LAG, conflict_window_seconds=1.0).start()
    request.addfinalizer(replicator.stop)
    _create_table()
    replicator.make_global(TABLE, [REGION, OTHER_REGION], mode="STRONG")
    assert _client(OTHER_REGION).describe_table(TableName=TABLE)["Table"][
        "MultiRegionConsistency"
    ] == ("STRONG")

    _client(REGION).put_item(TableName=TABLE, Item={"pk": {"S": "k"}, "v": {"S": "A"}})
    assert _get(OTHER_REGION, "k")["v"] == {"S": "A"}  # synchronous
    with pytest.raises(ClientError) as raised:
        _client(OTHER_REGION).put_item(TableName=TABLE, Item={"pk": {"S": "k"}, "v": {"S": "B"}})

    assert raised.value.response["Error"]["Code"] == "ReplicatedWriteConflictException"
    assert _get(REGION, "k")["v"] == {"S": "A"}
    assert _get(OTHER_REGION, "k")["v"] == {"S": "A"}


def test_stop_leaves_no_thread_and_restores_moto(mocked_aws):
    original = Table.put_item
    replicator = GlobalTableReplicator(lag_seconds=LAG).start()
    assert replicator.running and active_replicator() is replicator
    assert Table.put_item is not original
    _create_table()
    replicator.make_global(TABLE, [REGION, OTHER_REGION])
    _client(REGION).put_item(TableName=TABLE, Item={"pk": {"S": "pending"}})

    replicator.stop()

    assert not replicator.running
    assert active_replicator() is None
    assert Table.put_item is original
    assert not [t for t in threading.enumerate() if t.name == "dynamodb-replicator"]
    assert "Replicas" not in _client(REGION).describe_table(TableName=TABLE)["Table"]


def test_a_failed_transaction_replicates_nothing_and_the_table_stays_global(replicator):
    _create_table()
    replicator.make_global(TABLE, [REGION, OTHER_REGION])
    items = [
        {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "t1"}}}},
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"pk": {"S": "t2"}},
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ]
    with pytest.raises(ClientError, match="TransactionCanceled"):
        _client(REGION).transact_write_items(TransactItems=items)
    _client(REGION).transact_write_items(TransactItems=items[:1])
    _client(REGION).put_item(TableName=TABLE, Item={"pk": {"S": "after"}})

    assert replicator.drain(timeout=5)

    assert replicator.regions_of(TABLE) == sorted([REGION, OTHER_REGION])
    for region in (REGION, OTHER_REGION):
        assert sorted(i["pk"]["S"] for i in _client(region).scan(TableName=TABLE)["Items"]) == [
            "after",
            "t1",
        ]
