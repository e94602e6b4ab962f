"""The replication measurement: failover RPO and catch-up from marker times (pure), and
in the sandbox's S3 replication emulation (moto + sandbox.s3) a real pause of the
guide's knowledge-base bucket measured by the measurement session: the failover RPO
equals the ground truth of the marker log within the writer interval, the catch-up is
"never" as S3 documents for rule-disable, the lag without a pause lies within the
emulated lag; the recovery block is schema-valid and the markers are deleted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chaosaws_ext.core.recovery_schema import problems
from chaosaws_ext.core.waiting import wait_until
from chaosaws_ext.mutation import stamp_injected, stamp_reverted
from chaosaws_ext.runcontext import RunContext
from chaosaws_ext.s3replication import actions
from probes.recovery import Marker
from probes.replication import catch_up, failover_rpo, lag_outside
from probes.s3_markers import S3Markers
from probes.session import MeasurementSession, parse_spec
from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator
from sandbox.s3.replicator import BucketReplicator
from sandbox.s3.seed import seed_replicated_buckets
from tests.conftest import OTHER_REGION, REGION

LAG, JITTER = 0.3, 0.1  # the emulated replication lag: LAG + U(0, JITTER) s
INTERVAL = 0.1  # the marker writer's interval
POLL = 0.05  # the lag poller's interval
# threads run late on a loaded 2-core machine (writer, poller, replicator and moto share
# one process): a margin for the tail, never for the p50
SCHEDULING = 1.5


def _marker(seq: int, ack: float, seen: float | None) -> Marker:
    return Marker(seq, ack - 0.01, "", True, ack, "", None, seen)


def test_failover_rpo_counts_and_spans_the_acknowledged_markers_missing_at_the_moment() -> None:
    markers = [
        _marker(1, 1.0, 1.5),  # replicated before the failover
        _marker(2, 2.0, None),  # never replicated
        _marker(3, 3.0, 9.0),  # replicated after the failover
        _marker(4, 11.0, None),  # acknowledged after the failover: not counted
    ]
    result = failover_rpo(markers, failover_mono=10.0, interval=1.0)
    assert (result.acknowledged, result.missing, result.missing_seqs) == (3, 1, [2])
    assert result.span_s == 0.0
    result = failover_rpo(markers, failover_mono=5.0, interval=1.0)
    assert (result.missing, result.span_s) == (2, 1.0)


def test_catch_up_is_the_last_visibility_after_the_end_or_none_within_the_window() -> None:
    paused = [_marker(n, float(n), 12.0 + n / 10) for n in range(1, 10)]
    found = catch_up(paused, end_mono=10.0, polled_until_mono=30.0, poll_interval=0.1)
    assert (found.caught_up_s, found.still_missing, found.window_s) == (2.9, 0, 20.0)
    never = [*paused, _marker(10, 9.5, None)]
    found = catch_up(never, end_mono=10.0, polled_until_mono=30.0, poll_interval=0.1)
    assert (found.caught_up_s, found.still_missing) == (None, 1)
    spread = lag_outside([*paused, _marker(20, 20.0, 20.4)], 0.5, 10.0)
    assert (spread["count"], spread["max"]) == (1, 0.4)


@pytest.fixture
def replicated(mocked_aws: None, run_context: RunContext) -> Iterator[dict[str, Any]]:
    replicator = BucketReplicator(lag_seconds=LAG, jitter_seconds=JITTER, seed=3)
    replicator.start()
    primary = boto3.client("s3", region_name=REGION)
    replica = boto3.client("s3", region_name=OTHER_REGION)
    pairs = seed_replicated_buckets(
        primary, replica, "123456789012", "production", REGION, OTHER_REGION
    )
    yield {"pair": pairs["knowledge_base"], "primary": primary, "replica": replica}
    replicator.stop()


def _session(bucket: str, service: str, grace: float) -> MeasurementSession:
    configuration = {"aws_region": REGION}
    spec = parse_spec(
        {
            "service": service,
            "fault": "s3-replication-pause",
            "interval_s": 0.25,
            "samplers": [{"name": "source", "kind": "s3", "bucket": bucket, "region": REGION}],
            "markers": {
                "kind": "s3",
                "bucket": bucket,
                "region": REGION,
                "replica_region": OTHER_REGION,
                "interval_s": INTERVAL,
                "lag_interval_s": POLL,
                "lag_grace_s": grace,
            },
        },
        configuration,
    )
    return MeasurementSession(spec, configuration=configuration)


def _objects(client: Any, bucket: str) -> list[str]:
    page = client.list_object_versions(Bucket=bucket, Prefix="gameday-marker/")
    return [v["Key"] for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]


def test_a_pause_of_the_knowledge_base_measured_against_the_marker_log(
    replicated: dict[str, Any],
) -> None:
    pair = replicated["pair"]
    session = _session(pair["source"], "s3-knowledge-base", grace=2 * (LAG + JITTER))
    session.start()
    time.sleep(1.5)  # markers replicating before the pause: the lag without a pause
    actions.pause_bucket_replication(pair["source"], duration=30)
    time.sleep(2.0)  # the pause (the experiment's pause_seconds)
    actions.resume_bucket_replication()
    time.sleep(1.0)  # markers after it replicate again
    session.stop()
    block: dict[str, Any] = dict(session.recovery_block())
    assert problems(block) == []
    replication: dict[str, Any] = block["replication"]
    assert replication is not None and replication["failover"] is not None
    assert session.writer is not None

    # ground truth from the marker log: acknowledged between t0 and the end of the pause
    t0 = session.t0()
    assert t0 is not None
    end = t0.monotonic + float(replication["pause_s"] or 0)
    acks = [m.ack_mono for m in session.writer.markers() if m.acked and m.ack_mono is not None]
    during = [a for a in acks if t0.monotonic <= a <= end]
    truth = max(during) - min(during)
    failover = replication["failover"]
    assert failover["basis"] == "end of the pause"
    assert abs(failover["missing"] - len(during)) <= 1
    assert abs(failover["rpo_s"] - truth) <= INTERVAL
    # and the whole pause is lost (its length from the fault's stamps)
    assert replication["pause_s"] / 2 <= failover["rpo_s"] <= replication["pause_s"] + INTERVAL

    # S3 never replicates what was written while the rules were disabled
    catch = replication["catch_up"]
    assert catch is not None and catch["caught_up"] is False and catch["measured_s"] is None
    # (a PUT in flight across the resume may be written after it, and so replicate)
    assert failover["missing"] - 1 <= catch["still_missing"] <= failover["missing"]
    assert catch["reason"].startswith(f"not caught up within {catch['window_s']:.1f} s")
    assert "Batch Replication" in catch["reason"]
    status = replication["replication_status"]
    assert status.get("none", 0) >= failover["missing"] - 1 and status.get("COMPLETED", 0) > 0

    # outside the pause, every marker arrived within the emulated lag (+ one poll)
    lag = replication["lag"]
    assert lag is not None and lag["count"] > 10 and lag["unseen"] == 0
    assert LAG - POLL <= lag["p50"] <= LAG + JITTER + 2 * POLL

    # judged against the plan's row: RPO 0 cannot hold, said as a finding
    assert replication["met"] is False and block["rpo"]["met"] is False
    assert block["rpo"]["basis"] == "failover" and block["rpo"]["lost"] == failover["missing"]
    assert replication["finding"].startswith("a finding about the DR plan, not a bug")

    session.cleanup()
    assert session.cleaned == len([m for m in session.writer.markers() if m.acked])
    assert _objects(replicated["primary"], pair["source"]) == []
    assert _objects(replicated["replica"], pair["replica"]) == []


def test_without_a_pause_every_marker_replicates_within_the_emulated_lag(
    replicated: dict[str, Any],
) -> None:
    pair = replicated["pair"]
    session = _session(pair["source"], "logs", grace=2 * (LAG + JITTER))
    session.start()
    time.sleep(2.0)
    session.stop()
    block: dict[str, Any] = dict(session.recovery_block())
    assert problems(block) == []
    lag = block["replication_lag_s"]
    assert lag is not None and lag["count"] >= 10 and lag["unseen"] == 0
    assert LAG - POLL <= lag["p50"] <= LAG + JITTER + 2 * POLL
    assert lag["p50"] <= lag["p99"] <= lag["max"]  # the tail: scheduling on a loaded machine
    # no fault: no failover to judge, and the read-back RPO is 0
    assert block["replication"] is None
    assert block["rpo"]["measured_s"] == 0.0 and block["rpo"]["lost"] == 0
    session.cleanup()


class PausableReplicator(GlobalTableReplicator):
    """The sandbox's global-table replicator whose deliveries wait while ``paused``: a
    stand-in for the DynamoDB pause fault (a paused replica receives nothing and catches
    up after, the way FIS's aws:dynamodb:global-table-pause-replication behaves)."""

    def __init__(self) -> None:
        super().__init__(lag_seconds=LAG, jitter_seconds=JITTER, seed=4)
        self.resumed = threading.Event()
        self.resumed.set()

    def _apply(self, event: Any) -> None:
        self.resumed.wait(timeout=30)
        super()._apply(event)


def test_dynamodb_markers_catch_up_after_a_pause_within_the_lag_and_one_interval(
    mocked_aws: None, run_context: RunContext
) -> None:
    replicator = PausableReplicator().start()
    try:
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="tickets",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        replicator.make_global("tickets", [REGION, OTHER_REGION])
        configuration = {"aws_region": REGION}
        markers = {"kind": "dynamodb", "table": "tickets", "region": REGION,
                   "replica_region": OTHER_REGION, "interval_s": INTERVAL, "lag_interval_s": POLL,
                   "lag_grace_s": 5.0, "failover": "end-of-pause"}  # fmt: skip
        spec = parse_spec(
            {
                "service": "dynamodb",
                "fault": "ddb-pause",
                "interval_s": 0.25,
                "samplers": [{"name": "t", "kind": "dynamodb", "table": "tickets"}],
                "markers": markers,
            },
            configuration,
        )
        session = MeasurementSession(spec, configuration=configuration)
        session.start()
        time.sleep(1.0)  # before the pause
        replicator.resumed.clear()
        stamp_injected("ddb-pause")
        time.sleep(2.0)  # the pause
        replicator.resumed.set()
        stamp_reverted("ddb-pause")
        time.sleep(1.0)  # after it
        session.stop()
        block: dict[str, Any] = dict(session.recovery_block())
        session.cleanup()
    finally:
        replicator.stop()
    assert problems(block) == []
    replication: dict[str, Any] = block["replication"]
    failover, catch = replication["failover"], replication["catch_up"]
    # missing at the end: what was written during the pause, and what was in flight
    assert 2.0 - INTERVAL <= failover["rpo_s"] <= 2.0 + LAG + JITTER + INTERVAL
    assert failover["missing"] >= 2.0 / INTERVAL * 0.8
    # caught up: within the emulated lag and one writer interval (plus one poll)
    assert catch["caught_up"] is True and catch["still_missing"] == 0
    assert catch["measured_s"] <= LAG + JITTER + INTERVAL + POLL + SCHEDULING
    assert replication["met"] is False and replication["finding"]
    assert "S3 does not replicate" not in replication["finding"]


def test_markers_a_crash_left_mid_pause_are_found_by_prefix_and_deleted_both_sides(
    replicated: dict[str, Any],
) -> None:
    """``gameday recover --by-tag`` without the ledger: the run's objects are found under
    the marker prefix and every version is deleted in both buckets, although the rules
    are still disabled (the destination is read from a disabled rule)."""
    from chaosaws_ext.controls.measurement import delete_markers, find_markers

    pair, primary, replica = replicated["pair"], replicated["primary"], replicated["replica"]
    backend = S3Markers(pair["source"], REGION, OTHER_REGION, None, {"aws_region": REGION})
    backend.prepare()
    for seq in (1, 2, 3):
        backend.write("crashed-run", seq, "t", 1.0)
    wait_until(lambda: len(_objects(replica, pair["replica"])) == 3, timeout=10, interval=0.05)
    actions.pause_bucket_replication(pair["source"], duration=30)  # and the run dies here
    for seq in (4, 5):
        backend.write("crashed-run", seq, "t", 1.0)
    configuration = {
        "aws_region": REGION,
        "chaos_markers": [
            {"kind": "s3", "bucket": pair["source"], "region": REGION,
             "replica_region": OTHER_REGION},
        ],
    }  # fmt: skip
    (found,) = find_markers(configuration, None, region=REGION)
    assert found["args"]["run_id"] == "crashed-run" and found["args"]["kind"] == "s3"
    assert find_markers(configuration, None, region=OTHER_REGION) == []  # searched once
    result = delete_markers(**found["args"], configuration={"aws_region": REGION})
    assert result == {"deleted": 5}
    assert _objects(primary, pair["source"]) == [] and _objects(replica, pair["replica"]) == []
    assert delete_markers(**found["args"], configuration={"aws_region": REGION}) == {"deleted": 0}
    actions.resume_bucket_replication()
