"""IAM as AWS would authorise it, in the sandbox: every call of a real ``gameday run
--sandbox`` (the four experiments through the real ``chaos`` CLI, the sandbox's strictness
on) and of ``gameday recover --by-tag --force`` after a SIGKILL mid-experiment, checked
against the shipped policies by the same code as the moto runs
(tests/experiments/test_iam_authorization.py, tests/helpers/iam_authz.py). The paths:
tests/helpers/iam_sandbox.py. Both name a stop alarm in us-east-1 (``us-east-1:name``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.policy import load_policy, render
from tests.helpers.aws_calls import OUR_PACKAGES, Call
from tests.helpers.iam_authz import check_policy, failures, requirements
from tests.helpers.iam_sandbox import CRASHES, EXPERIMENTS, GameDay, record_crashes, sandbox_world
from tests.helpers.iam_scenarios import policy_values

pytestmark = pytest.mark.e2e
Recorded = dict[str, tuple[dict[str, list[Call]], dict[str, Any]]]
# What only the sandbox's own clients call (seeding): never recorded.
SEEDING = {"CreateVpc", "CreateSubnet", "CreateLoadBalancer", "CreateDBInstance",
           "PutMetricAlarm", "CreateHealthCheck", "CreateHostedZone", "CreateWebACL"}  # fmt: skip


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """{"game day": ..., "crash + recover": ...}: (calls per policy, the sandbox's ids).
    The game day runs in its own sandbox meanwhile the crashes run in this one."""
    from sandbox.server import running_sandbox

    workdir = tmp_path_factory.mktemp("iam-sandbox")
    game = GameDay(workdir / "game-day")
    try:
        with running_sandbox(time_scale=0.05) as (box, topology):
            assert box.ec2_strictness is not None and box.ec2_strictness.propagation_s > 0
            env_file = Path(topology.env_file)
            crashes = record_crashes(env_file, workdir / "crashes")
            crash_world = sandbox_world(env_file)
        calls, world = game.result()
    finally:
        if game.process.poll() is None:
            game.process.kill()
            game.process.wait(timeout=30)
    yield {"game day": (game.by_policy(calls), world), "crash + recover": (crashes, crash_world)}


def _missing(name: str, calls: list[Call], world: dict[str, Any]) -> list[str]:
    policy = render(load_policy(name), policy_values(world))
    return failures(check_policy(policy, requirements(calls)))


@pytest.mark.parametrize("path", ["game day", "crash + recover"])
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_sandbox_call_is_granted_by_its_policy(
    recorded: Recorded, path: str, name: str
) -> None:
    by_policy, world = recorded[path]
    calls = by_policy[name]
    assert _missing(name, calls, world) == []
    alarms = {c.region for c in calls if c.operation == "DescribeAlarms"}
    assert alarms == {"eu-south-1", "us-east-1"}, alarms  # home and us-east-1 stop alarms


def test_the_game_day_recorded_each_experiment_its_fault_and_undo(recorded: Recorded) -> None:
    by_policy, _ = recorded["game day"]
    assert set(by_policy) == set(EXPERIMENTS)
    operations = {name: {c.operation for c in calls} for name, calls in by_policy.items()}
    assert {"CreateNetworkAcl", "ReplaceNetworkAclAssociation", "DeleteNetworkAcl"} <= (
        operations["az-nacl-blackhole"]
    )
    assert "RebootDBInstance" in operations["rds-forced-failover"]
    assert {"CreateRule", "DeleteRule"} <= operations["healthcheck-path-block"]
    assert {"PutItem", "DeleteItem", "BatchGetItem"} <= operations["dynamodb-replica-conflict"]
    for name, calls in by_policy.items():  # the lock, in every experiment
        assert any(c.origin == "chaosaws_ext.locking" and c.operation == "PutItem"
                   for c in calls), name  # fmt: skip
    # the sandbox's EC2 eventual consistency answered, and those calls were checked too
    assert any(c.error == "InvalidNetworkAclID.NotFound" for c in by_policy["az-nacl-blackhole"])


def test_the_s3_finder_calls_of_the_recovery_are_granted(recorded: Recorded) -> None:
    by_policy, world = recorded["crash + recover"]
    calls = by_policy.get("s3-replication-pause", [])
    # the pause's finder, and the marker objects' (a listing of the source bucket)
    finders = {"GetBucketReplication", "GetBucketTagging", "ListObjectsV2"}
    assert calls and {c.operation for c in calls} <= finders
    assert _missing("s3-replication-pause", calls, {**world, "replication_role": "*"}) == []


def test_the_restore_drill_finder_calls_of_the_recovery_are_granted(recorded: Recorded) -> None:
    by_policy, world = recorded["crash + recover"]
    calls = by_policy.get("rds-restore-drill", [])
    assert calls and {c.operation for c in calls} <= {"DescribeDBInstances"}
    assert _missing("rds-restore-drill", calls, world) == []
    calls = by_policy.get("dynamodb-pitr-drill", [])
    assert calls and {c.operation for c in calls} <= {"ListTables", "ListBackups"}
    assert _missing("dynamodb-pitr-drill", calls, world) == []


def test_the_dynamodb_pause_finder_calls_of_the_recovery_are_granted(recorded: Recorded) -> None:
    by_policy, world = recorded["crash + recover"]
    calls = by_policy.get("dynamodb-replication-pause", [])
    assert calls and {c.operation for c in calls} <= {"DescribeTable", "GetResourcePolicy"}
    assert _missing("dynamodb-replication-pause", calls, world) == []


def test_the_fis_finder_calls_of_the_recovery_are_granted(recorded: Recorded) -> None:
    by_policy, world = recorded["crash + recover"]
    calls = by_policy.get("fis-az-disrupt-connectivity", [])
    assert calls and {c.operation for c in calls} <= {"ListExperiments", "ListExperimentTemplates"}
    assert _missing("fis-az-disrupt-connectivity", calls, world) == []


def test_the_ec2_stop_finder_calls_of_the_recovery_are_granted(recorded: Recorded) -> None:
    by_policy, world = recorded["crash + recover"]
    calls = by_policy.get("ec2-stop-instances", [])
    assert calls and {c.operation for c in calls} <= {"DescribeInstances"}
    assert _missing("ec2-stop-instances", calls, world) == []


def test_the_recoveries_undid_each_fault_by_tag(recorded: Recorded) -> None:
    by_policy, _ = recorded["crash + recover"]
    # recover --by-tag runs every finder: the S3 and DynamoDB pauses' too (read-only here)
    assert len(CRASHES) == 4
    # and the finders of the drills and the DynamoDB pause (read-only here)
    finders = {"s3-replication-pause", "rds-restore-drill", "dynamodb-pitr-drill",
               "dynamodb-replication-pause", "fis-az-disrupt-connectivity",
               "ec2-stop-instances", "region-failover-drill"}  # fmt: skip
    assert set(EXPERIMENTS) <= set(by_policy) <= {*EXPERIMENTS, *finders}
    operations = {name: {c.operation for c in calls} for name, calls in by_policy.items()}
    assert "DeleteNetworkAcl" in operations["az-nacl-blackhole"]
    assert "UpdateWebACL" in operations["healthcheck-path-block"]  # the WAF block undone
    assert {"Scan", "DeleteItem"} <= operations["dynamodb-replica-conflict"]
    locks = [c for calls in by_policy.values() for c in calls if c.origin == "chaosaws_ext.locking"]
    assert {"Scan", "DeleteItem"} <= {c.operation for c in locks}


@pytest.mark.parametrize("path", ["game day", "crash + recover"])
def test_only_our_clients_are_recorded_not_the_sandbox_s(recorded: Recorded, path: str) -> None:
    calls = [c for found in recorded[path][0].values() for c in found]
    assert calls
    assert all(c.origin.startswith(OUR_PACKAGES) for c in calls), {
        c.describe() for c in calls if not c.origin.startswith(OUR_PACKAGES)
    }
    assert not {c.operation for c in calls} & SEEDING
