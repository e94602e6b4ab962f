"""S3 replication pause: every rule disabled and nothing else changed, the whole
configuration in the ledger before the call, restored deep-equal, refusals in one line
with no change, and a SIGKILLed pause undone by ``gameday recover --ledger``."""

from __future__ import annotations

import copy
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import RunContext
from chaosaws_ext.s3replication import actions, undo
from chaosaws_ext.s3replication.planning import plan_bucket_replication_pause
from sandbox.s3.replicator import BucketReplicator
from tests.conftest import REGION

SOURCE, DESTINATION = "production-ai-support-knowledge-base", "kb-replica-eu-west-1"
ORIGINAL: dict[str, Any] = {
    "Role": "arn:aws:iam::123456789012:role/s3-replication",
    "Rules": [
        {
            "ID": "kb",
            "Priority": 2,
            "Status": "Enabled",
            "Filter": {"Prefix": "docs/"},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{DESTINATION}", "StorageClass": "STANDARD"},
        },
        {
            "ID": "already-off",
            "Priority": 1,
            "Status": "Disabled",
            "Filter": {"And": {"Prefix": "x/", "Tags": [{"Key": "t", "Value": "1"}]}},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{DESTINATION}"},
        },
    ],
}


def _world(client: Any, tags: dict[str, str] | None = None, replication: bool = True) -> None:
    client.create_bucket(Bucket=SOURCE, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_bucket_versioning(Bucket=SOURCE, VersioningConfiguration={"Status": "Enabled"})
    if tags:
        client.put_bucket_tagging(
            Bucket=SOURCE, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
        )
    if replication:
        client.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=ORIGINAL)


def _current(client: Any) -> dict[str, Any]:
    return client.get_bucket_replication(Bucket=SOURCE)["ReplicationConfiguration"]


@pytest.fixture
def faithful_s3(mocked_aws: None) -> Iterator[Any]:
    """moto with the sandbox's S3 patch (GetBucketReplication answers what was stored)."""
    replicator = BucketReplicator(lag_seconds=0.05, jitter_seconds=0.0)
    replicator.start()
    yield boto3.client("s3", region_name=REGION)
    replicator.stop()


def test_pause_disables_every_rule_only_and_the_undo_restores_it_exactly(
    faithful_s3: Any, run_context: RunContext
) -> None:
    _world(faithful_s3)
    before = copy.deepcopy(_current(faithful_s3))
    assert before == ORIGINAL

    result = actions.pause_bucket_replication(SOURCE, duration=30)

    assert result["rules_paused"] == ["kb"]
    during = _current(faithful_s3)
    expected = copy.deepcopy(ORIGINAL)
    expected["Rules"][0]["Status"] = "Disabled"
    assert during == expected
    (entry,) = Ledger(run_context.ledger_path).entries()
    assert entry.undo["undoer"] == "s3-replication-pause.restore-replication"
    assert entry.undo["args"] == {"bucket_name": SOURCE, "original": ORIGINAL}

    reverted = actions.resume_bucket_replication()

    assert reverted["reverted"] == 1
    assert _current(faithful_s3) == before
    assert Ledger(run_context.ledger_path).unreverted() == []


def test_the_undo_is_idempotent_and_never_overwrites_someone_elses_change(
    faithful_s3: Any, run_context: RunContext
) -> None:
    _world(faithful_s3)
    again = undo.restore_replication_configuration(SOURCE, ORIGINAL, region=REGION)
    assert again == {"bucket": SOURCE, "restored": False, "reason": "already in place"}
    changed = copy.deepcopy(ORIGINAL)
    changed["Rules"][0]["Filter"] = {"Prefix": "other/"}
    faithful_s3.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=changed)
    with pytest.raises(ActivityFailed, match="changed during the pause"):
        undo.restore_replication_configuration(SOURCE, ORIGINAL, region=REGION)
    assert _current(faithful_s3) == changed


@pytest.mark.parametrize(
    "tags, replication, expected",
    [
        ({"chaos:protected": "true"}, True, "carries the protection tag 'chaos:protected'"),
        (None, False, f"bucket {SOURCE} has no replication configuration"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(
    faithful_s3: Any,
    run_context: RunContext,
    tags: dict[str, str] | None,
    replication: bool,
    expected: str,
) -> None:
    _world(faithful_s3, tags=tags, replication=replication)
    with pytest.raises(ActivityFailed) as raised:
        actions.pause_bucket_replication(SOURCE, duration=30)
    message = str(raised.value)
    assert message.startswith("refusing s3-replication-pause: ") and expected in message
    assert "\n" not in message
    assert Ledger(run_context.ledger_path).entries() == []
    if replication:
        assert _current(faithful_s3) == ORIGINAL


def test_a_missing_bucket_and_a_bad_duration_are_refused(
    faithful_s3: Any, run_context: RunContext
) -> None:
    with pytest.raises(ActivityFailed, match=f"bucket {SOURCE} does not exist"):
        plan_bucket_replication_pause(SOURCE)
    _world(faithful_s3)
    with pytest.raises(ActivityFailed, match=r"duration must be in \(0, 900\] s"):
        plan_bucket_replication_pause(SOURCE, duration=5000)
    paused = copy.deepcopy(ORIGINAL)
    paused["Rules"][0]["Status"] = "Disabled"
    faithful_s3.put_bucket_replication(Bucket=SOURCE, ReplicationConfiguration=paused)
    with pytest.raises(ActivityFailed, match="no enabled replication rule to pause"):
        plan_bucket_replication_pause(SOURCE)


PAUSE_THEN_HANG = """
import json, sys, time
from chaosaws_ext.s3replication.actions import pause_bucket_replication
result = pause_bucket_replication(
    sys.argv[1],
    duration=60,
    configuration={"aws_region": "eu-south-1", "chaos_ledger_path": sys.argv[2]},
)
print("INJECTED " + json.dumps(result), flush=True)
time.sleep(120)
"""


@pytest.fixture
def faithful_server(moto_endpoint: str) -> Iterator[Any]:
    """The session's moto server (in this process) with the sandbox's S3 patch."""
    replicator = BucketReplicator(lag_seconds=0.05, jitter_seconds=0.0)
    replicator.start()
    yield boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    replicator.stop()


def test_sigkill_mid_pause_then_gameday_recover_restores_exactly(
    faithful_server: Any, tmp_path: Path
) -> None:
    _world(faithful_server)
    before = copy.deepcopy(_current(faithful_server))
    ledger = tmp_path / "ledger.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSE_THEN_HANG, SOURCE, str(ledger)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)  # bounded wait
        line = process.stdout.readline() if ready else ""
        assert line.startswith("INJECTED "), line
        assert json.loads(line.removeprefix("INJECTED "))["rules_paused"] == ["kb"]
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert [r["Status"] for r in _current(faithful_server)["Rules"]] == ["Disabled"] * 2

    done = subprocess.run(
        [sys.executable, "-m", "gameday", "recover", "--ledger", str(ledger), "--region", REGION],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert _current(faithful_server) == before
    assert Ledger(ledger).unreverted() == []
