"""Least privilege: each experiment runs with exactly its policy and fails cleanly without
one of its actions.

Real ``chaos run`` subprocesses against the session moto server (in this process, with
the RDS failover emulator and the DynamoDB replicator installed) with IAM enforcement on
(``moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0`` only inside the run), as an IAM user
holding exactly ``experiments/policies/<experiment>.json``.

What moto 5.2.5 checks, and therefore what these tests prove: every service used here
(EC2, RDS, ELBv2, WAFv2, DynamoDB, Route 53, CloudWatch) refuses an action that no
statement allows. It does NOT check resources nor conditions (it evaluates every request
against resource ``*``, and a policy ``Condition`` without request context denies), so
the policy is rendered for moto with ``Resource: "*"`` and no ``Condition``, and moto
names CloudWatch actions ``monitoring:*``. The resource patterns are checked here
separately: each ARN the run touched must match a Resource of a statement allowing the
action. ``sts:GetCallerIdentity`` is always allowed by moto (as by AWS). Two moto flaws
are worked around during the runs (see :func:`aws_like_auth_errors`): Route 53 requests
fail moto's signature check even for ``Action: "*"``, and refusals of JSON-protocol
services come back as XML botocore cannot read.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import settings

from chaosaws_ext.ledger import Ledger
from gameday.policy import (
    CONDITIONAL_ACTIONS,
    DEPENDENT_ACTIONS,
    load_policy,
    placeholders,
    policy_actions,
    render,
)
from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator
from sandbox.behaviour.rds_failover import RdsFailoverEmulator
from tests.helpers import REPO
from tests.helpers.aws_world import (
    ACCOUNT,
    ALARM,
    EXPERIMENTS,
    LOCK_TABLE,
    OTHER_REGION,
    REGION,
    ServerCalls,
    client,
    experiment_env,
    seed_world,
    state_of,
    ticket_api,
    with_safety_control,
    world_state,
)
from tests.helpers.executables import chaos_executable

ROOT = REPO
CHAOS = chaos_executable()
# Variants whose union must use every action of the policy.
VARIANTS: dict[str, list[dict[str, str]]] = {
    "az-nacl-blackhole": [{"GAMEDAY_BLACKHOLE_SCOPE": "availability-zone"}],
    "rds-forced-failover": [{}],
    "healthcheck-path-block": [
        {"GAMEDAY_BLOCK_MECHANISM": "listener-rule"},
        {"GAMEDAY_BLOCK_MECHANISM": "waf"},
    ],
    "dynamodb-replica-conflict": [{}],
}
# One action the inject needs, per experiment (and variant).
REMOVED = [
    ("az-nacl-blackhole", "ec2:CreateNetworkAcl", {}),
    ("az-nacl-blackhole", "ec2:ReplaceNetworkAclAssociation", {}),
    ("rds-forced-failover", "rds:RebootDBInstance", {"GAMEDAY_FAILOVER_TIMEOUT": "5"}),
    ("healthcheck-path-block", "elasticloadbalancing:CreateRule", {}),
    ("healthcheck-path-block", "wafv2:UpdateWebACL", {"GAMEDAY_BLOCK_MECHANISM": "waf"}),
    ("dynamodb-replica-conflict", "dynamodb:PutItem", {"GAMEDAY_LOCK_TABLE": ""}),
]


@pytest.fixture
def world(moto_endpoint: str) -> Iterator[dict[str, Any]]:
    emulator = RdsFailoverEmulator(
        failover_seconds=0.5, reboot_seconds=0.5, regions=(REGION,)
    ).install()
    replicator = GlobalTableReplicator(lag_seconds=0.2).start()
    try:
        seeded = seed_world(moto_endpoint, replicator)
        seeded["replicator"] = replicator
        # the blackhole's write markers go through the sandbox's ticket API: its own
        # user (the server enforces IAM during the runs), not the experiment's
        allowed = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}  # fmt: skip
        key = iam_user(moto_endpoint, "ticket-api", allowed)
        api_credentials = {
            "aws_access_key_id": key["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": key["AWS_SECRET_ACCESS_KEY"],
        }
        with ticket_api(seeded, moto_endpoint, api_credentials):
            yield seeded
    finally:
        replicator.stop()
        emulator.uninstall()


def placeholder_values(world: dict[str, Any]) -> dict[str, str]:
    return {
        "account": ACCOUNT,
        "region": REGION,
        "other_region": OTHER_REGION,
        "vpc_id": world["vpc_id"],
        "db_instance": world["db"],
        "health_check_id": world["health_check_id"],
        "table": world["table"],
        "lock_table": LOCK_TABLE,
    }


def for_moto(policy: dict[str, Any], without: str | None = None) -> dict[str, Any]:
    """What moto can evaluate: actions only (see the module docstring)."""
    rendered = copy.deepcopy(policy)
    statements = []
    for statement in rendered["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        actions = [a.replace("cloudwatch:", "monitoring:") for a in actions if a != without]
        if not actions:
            continue
        statement.pop("Condition", None)
        statements.append({**statement, "Action": actions, "Resource": "*"})
    return {**rendered, "Statement": statements}


def iam_user(endpoint: str, name: str, policy: dict[str, Any]) -> dict[str, str]:
    """A user holding exactly ``policy``; its key as environment variables."""
    iam = client("iam", endpoint)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


JSON_PROTOCOL_SERVICES = ("dynamodb", "wafv2")


@contextmanager
def aws_like_auth_errors() -> Iterator[None]:
    """Two moto 5.2.5 server-mode flaws worked around for the duration of a run.

    - Route 53: its SigV4 check fails for every signed request; the signature check
      alone is skipped for ``route53`` (the action check still applies).
    - JSON-protocol services (DynamoDB, WAFv2) answer a refusal with an XML body that
      botocore cannot parse (error code "403", message = the XML); they answer
      ``{"__type": "AccessDeniedException", "message": "User: ... is not authorized to
      perform: ..."}`` here, as AWS does.
    """
    from moto.core.exceptions import JsonRESTError
    from moto.iam.access_control import IAMRequest, IAMRequestBase

    check_signature = IAMRequestBase.check_signature
    access_denied = IAMRequest._raise_access_denied

    def check(request: IAMRequestBase) -> None:
        if request._service != "route53":
            check_signature(request)

    def deny(request: IAMRequest) -> None:
        if request._service in JSON_PROTOCOL_SERVICES:
            raise JsonRESTError(
                "AccessDeniedException",
                f"User: {request._access_key.arn} is not authorized to perform: {request._action}",
            )
        access_denied(request)

    IAMRequestBase.check_signature = check  # type: ignore[method-assign]
    IAMRequest._raise_access_denied = deny  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMRequestBase.check_signature = check_signature  # type: ignore[method-assign]
        IAMRequest._raise_access_denied = access_denied  # type: ignore[method-assign]


def run_enforced(
    experiment: str,
    world: dict[str, Any],
    endpoint: str,
    workdir: Path,
    credentials: dict[str, str],
    calls: ServerCalls,
    **extra: str,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``chaos run`` with IAM enforced by the server for the duration of the run."""
    workdir.mkdir(parents=True, exist_ok=True)
    path, _ = with_safety_control(experiment, workdir, ticket_api=True)
    env = experiment_env(
        experiment,
        world,
        workdir,
        endpoint,
        credentials,
        **{"GAMEDAY_LOCK_TABLE": LOCK_TABLE, **extra},
    )
    previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        with calls.recording(), aws_like_auth_errors():
            done = subprocess.run(
                [CHAOS, "--no-version-check", "--no-log-file", "run", "--journal-path",
                 str(workdir / "journal.json"), str(path)],
                cwd=workdir, env=env, capture_output=True, text=True, timeout=180,
            )  # fmt: skip
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = previous
    journal = json.loads((workdir / "journal.json").read_text())
    return done, journal


def arn_matches(pattern: str, arn: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), arn) is not None


def touched_arns(experiment: str, world: dict[str, Any], endpoint: str) -> dict[str, list[str]]:
    """The ARNs each scoped action of the run acted on (from the seeded world)."""
    acl_pattern = f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-acl/acl-0123"
    elbv2 = client("elbv2", endpoint)
    listener = world["listener_arn"]
    waf = world["web_acl"]["ARN"]
    tables = [
        f"arn:aws:dynamodb:{r}:{ACCOUNT}:table/{world['table']}" for r in (REGION, OTHER_REGION)
    ]
    lock = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{LOCK_TABLE}"
    rule = listener.replace(":listener/", ":listener-rule/") + "/0123abcd"
    found: dict[str, list[str]] = {
        "cloudwatch:DescribeAlarms": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{ALARM}"],
        "dynamodb:PutItem": [lock],
        "dynamodb:DeleteItem": [lock],
        "dynamodb:DescribeTable": [lock],
        "dynamodb:CreateTable": [lock],
    }  # fmt: skip
    if experiment == "az-nacl-blackhole":
        vpc = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{world['vpc_id']}"
        found.update(
            {
                "ec2:CreateNetworkAcl": [acl_pattern, vpc],
                "ec2:DeleteNetworkAcl": [acl_pattern],
                "ec2:ReplaceNetworkAclAssociation": [acl_pattern],
            }
        )
    elif experiment == "rds-forced-failover":
        db = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{world['db']}"
        found.update({"rds:RebootDBInstance": [db], "rds:DescribeDBInstances": [db]})
    elif experiment == "healthcheck-path-block":
        check = world["health_check_id"]
        assert elbv2.describe_listeners(ListenerArns=[listener])["Listeners"]
        found.update(
            {
                "route53:GetHealthCheck": [f"arn:aws:route53:::healthcheck/{check}"],
                "elasticloadbalancing:CreateRule": [listener],
                "elasticloadbalancing:DeleteRule": [rule],
                "wafv2:UpdateWebACL": [waf],
                "wafv2:GetWebACL": [waf],
                "wafv2:GetWebACLForResource": [waf, world["load_balancer_arn"]],
            }
        )  # fmt: skip
    else:
        found.update(
            {
                "dynamodb:PutItem": [lock, *tables],
                "dynamodb:DeleteItem": [lock, *tables],
                "dynamodb:GetItem": tables,
                "dynamodb:BatchGetItem": tables,
                "dynamodb:DescribeTable": [lock, *tables],
            }
        )
    return found


def allowed(policy: dict[str, Any], action: str, arn: str) -> bool:
    for statement in policy["Statement"]:
        actions = statement["Action"]
        resources = statement["Resource"]
        if action not in ([actions] if isinstance(actions, str) else actions):
            continue
        for pattern in [resources] if isinstance(resources, str) else resources:
            if arn_matches(pattern, arn):
                return True
    return False


def test_every_experiment_has_a_policy_with_one_sid_per_statement() -> None:
    for experiment in EXPERIMENTS:
        policy = load_policy(experiment)
        sids = [s["Sid"] for s in policy["Statement"]]
        assert len(sids) == len(set(sids)) and all(sids), experiment
        assert all(s["Effect"] == "Allow" for s in policy["Statement"])
        actions = policy_actions(policy)
        assert {"sts:GetCallerIdentity", "cloudwatch:DescribeAlarms"} <= actions
        assert all(":" in a and "*" not in a for a in actions), experiment
        assert placeholders(policy) >= {"account", "region", "lock_table"}


def test_gameday_policy_prints_json_and_refuses_unknown_names() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "policy", "rds-forced-failover", "--account",
         ACCOUNT, "--region", REGION, "--set", "db_instance=db1", "--set", "lock_table=locks"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed == render(
        load_policy("rds-forced-failover"),
        {"account": ACCOUNT, "region": REGION, "db_instance": "db1", "lock_table": "locks"},
    )
    assert placeholders(printed) == set()
    unknown = subprocess.run(
        [sys.executable, "-m", "gameday", "policy", "no-such-experiment"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    lines = unknown.stderr.strip().splitlines()
    assert len(lines) == 1 and "no IAM policy for experiment 'no-such-experiment'" in lines[0]


@pytest.mark.e2e
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_the_policy_is_enough_and_every_action_is_used(
    experiment: str, world: dict[str, Any], moto_endpoint: str, tmp_path: Path
) -> None:
    policy = render(load_policy(experiment), placeholder_values(world))
    assert placeholders(policy) == set()
    credentials = iam_user(moto_endpoint, f"chaos-{experiment}", for_moto(policy))
    calls = ServerCalls()
    before = state_of(experiment, world_state(moto_endpoint, world))
    for n, variant in enumerate(VARIANTS[experiment]):
        done, journal = run_enforced(
            experiment, world, moto_endpoint, tmp_path / str(n), credentials, calls, **variant
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        assert journal["status"] == "completed", journal.get("safety")
        assert journal["safety"]["all_reverted"] is True
        assert "not authorized" not in output
        world["replicator"].drain(timeout=10)
        assert state_of(experiment, world_state(moto_endpoint, world)) == before
    used = {
        a.replace("monitoring:", "cloudwatch:") for a in calls.of(credentials["AWS_ACCESS_KEY_ID"])
    }
    granted = policy_actions(policy)
    assert used <= granted, f"used but not granted: {sorted(used - granted)}"
    unused = granted - used - DEPENDENT_ACTIONS - CONDITIONAL_ACTIONS
    assert unused == set(), f"granted but never used: {sorted(unused)}"
    for action, arns in touched_arns(experiment, world, moto_endpoint).items():
        for arn in arns:
            assert allowed(policy, action, arn), f"{action} on {arn} not allowed by the policy"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("experiment", "action", "extra"),
    REMOVED,
    ids=[f"{e}-without-{a}" for e, a, _ in REMOVED],
)
def test_a_missing_permission_fails_the_run_cleanly_and_changes_nothing(
    experiment: str,
    action: str,
    extra: dict[str, str],
    world: dict[str, Any],
    moto_endpoint: str,
    tmp_path: Path,
) -> None:
    policy = render(load_policy(experiment), placeholder_values(world))
    credentials = iam_user(moto_endpoint, "chaos-short", for_moto(policy, without=action))
    before = state_of(experiment, world_state(moto_endpoint, world))
    done, journal = run_enforced(
        experiment, world, moto_endpoint, tmp_path, credentials, ServerCalls(), **extra
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert journal["status"] == "failed"
    failed = journal["safety"]["failed_actions"]
    assert any(f"not authorized to perform: {action}" in line for line in failed), failed
    assert f"not authorized to perform: {action}" in output
    assert "Traceback" not in output
    assert journal["safety"]["all_reverted"] is True
    world["replicator"].drain(timeout=10)
    assert state_of(experiment, world_state(moto_endpoint, world)) == before
    ledger = Ledger(tmp_path / "ledger.jsonl")
    assert ledger.unreverted() == []
    # the lock (when configured) was released: the next run may take it
    if extra.get("GAMEDAY_LOCK_TABLE", LOCK_TABLE):
        items = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint).scan(
            TableName=LOCK_TABLE
        )["Items"]
        assert items == []


def test_auth_is_off_again_after_the_enforced_runs(moto_endpoint: str) -> None:
    assert settings.INITIAL_NO_AUTH_ACTION_COUNT == float("inf")
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    assert client("ec2", moto_endpoint).describe_vpcs()["Vpcs"]
