"""DynamoDB replication pause: our two statements in the replica's resource policy (the
ledger first), the policy before restored byte-for-byte (with and without a policy
before), refusals in one line with no change, the sandbox replicator holding writes
while the Deny is in force and applying them after, and the pause ending by itself at
its ``aws:CurrentTime`` expiry when every process of ours is killed."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.waiting import wait_until
from chaosaws_ext.dynamodbpause import actions, undo
from chaosaws_ext.dynamodbpause.planning import plan_table_replication_pause
from chaosaws_ext.dynamodbpause.table_policy import sid_base
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import RunContext
from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator
from tests.conftest import OTHER_REGION, REGION
from tests.helpers import REPO

TABLE = "production-ai-support-tickets"
# AWS blocks a policy update for 15 s after the last one: shortened here, so the undo
# right after the inject meets the refusal and retries (table_policy.write_policy)
BLOCK_S = 0.5
ACCOUNT = "123456789012"
REPLICA_ARN = f"arn:aws:dynamodb:{OTHER_REGION}:{ACCOUNT}:table/{TABLE}"
# Someone else's policy, spaced and ordered as they wrote it: it must come back as is
THEIRS = (
    '{"Version": "2012-10-17",\n  "Statement": [{"Sid": "ReadOnlyAnalytics", '
    '"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/analytics"}, '
    f'"Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": "{REPLICA_ARN}"}}]}}'
)


def _until(check: Callable[[], bool], timeout: float) -> bool:
    """Bounded wait on a condition, polled every 10 ms (raises when it never holds)."""
    return bool(wait_until(check, timeout, interval=0.01))


def _client(region: str, endpoint: str | None = None) -> Any:
    return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint)


def _seed(
    replicator: GlobalTableReplicator,
    endpoint: str | None = None,
    mode: str = "EVENTUAL",
    tags: dict[str, str] | None = None,
    policy: str | None = None,
) -> None:
    _client(REGION, endpoint).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    replicator.make_global(TABLE, [REGION, OTHER_REGION], mode=mode)
    replica = _client(OTHER_REGION, endpoint)
    if tags:
        replica.tag_resource(
            ResourceArn=REPLICA_ARN, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )
    if policy:
        replica.put_resource_policy(ResourceArn=REPLICA_ARN, Policy=policy)


def _policy(endpoint: str | None = None) -> tuple[str | None, str | None]:
    try:
        answer = _client(OTHER_REGION, endpoint).get_resource_policy(ResourceArn=REPLICA_ARN)
    except _client(OTHER_REGION, endpoint).exceptions.PolicyNotFoundException:
        return None, None
    return answer["Policy"], answer["RevisionId"]


def _put(key: str, endpoint: str | None = None) -> float:
    _client(REGION, endpoint).put_item(TableName=TABLE, Item={"pk": {"S": key}})
    return time.time()


def _in_replica(key: str, endpoint: str | None = None) -> bool:
    answer = _client(OTHER_REGION, endpoint).get_item(TableName=TABLE, Key={"pk": {"S": key}})
    return "Item" in answer


@pytest.fixture
def replicator(mocked_aws: None) -> Iterator[GlobalTableReplicator]:
    rep = GlobalTableReplicator(lag_seconds=0.05, policy_update_block_seconds=BLOCK_S).start()
    yield rep
    rep.stop()


@pytest.mark.parametrize("before", [None, THEIRS], ids=["no-policy-before", "policy-before"])
def test_pause_holds_replication_and_the_undo_restores_the_policy_exactly(
    replicator: GlobalTableReplicator, run_context: RunContext, before: str | None
) -> None:
    _seed(replicator, policy=before)
    policy_before, revision_before = _policy()
    assert policy_before == before

    result = actions.pause_table_replication(TABLE, duration=60, replica_region=OTHER_REGION)

    base = sid_base(run_context.run_id)
    assert result["sids"] == [f"{base}ServicePrincipal", f"{base}ServiceLinkedRole"]
    during, revision_during = _policy()
    assert during is not None and revision_during != revision_before
    statements = json.loads(during)["Statement"]
    kept = json.loads(before)["Statement"] if before else []
    assert statements[: len(kept)] == kept
    ours = statements[len(kept) :]
    assert [s["Sid"] for s in ours] == result["sids"]
    assert all(s["Effect"] == "Deny" and s["Resource"] == REPLICA_ARN for s in ours)
    assert ours[0]["Condition"] == {
        "StringEquals": {"aws:PrincipalServiceName": "replication.dynamodb.amazonaws.com"},
        "DateLessThan": {"aws:CurrentTime": result["expires_at"]},
    }
    (entry,) = Ledger(run_context.ledger_path).entries()
    assert entry.undo["undoer"] == "dynamodb-replication-pause.remove-statements"
    assert entry.undo["args"]["policy_before"] == before
    assert entry.undo["args"]["revision_before"] == revision_before

    _put("during-the-pause")
    assert _until(lambda: replicator.held() >= 1, timeout=5)
    assert not _in_replica("during-the-pause")

    reverted = actions.resume_table_replication()

    assert reverted["reverted"] == 1
    assert _policy()[0] == before  # byte-for-byte, or no policy at all
    assert Ledger(run_context.ledger_path).unreverted() == []
    assert _until(lambda: _in_replica("during-the-pause"), timeout=5)
    assert replicator.held() == 0


def test_the_undo_is_idempotent_and_keeps_a_change_made_during_the_pause(
    replicator: GlobalTableReplicator, run_context: RunContext
) -> None:
    _seed(replicator, policy=THEIRS)
    result = actions.pause_table_replication(TABLE, duration=60, replica_region=OTHER_REGION)
    unblocked = time.monotonic() + BLOCK_S  # someone else's update, once AWS allows it
    assert _until(lambda: time.monotonic() > unblocked, timeout=5)
    during, _ = _policy()
    assert during is not None
    changed = json.loads(during)
    extra = {"Sid": "AddedMeanwhile", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": "dynamodb:Query", "Resource": REPLICA_ARN}  # fmt: skip
    changed["Statement"].insert(0, extra)
    _client(OTHER_REGION).put_resource_policy(ResourceArn=REPLICA_ARN, Policy=json.dumps(changed))

    done = undo.remove_pause_statements(REPLICA_ARN, result["sids"], region=OTHER_REGION)

    assert done["removed"] == result["sids"]
    after = json.loads(_policy()[0] or "{}")
    assert after["Statement"] == [extra, *json.loads(THEIRS)["Statement"]]
    again = undo.remove_pause_statements(REPLICA_ARN, result["sids"], region=OTHER_REGION)
    assert again == {"table": REPLICA_ARN, "removed": [], "reason": "not in the policy"}


@pytest.mark.parametrize(
    "mode, tags, expected",
    [
        ("STRONG", None, "multi-Region strongly consistent (MRSC) global table"),
        ("EVENTUAL", {"chaos:protected": "true"}, "carries the protection tag 'chaos:protected'"),
    ],
    ids=["mrsc", "protected"],
)
def test_refusals_are_one_line_and_change_nothing(
    replicator: GlobalTableReplicator,
    run_context: RunContext,
    mode: str,
    tags: dict[str, str] | None,
    expected: str,
) -> None:
    _seed(replicator, mode=mode, tags=tags, policy=THEIRS)
    with pytest.raises(ActivityFailed) as raised:
        actions.pause_table_replication(TABLE, duration=30, replica_region=OTHER_REGION)
    message = str(raised.value)
    assert message.startswith("refusing dynamodb-replication-pause: ") and expected in message
    assert "\n" not in message
    assert Ledger(run_context.ledger_path).entries() == []
    assert _policy()[0] == THEIRS


def test_a_table_that_is_not_global_missing_or_paused_already_is_refused(
    replicator: GlobalTableReplicator, run_context: RunContext
) -> None:
    with pytest.raises(ActivityFailed, match=f"table {TABLE} not found in {REGION}"):
        plan_table_replication_pause(TABLE)
    _client(REGION).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(ActivityFailed, match="is not a global table"):
        plan_table_replication_pause(TABLE)
    replicator.make_global(TABLE, [REGION, OTHER_REGION])
    with pytest.raises(ActivityFailed, match=r"duration must be in \(0, 900\] s"):
        plan_table_replication_pause(TABLE, duration=5000)
    actions.pause_table_replication(TABLE, duration=30, replica_region=OTHER_REGION)
    with pytest.raises(ActivityFailed, match="already holds a pause of ours"):
        plan_table_replication_pause(TABLE, replica_region=OTHER_REGION)


def test_the_plan_shows_the_statements_and_their_expiry(
    replicator: GlobalTableReplicator, run_context: RunContext
) -> None:
    _seed(replicator)
    plan = plan_table_replication_pause(
        TABLE, duration=45, configuration={"other_region": OTHER_REGION}
    )
    assert (plan.region, plan.details["replica_region"]) == (REGION, OTHER_REGION)
    (change,) = plan.changes
    assert change.resource == REPLICA_ARN
    assert plan.details["expires_at"] in change.change and "45 s" in change.change
    assert [s["Sid"] for s in plan.details["statements"]] == [
        f"{sid_base(run_context.run_id)}ServicePrincipal",
        f"{sid_base(run_context.run_id)}ServiceLinkedRole",
    ]
    assert _policy() == (None, None)  # a plan changes nothing


def test_gameday_plan_of_the_experiment_shows_the_statements_and_their_expiry(
    replicator: GlobalTableReplicator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gameday.planner import format_plan, plan_experiment

    _seed(replicator, policy=THEIRS)
    environment = {"AWS_REGION": REGION, "GAMEDAY_TABLE": TABLE,
                   "GAMEDAY_OTHER_REGION": OTHER_REGION, "GAMEDAY_PAUSE_SECONDS": "30"}  # fmt: skip
    for key, value in environment.items():
        monkeypatch.setenv(key, value)

    result = plan_experiment(REPO / "experiments" / "dynamodb-replication-pause.yaml", [])

    (item,) = result["plans"]
    assert item["problems"] == []
    details = item["plan"]["details"]
    lines = format_plan(result).splitlines()
    assert any(REPLICA_ARN in line and details["expires_at"] in line for line in lines)
    added = [line for line in lines if line.startswith("      adds statement: ")]
    assert [json.loads(line.split(": ", 1)[1]) for line in added] == details["statements"]
    assert set(result["api_calls"]) <= {
        "dynamodb:DescribeTable", "dynamodb:ListTagsOfResource",
        "dynamodb:GetResourcePolicy", "sts:GetCallerIdentity",
    }  # fmt: skip
    assert _policy()[0] == THEIRS  # nothing changed


PAUSE_THEN_HANG = """
import json, sys, time
from chaosaws_ext.dynamodbpause.actions import pause_table_replication
result = pause_table_replication(
    sys.argv[1],
    duration=float(sys.argv[3]),
    replica_region="eu-west-1",
    configuration={"aws_region": "eu-south-1", "chaos_ledger_path": sys.argv[2]},
)
print("INJECTED " + json.dumps(result), flush=True)
time.sleep(120)
"""


@pytest.fixture
def served(moto_endpoint: str) -> Iterator[GlobalTableReplicator]:
    """The session's moto server (in this process) with the sandbox's replicator."""
    rep = GlobalTableReplicator(lag_seconds=0.05, policy_update_block_seconds=BLOCK_S).start()
    yield rep
    rep.stop()


def _inject_and_kill(ledger: Path, duration: float) -> dict[str, Any]:
    """Pause in a child process, then SIGKILL it: nothing of ours runs any more."""
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSE_THEN_HANG, TABLE, str(ledger), str(duration)],
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
        return dict(json.loads(line.removeprefix("INJECTED ")))
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameday", "recover", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GAMEDAY_TABLE": TABLE},
    )


@pytest.mark.parametrize("how", ["ledger", "by-tag"])
def test_sigkill_mid_pause_then_gameday_recover_leaves_the_policy_exact(
    served: GlobalTableReplicator, moto_endpoint: str, tmp_path: Path, how: str
) -> None:
    _seed(served, moto_endpoint, policy=THEIRS)
    ledger = tmp_path / "ledger.jsonl"
    injected = _inject_and_kill(ledger, duration=60)
    during, _ = _policy(moto_endpoint)
    assert [s["Sid"] for s in json.loads(during or "{}")["Statement"]][1:] == injected["sids"]

    if how == "ledger":
        done = _gameday("--ledger", str(ledger), "--region", REGION)
    else:  # the ledger lost: the Sid prefix finds our statements
        ledger.unlink()
        done = _gameday("--by-tag", "--force", "--regions", OTHER_REGION)

    assert done.returncode == 0, done.stdout + done.stderr
    assert _policy(moto_endpoint)[0] == THEIRS


def test_sigkill_with_no_recover_the_pause_ends_by_itself_at_its_expiry(
    served: GlobalTableReplicator, moto_endpoint: str, tmp_path: Path
) -> None:
    """AWS evaluates ``aws:CurrentTime`` on every request: nothing needs to run for the
    pause to end. Prints the measured delay from the expiry to the first replicated
    marker written after it (bench/dynamodb_pause_expiry.py measures it repeatedly)."""
    _seed(served, moto_endpoint)
    injected = _inject_and_kill(tmp_path / "ledger.jsonl", duration=2)
    expiry = datetime.fromisoformat(injected["expires_at"].replace("Z", "+00:00")).timestamp()
    _put("before-expiry", moto_endpoint)
    assert _until(lambda: served.held() >= 1, timeout=5)
    assert not _in_replica("before-expiry", moto_endpoint)
    assert _until(lambda: time.time() > expiry, timeout=10)
    written = _put("after-expiry", moto_endpoint)

    assert _until(lambda: _in_replica("after-expiry", moto_endpoint), timeout=10)
    seen = time.time()
    assert _in_replica("before-expiry", moto_endpoint)  # the held write caught up too
    print(f"self-expiry: first marker after expiry replicated {seen - expiry:.3f} s after "
          f"the expiry ({seen - written:.3f} s after its write; lag 0.05 s)")  # fmt: skip
    # our statements are still in the policy (nobody removed them), inert
    assert [s["Sid"] for s in json.loads(_policy(moto_endpoint)[0] or "{}")["Statement"]] == (
        injected["sids"]
    )


def test_the_undo_never_overwrites_a_policy_changed_between_its_read_and_its_write(
    replicator: GlobalTableReplicator, run_context: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(replicator, policy=THEIRS)
    result = actions.pause_table_replication(TABLE, duration=60, replica_region=OTHER_REGION)
    during, revision = _policy()
    real_read = undo.read_policy

    def read_then_someone_writes(client: Any, arn: str) -> tuple[str | None, str | None]:
        read = real_read(client, arn)
        unblocked = time.monotonic() + BLOCK_S
        assert _until(lambda: time.monotonic() > unblocked, timeout=5)
        client.put_resource_policy(ResourceArn=arn, Policy=THEIRS)  # a concurrent change
        return read

    monkeypatch.setattr(undo, "read_policy", read_then_someone_writes)
    with pytest.raises(ActivityFailed, match="RevisionId no longer the one read"):
        undo.remove_pause_statements(REPLICA_ARN, result["sids"], region=OTHER_REGION)
    assert _policy()[0] == THEIRS and revision is not None and during != THEIRS
