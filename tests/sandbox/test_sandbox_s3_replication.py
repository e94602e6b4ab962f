"""The sandbox's S3 cross-region replication: the rules as AWS documents them (status at
the write, prefix/tag filters, priority, delete markers V1/V2), the lag bounded by its
parameter, and a GetBucketReplication that answers what was stored."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sandbox.s3.replication import RTC_BOUND_SECONDS, lag_seconds, parse_rules, rule_for
from sandbox.s3.replicator import BucketReplicator

SOURCE, DESTINATION = "kb-source", "kb-replica"
ROLE = "arn:aws:iam::123456789012:role/s3-replication"


def _rule(rule_id: str, prefix: str, priority: int = 1, markers: str = "Disabled") -> dict:
    return {
        "ID": rule_id,
        "Priority": priority,
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "DeleteMarkerReplication": {"Status": markers},
        "Destination": {"Bucket": f"arn:aws:s3:::{DESTINATION}", "StorageClass": "STANDARD"},
    }


@pytest.fixture
def buckets(mocked_aws: None) -> Iterator[tuple[Any, Any, BucketReplicator]]:
    replicator = BucketReplicator(lag_seconds=0.2, jitter_seconds=0.1, seed=1)
    replicator.start()
    source = boto3.client("s3", region_name="eu-south-1")
    replica = boto3.client("s3", region_name="eu-west-1")
    source.create_bucket(
        Bucket=SOURCE, CreateBucketConfiguration={"LocationConstraint": "eu-south-1"}
    )
    replica.create_bucket(
        Bucket=DESTINATION, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    for name in (SOURCE, DESTINATION):
        source.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield source, replica, replicator
    replicator.stop()


def _keys(client: Any) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=DESTINATION).get("Contents", []))


def test_get_bucket_replication_answers_what_was_stored(buckets: Any) -> None:
    source, _, _ = buckets
    configuration = {
        "Role": ROLE,
        "Rules": [
            {
                **_rule("tagged", ""),
                "Filter": {"And": {"Prefix": "docs/", "Tags": [{"Key": "tier", "Value": "kb"}]}},
            },
            _rule("logs", "logs/", priority=2, markers="Enabled"),
        ],
    }
    source.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=configuration)
    # moto alone answers Filter {"Prefix": ""} and DeleteMarkerReplication Disabled
    assert source.get_bucket_replication(Bucket=SOURCE)["ReplicationConfiguration"] == (
        configuration
    )


def test_replicates_matching_enabled_rules_only_with_delete_markers_as_configured(
    buckets: Any,
) -> None:
    source, replica, replicator = buckets
    configuration = {
        "Role": ROLE,
        "Rules": [_rule("docs", "docs/"), _rule("logs", "logs/", 2, markers="Enabled")],
    }
    source.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=configuration)
    for key in ("docs/a", "logs/1", "other/x"):
        source.put_object(Bucket=SOURCE, Key=key, Body=key.encode(), Metadata={"m": "1"})
    assert _keys(replica) == []  # not instantly: the lag
    assert replicator.drain(timeout=5)
    assert _keys(replica) == ["docs/a", "logs/1"]
    got = replica.get_object(Bucket=DESTINATION, Key="docs/a")
    assert got["Body"].read() == b"docs/a" and got["Metadata"] == {"m": "1"}
    source.delete_object(Bucket=SOURCE, Key="docs/a")  # V2 rule, markers Disabled: kept
    source.delete_object(Bucket=SOURCE, Key="logs/1")  # markers Enabled: replicated
    assert replicator.drain(timeout=5)
    assert _keys(replica) == ["docs/a"]


def test_a_write_while_its_rule_is_disabled_is_never_replicated(buckets: Any) -> None:
    source, replica, replicator = buckets
    enabled = {"Role": ROLE, "Rules": [_rule("docs", "docs/")]}
    disabled = {"Role": ROLE, "Rules": [{**_rule("docs", "docs/"), "Status": "Disabled"}]}
    source.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=disabled)
    source.put_object(Bucket=SOURCE, Key="docs/during-pause", Body=b"1")
    source.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=enabled)
    source.put_object(Bucket=SOURCE, Key="docs/after", Body=b"2")
    assert replicator.drain(timeout=5)
    assert _keys(replica) == ["docs/after"]


def test_a_tag_filter_and_the_highest_priority_rule_decide() -> None:
    rules = parse_rules(
        {
            "Rule": [
                {
                    "ID": "tag",
                    "Priority": "5",
                    "Status": "Enabled",
                    "Filter": {"And": {"Prefix": "d/", "Tag": {"Key": "t", "Value": "1"}}},
                    "Destination": {"Bucket": "arn:aws:s3:::b"},
                },
                {
                    "ID": "v1",
                    "Priority": "1",
                    "Status": "Enabled",
                    "Prefix": "d/",
                    "Destination": {"Bucket": "arn:aws:s3:::b"},
                },
            ]
        }
    )
    assert rule_for(rules, "d/x", {"t": "1"}, "b").id == "tag"  # type: ignore[union-attr]
    assert rule_for(rules, "d/x", {}, "b").id == "v1"  # type: ignore[union-attr]
    assert rule_for(rules, "e/x", {"t": "1"}, "b") is None
    assert rules[1].delete_markers  # a V1 rule replicates delete markers


def test_the_lag_is_bounded_by_the_rtc_figure() -> None:
    rng = random.Random(3)
    draws = [lag_seconds(2.0, 1.0, rng=rng) for _ in range(200)]
    assert all(2.0 <= d <= 3.0 for d in draws)
    assert lag_seconds(10_000.0, 0.0) == RTC_BOUND_SECONDS == 900.0


def test_replicas_appear_after_the_lag_not_before(buckets: Any) -> None:
    source, replica, replicator = buckets
    source.put_bucket_replication(
        Bucket=SOURCE, ReplicationConfiguration={"Role": ROLE, "Rules": [_rule("all", "")]}
    )
    acknowledged = time.monotonic()
    source.put_object(Bucket=SOURCE, Key="k", Body=b"1")
    deadline = acknowledged + 5
    while not _keys(replica) and time.monotonic() < deadline:
        time.sleep(0.01)
    seen = time.monotonic() - acknowledged
    assert _keys(replica) == ["k"]
    assert 0.2 <= seen <= 0.3 + 0.25  # lag 0.2 + jitter <= 0.1, polling and delivery slack


def test_the_guides_buckets_replicate_to_eu_west_1(mocked_aws: None) -> None:
    from sandbox.s3.seed import seed_replicated_buckets

    replicator = BucketReplicator(lag_seconds=0.05, jitter_seconds=0.0)
    replicator.start()
    try:
        primary = boto3.client("s3", region_name="eu-south-1")
        replica = boto3.client("s3", region_name="eu-west-1")
        pairs = seed_replicated_buckets(
            primary, replica, "123456789012", "production", "eu-south-1", "eu-west-1"
        )
        assert pairs["knowledge_base"] == {
            "source": "ai-support-kb-production-123456789012-primary",
            "replica": "ai-support-kb-production-123456789012-replica",
        }
        for pair in pairs.values():
            (rule,) = primary.get_bucket_replication(Bucket=pair["source"])[
                "ReplicationConfiguration"
            ]["Rules"]
            assert rule["Destination"]["ReplicationTime"] == {
                "Status": "Enabled",
                "Time": {"Minutes": 15},
            }
            primary.put_object(Bucket=pair["source"], Key="doc", Body=b"1")
        assert replicator.drain(timeout=5)
        for pair in pairs.values():
            assert replica.get_object(Bucket=pair["replica"], Key="doc")["Body"].read() == b"1"
            location = replica.get_bucket_location(Bucket=pair["replica"])
            assert location["LocationConstraint"] == "eu-west-1"
    finally:
        replicator.stop()


@pytest.mark.parametrize("empty", [{"Prefix": ""}, {}])
def test_an_empty_filter_reads_back_as_written_and_matches_everything(
    buckets: Any, empty: dict[str, str]
) -> None:
    source, replica, replicator = buckets
    configuration = {"Role": ROLE, "Rules": [{**_rule("all", ""), "Filter": empty}]}
    source.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=configuration)
    read = source.get_bucket_replication(Bucket=SOURCE)["ReplicationConfiguration"]
    source.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=read)
    assert source.get_bucket_replication(Bucket=SOURCE)["ReplicationConfiguration"] == read
    assert read == configuration
    source.put_object(Bucket=SOURCE, Key="any/key", Body=b"1")
    source.delete_object(Bucket=SOURCE, Key="any/key")  # V2, markers Disabled: kept
    assert replicator.drain(timeout=5)
    assert _keys(replica) == ["any/key"]


def _status(client: Any, bucket: str, key: str) -> str | None:
    return client.head_object(Bucket=bucket, Key=key).get("ReplicationStatus")


def test_replication_status_pending_then_completed_replica_and_none_while_disabled(
    buckets: Any,
) -> None:
    """What the guide's Example 3 script reads: PENDING until the replica is written,
    then COMPLETED; REPLICA on the replica; no status for a write no enabled rule matched
    (and it never gets one: S3 does not replicate it when the rule comes back)."""
    source, replica, replicator = buckets
    configuration = {"Role": ROLE, "Rules": [_rule("all", "")]}
    source.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=configuration)
    source.put_object(Bucket=SOURCE, Key="a.txt", Body=b"a")
    assert _status(source, SOURCE, "a.txt") == "PENDING"
    assert replicator.drain(timeout=5)
    assert _status(source, SOURCE, "a.txt") == "COMPLETED"
    assert _status(replica, DESTINATION, "a.txt") == "REPLICA"
    disabled = {"Role": ROLE, "Rules": [{**_rule("all", ""), "Status": "Disabled"}]}
    source.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=disabled)
    source.put_object(Bucket=SOURCE, Key="b.txt", Body=b"b")
    source.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=configuration)
    assert replicator.drain(timeout=5)
    assert _status(source, SOURCE, "b.txt") is None
    assert "b.txt" not in _keys(replica)
