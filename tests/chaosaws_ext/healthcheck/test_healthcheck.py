"""Health-check path block against in-process moto: exact state after inject and undo,
refusals with zero mutating calls, idempotent undo, orphans by tag, probes."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed
from conftest import REGION

from chaosaws_ext import undo
from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.waiting import WaitTimedOut
from chaosaws_ext.healthcheck import planning
from chaosaws_ext.healthcheck import undo as healthcheck_undo
from chaosaws_ext.healthcheck.actions import (
    block_health_check_path,
    plan_health_check_path_block,
    unblock_health_check_path,
)
from chaosaws_ext.healthcheck.probes import (
    health_check_status,
    route53_failover_record_target,
    wait_for_health_check_status,
)
from chaosaws_ext.healthcheck.rules import path_pattern_matches, waf_rule_name
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import RunContext, start_run

CONFIG = {"aws_region": REGION}
VISIBILITY = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"}
READ_ONLY_PREFIXES = ("Describe", "Get", "List", "Check")


# --- the world: an ALB with a listener and one rule, a health check, a web ACL ----------


def build_world(waf_rules: int = 1, associate_waf: bool = True) -> dict[str, Any]:
    """Build the reference setup with plain boto3 (in-process moto or a moto server)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    elbv2 = boto3.client("elbv2", region_name=REGION)
    route53 = boto3.client("route53", region_name=REGION)
    wafv2 = boto3.client("wafv2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=REGION + az)[
            "Subnet"
        ]["SubnetId"]
        for n, az in ((1, "a"), (2, "b"))
    ]
    balancer = elbv2.create_load_balancer(Name="api", Subnets=subnets, Type="application")[
        "LoadBalancers"
    ][0]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "200",
                    "ContentType": "text/plain",
                    "MessageBody": "ok",
                },
            }
        ],
    )["Listeners"][0]
    elbv2.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=1,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "200", "ContentType": "application/json"},
            }
        ],
        Tags=[{"Key": "team", "Value": "support"}],
    )
    check = route53.create_health_check(
        CallerReference=uuid.uuid4().hex,
        HealthCheckConfig={
            "Type": "HTTP",
            "ResourcePath": "/health",
            "FullyQualifiedDomainName": balancer["DNSName"],
            "Port": 80,
            "RequestInterval": 10,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]
    acl = wafv2.create_web_acl(
        Name="api-acl",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig=VISIBILITY,
        Rules=[
            {
                "Name": f"office-{n}",
                "Priority": n,
                "Statement": {
                    "ByteMatchStatement": {
                        "SearchString": b"/admin",
                        "FieldToMatch": {"UriPath": {}},
                        "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
                        "PositionalConstraint": "STARTS_WITH",
                    }
                },
                "Action": {"Count": {}},
                "VisibilityConfig": {**VISIBILITY, "MetricName": f"office-{n}"},
            }
            for n in range(waf_rules)
        ],
    )["Summary"]
    if associate_waf:
        wafv2.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=balancer["LoadBalancerArn"])
    return {
        "vpc": vpc,
        "subnets": subnets,
        "load_balancer_arn": balancer["LoadBalancerArn"],
        "dns_name": balancer["DNSName"],
        "listener_arn": listener["ListenerArn"],
        "health_check_id": check["Id"],
        "web_acl": acl,
    }


def listener_state(listener_arn: str) -> dict[str, Any]:
    """Rules of the listener (sorted by ARN) with the tags of each."""
    elbv2 = boto3.client("elbv2", region_name=REGION)
    rules = sorted(
        elbv2.describe_rules(ListenerArn=listener_arn)["Rules"], key=lambda r: r["RuleArn"]
    )
    tags = elbv2.describe_tags(ResourceArns=[r["RuleArn"] for r in rules])["TagDescriptions"]
    return {
        "rules": rules,
        "tags": sorted(
            (t["ResourceArn"], sorted((x["Key"], x["Value"]) for x in t["Tags"])) for t in tags
        ),
    }


def acl_state(acl: dict[str, Any]) -> dict[str, Any]:
    wafv2 = boto3.client("wafv2", region_name=REGION)
    found = wafv2.get_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"])["WebACL"]
    return {k: v for k, v in found.items() if k != "LockToken"}


@pytest.fixture
def world(mocked_aws: None, run_context: RunContext) -> dict[str, Any]:
    return build_world()


@pytest.fixture
def aws_calls(world: dict[str, Any]) -> Iterator[list[str]]:
    """Operation names sent by the activities' clients (botocore before-call hook)."""
    calls: list[str] = []

    def record(model: Any = None, **_: Any) -> None:
        calls.append(model.name)

    clients = [aws_client(name, CONFIG) for name in ("elbv2", "route53", "wafv2")]
    for client in clients:
        client.meta.events.register("before-call", record)
    yield calls
    for client in clients:
        client.meta.events.unregister("before-call", record)


def mutating(calls: list[str]) -> list[str]:
    return [name for name in calls if not name.startswith(READ_ONLY_PREFIXES)]


def ledger_entries(run: RunContext) -> list[Any]:
    return Ledger(run.ledger_path).entries()


# --- listener rule -----------------------------------------------------------------------


def test_listener_rule_blocks_exactly_the_path_and_undo_restores(
    world: dict[str, Any], run_context: RunContext, aws_calls: list[str]
) -> None:
    before = listener_state(world["listener_arn"])

    result = block_health_check_path(world["health_check_id"], configuration=CONFIG)

    assert mutating(aws_calls) == ["CreateRule"]
    after = listener_state(world["listener_arn"])
    old_arns = {r["RuleArn"] for r in before["rules"]}
    new = [r for r in after["rules"] if r["RuleArn"] not in old_arns]
    assert len(new) == 1 and len(after["rules"]) == len(before["rules"]) + 1
    rule = new[0]
    assert rule["RuleArn"] == result["rule_arn"]
    # existing rule at priority 1 (/api/*) -> smallest free priority is 2
    assert rule["Priority"] == "2" and result["priority"] == 2
    assert rule["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/health"]}}
    ]
    assert rule["Actions"][0]["Type"] == "fixed-response"
    response = rule["Actions"][0]["FixedResponseConfig"]
    assert response["StatusCode"] == "503" and response["ContentType"] == "text/plain"
    assert run_context.run_id in response["MessageBody"]
    tags = dict(dict(after["tags"])[rule["RuleArn"]])
    assert tags["chaos:run-id"] == run_context.run_id
    assert tags["chaos:managed-by"] == "chaosaws-ext"
    assert tags["chaos:fault"] == "healthcheck-block"
    assert "chaos:expires-at" in tags
    # the other rules are untouched
    assert [r for r in after["rules"] if r["RuleArn"] in old_arns] == before["rules"]
    assert result["target"] == f"healthcheck-block:{world['listener_arn']}:/health"

    entries = ledger_entries(run_context)
    assert len(entries) == 1 and entries[0].outcome == "applied"
    assert entries[0].undo["args"] == {
        "listener_arn": world["listener_arn"],
        "run_id": run_context.run_id,
        "path": "/health",
    }

    reverted = unblock_health_check_path(configuration=CONFIG)
    assert reverted["reverted"] == 1
    assert listener_state(world["listener_arn"]) == before
    assert ledger_entries(run_context)[0].reverted


def test_waf_rule_blocks_exactly_the_path_and_undo_restores(
    world: dict[str, Any], run_context: RunContext, aws_calls: list[str]
) -> None:
    before_listener = listener_state(world["listener_arn"])
    before = acl_state(world["web_acl"])

    result = block_health_check_path(
        world["health_check_id"], mechanism="waf", configuration=CONFIG
    )

    assert mutating(aws_calls) == ["UpdateWebACL"]
    after = acl_state(world["web_acl"])
    assert after["Rules"][: len(before["Rules"])] == before["Rules"]
    assert len(after["Rules"]) == len(before["Rules"]) + 1
    ours = after["Rules"][-1]
    name = waf_rule_name(run_context.run_id)
    assert ours["Name"] == name == result["rule_name"] and name.startswith("chaos-")
    assert ours["Priority"] == 1  # office-0 holds 0
    assert ours["Action"] == {"Block": {}}
    assert ours["Statement"] == {
        "ByteMatchStatement": {
            "SearchString": b"/health",
            "FieldToMatch": {"UriPath": {}},
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
            "PositionalConstraint": "EXACTLY",
        }
    }
    assert ours["VisibilityConfig"]["MetricName"] == name
    assert {k: v for k, v in after.items() if k != "Rules"} == {
        k: v for k, v in before.items() if k != "Rules"
    }
    assert listener_state(world["listener_arn"]) == before_listener

    unblock_health_check_path(configuration=CONFIG)
    assert acl_state(world["web_acl"]) == before


@pytest.mark.parametrize("mechanism", ["listener-rule", "waf"])
def test_undo_is_idempotent(world: dict[str, Any], run_context: RunContext, mechanism: str) -> None:
    before = (listener_state(world["listener_arn"]), acl_state(world["web_acl"]))
    block_health_check_path(world["health_check_id"], mechanism=mechanism, configuration=CONFIG)
    entry = ledger_entries(run_context)[0]

    first = unblock_health_check_path(configuration=CONFIG)
    second = unblock_health_check_path(configuration=CONFIG)
    # the undoer itself, replayed on an already clean state (crash after undo, before the
    # reverted line), is a success that changes nothing
    again = undo.undo_entry(entry, CONFIG, None)

    assert first["reverted"] == 1 and second["reverted"] == 0
    assert again in ({"deleted": []}, {"removed": False, "rules_as_before": True})
    assert (listener_state(world["listener_arn"]), acl_state(world["web_acl"])) == before


def test_undo_of_a_deleted_listener_or_rule_arn_is_success(world: dict[str, Any]) -> None:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    rule_arn = elbv2.describe_rules(ListenerArn=world["listener_arn"])["Rules"][0]["RuleArn"]
    elbv2.delete_listener(ListenerArn=world["listener_arn"])
    assert healthcheck_undo.delete_block_listener_rule(
        listener_arn=world["listener_arn"], run_id="r", path="/health", configuration=CONFIG
    ) == {"deleted": [], "listener": "absent"}
    assert healthcheck_undo.delete_block_listener_rule(rule_arn=rule_arn, configuration=CONFIG)[
        "deleted"
    ] in ([], [rule_arn])


def test_path_and_listener_without_health_check(
    world: dict[str, Any], run_context: RunContext
) -> None:
    before = listener_state(world["listener_arn"])
    result = block_health_check_path(
        path="/ready?probe=1", listener_arn=world["listener_arn"], configuration=CONFIG
    )
    assert result["path"] == "/ready"
    rule = next(
        r
        for r in listener_state(world["listener_arn"])["rules"]
        if r["RuleArn"] == result["rule_arn"]
    )
    assert rule["Conditions"][0]["PathPatternConfig"]["Values"] == ["/ready"]
    unblock_health_check_path(configuration=CONFIG)
    assert listener_state(world["listener_arn"]) == before


def test_dns_name_matches_case_insensitively_and_without_trailing_dot(
    world: dict[str, Any],
) -> None:
    route53 = boto3.client("route53", region_name=REGION)
    check = route53.create_health_check(
        CallerReference=uuid.uuid4().hex,
        HealthCheckConfig={
            "Type": "HTTPS",
            "ResourcePath": "/health",
            "FullyQualifiedDomainName": "dualstack." + world["dns_name"].upper() + ".",
            "Port": 80,
        },
    )["HealthCheck"]
    plan = plan_health_check_path_block(check["Id"], configuration=CONFIG)
    assert plan.details["load_balancer_arn"] == world["load_balancer_arn"]
    assert plan.details["listener_arn"] == world["listener_arn"]


# --- refusals: one clear line, zero mutating calls ---------------------------------------


def _health_check(config: dict[str, Any]) -> str:
    route53 = boto3.client("route53", region_name=REGION)
    return route53.create_health_check(CallerReference=uuid.uuid4().hex, HealthCheckConfig=config)[
        "HealthCheck"
    ]["Id"]


def _refusal_case(case: str, world: dict[str, Any]) -> tuple[dict[str, Any], str]:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    if case == "unknown health check":
        return {"health_check_id": "0b7c5a8e-0000-0000-0000-000000000000"}, "unknown health check"
    if case == "tcp health check":
        hc = _health_check({"Type": "TCP", "IPAddress": "10.20.1.10", "Port": 443})
        return {"health_check_id": hc}, "is of type TCP, which probes no path"
    if case == "calculated health check":
        hc = _health_check(
            {
                "Type": "CALCULATED",
                "ChildHealthChecks": [world["health_check_id"]],
                "HealthThreshold": 1,
            }
        )
        return {"health_check_id": hc}, "is of type CALCULATED, which probes no path"
    if case == "no matching load balancer":
        hc = _health_check(
            {
                "Type": "HTTP",
                "ResourcePath": "/health",
                "FullyQualifiedDomainName": "elsewhere.example.com",
                "Port": 80,
            }
        )
        return {"health_check_id": hc}, "no load balancer has DNS name elsewhere.example.com"
    if case == "ip address only":
        hc = _health_check(
            {"Type": "HTTP", "ResourcePath": "/health", "IPAddress": "10.20.1.10", "Port": 80}
        )
        return {"health_check_id": hc}, "pass load_balancer_arn or listener_arn"
    if case == "no listener":
        elbv2.delete_listener(ListenerArn=world["listener_arn"])
        return {"health_check_id": world["health_check_id"]}, "has no listener"
    if case == "ambiguous listener":
        for port in (8080, 8081):
            elbv2.create_listener(
                LoadBalancerArn=world["load_balancer_arn"],
                Protocol="HTTP",
                Port=port,
                DefaultActions=[
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain"},
                    }
                ],
            )
        hc = _health_check(
            {
                "Type": "HTTP",
                "ResourcePath": "/health",
                "FullyQualifiedDomainName": world["dns_name"],
                "Port": 9000,
            }
        )
        return {
            "health_check_id": hc
        }, "no single listener matches port 9000/HTTP; pass listener_arn"
    if case == "shadowed path":
        elbv2.create_rule(
            ListenerArn=world["listener_arn"],
            Priority=2,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/heal*"]}}],
            Actions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain"},
                }
            ],
        )
        return {"health_check_id": world["health_check_id"]}, "cannot win for /health"
    if case == "no web acl":
        wafv2 = boto3.client("wafv2", region_name=REGION)
        wafv2.disassociate_web_acl(ResourceArn=world["load_balancer_arn"])
        return (
            {"health_check_id": world["health_check_id"], "mechanism": "waf"},
            "has no associated web ACL",
        )
    if case == "unknown mechanism":
        return {"health_check_id": world["health_check_id"], "mechanism": "dns"}, "mechanism 'dns'"
    if case == "protected listener":
        elbv2.add_tags(
            ResourceArns=[world["listener_arn"]], Tags=[{"Key": "chaos:protected", "Value": "1"}]
        )
        return {"health_check_id": world["health_check_id"]}, "carries the protection tag"
    raise AssertionError(case)


REFUSALS = [
    "unknown health check",
    "tcp health check",
    "calculated health check",
    "no matching load balancer",
    "ip address only",
    "no listener",
    "ambiguous listener",
    "shadowed path",
    "no web acl",
    "unknown mechanism",
    "protected listener",
]


@pytest.mark.parametrize("case", REFUSALS)
def test_refusals_make_no_mutating_call(
    case: str, world: dict[str, Any], run_context: RunContext, aws_calls: list[str]
) -> None:
    arguments, message = _refusal_case(case, world)
    before = (listener_state_or_none(world["listener_arn"]), acl_state(world["web_acl"]))
    aws_calls.clear()

    with pytest.raises(ActivityFailed) as raised:
        block_health_check_path(**arguments, configuration=CONFIG)

    text = str(raised.value)
    assert message in text and "\n" not in text
    assert mutating(aws_calls) == []
    assert ledger_entries(run_context) == []
    assert (listener_state_or_none(world["listener_arn"]), acl_state(world["web_acl"])) == before


def listener_state_or_none(listener_arn: str) -> dict[str, Any] | None:
    try:
        return listener_state(listener_arn)
    except Exception:  # noqa: BLE001 - the "no listener" case deleted it
        return None


@pytest.mark.parametrize("mechanism", ["listener-rule", "waf"])
def test_path_already_blocked_by_us_is_refused(
    world: dict[str, Any], tmp_path: Any, aws_calls: list[str], mechanism: str
) -> None:
    block_health_check_path(world["health_check_id"], mechanism=mechanism, configuration=CONFIG)
    first_run = Ledger(tmp_path / "ledger.jsonl")
    assert len(first_run.entries()) == 1
    second = start_run({"chaos_ledger_path": str(tmp_path / "second.jsonl")}, "again")
    aws_calls.clear()

    with pytest.raises(ActivityFailed, match="already blocked by chaosaws-ext"):
        block_health_check_path(world["health_check_id"], mechanism=mechanism, configuration=CONFIG)

    assert mutating(aws_calls) == []
    assert Ledger(second.ledger_path).entries() == []


# --- the moto Rules=[] quirk ---------------------------------------------------------------


def test_waf_undo_to_an_empty_rule_list(mocked_aws: None, run_context: RunContext) -> None:
    """Undo sends Rules=[] (what AWS needs). moto 5.2.5 ignores an empty list and keeps
    the old rules; the undo's verification catches it, fails loudly and leaves the ledger
    entry unreverted instead of pretending."""
    world = build_world(waf_rules=0)
    sent: list[Any] = []

    def record(params: dict[str, Any], model: Any = None, **_: Any) -> None:
        if model.name == "UpdateWebACL":
            sent.append(copy.deepcopy(params["Rules"]))

    aws_client("wafv2", CONFIG).meta.events.register("provide-client-params.wafv2", record)
    block_health_check_path(world["health_check_id"], mechanism="waf", configuration=CONFIG)
    assert [r["Name"] for r in acl_state(world["web_acl"])["Rules"]] == [
        waf_rule_name(run_context.run_id)
    ]
    assert sent[-1][0]["Priority"] == 0

    with pytest.raises(ActivityFailed, match=r"moto ignores update_web_acl\(Rules=\[\]\)"):
        unblock_health_check_path(configuration=CONFIG)

    assert sent[-1] == []
    assert not ledger_entries(run_context)[0].reverted


# --- orphans by tag ------------------------------------------------------------------------


def test_orphan_finder_finds_and_undoes_our_rules(
    world: dict[str, Any], run_context: RunContext
) -> None:
    before = (listener_state(world["listener_arn"]), acl_state(world["web_acl"]))
    listener = block_health_check_path(world["health_check_id"], configuration=CONFIG)
    waf = block_health_check_path(world["health_check_id"], mechanism="waf", configuration=CONFIG)

    specs = undo.find_orphans(CONFIG, None, [REGION])

    assert sorted(s["resource"] for s in specs) == sorted(
        [listener["rule_arn"], f"{waf['web_acl_arn']}#{waf['rule_name']}"]
    )
    for spec in specs:
        undo.registered_undoer(spec["undoer"])(
            **spec["args"], configuration=CONFIG, secrets=None, region=spec["region"]
        )
    assert (listener_state(world["listener_arn"]), acl_state(world["web_acl"])) == before
    assert undo.find_orphans(CONFIG, None, [REGION]) == []


def test_orphan_finder_leaves_a_customer_rule_named_chaos_alone(world: dict[str, Any]) -> None:
    wafv2 = boto3.client("wafv2", region_name=REGION)
    acl = world["web_acl"]
    found = wafv2.get_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"])
    rules = found["WebACL"]["Rules"]
    rules[0] = {**rules[0], "Name": "chaos-engineering-office"}  # Count, STARTS_WITH /admin
    rules[0]["VisibilityConfig"] = {**rules[0]["VisibilityConfig"], "MetricName": "chaos-eng"}
    wafv2.update_web_acl(
        Name=acl["Name"],
        Scope="REGIONAL",
        Id=acl["Id"],
        DefaultAction={"Allow": {}},
        VisibilityConfig=found["WebACL"]["VisibilityConfig"],
        Rules=rules,
        LockToken=found["LockToken"],
    )

    assert undo.find_orphans(CONFIG, None, [REGION]) == []


# --- probes --------------------------------------------------------------------------------


def test_health_check_status_and_tolerant_wait(world: dict[str, Any]) -> None:
    status = health_check_status(world["health_check_id"], configuration=CONFIG)
    assert status["healthy"] is True
    assert status["checkers"] >= 1 and status["healthy_checkers"] == status["checkers"]

    waited = wait_for_health_check_status(
        world["health_check_id"],
        healthy=False,
        timeout=0.2,
        interval=0.1,
        fail_on_timeout=False,
        configuration=CONFIG,
    )
    assert waited["reached"] is False and waited["status"]["healthy"] is True
    with pytest.raises(WaitTimedOut, match="unhealthy"):
        wait_for_health_check_status(
            world["health_check_id"],
            healthy=False,
            timeout=0.2,
            interval=0.1,
            configuration=CONFIG,
        )
    assert wait_for_health_check_status(
        world["health_check_id"], healthy=True, timeout=1, configuration=CONFIG
    )["reached"]


def test_route53_failover_record_target(world: dict[str, Any]) -> None:
    route53 = boto3.client("route53", region_name=REGION)
    zone = route53.create_hosted_zone(Name="ai-support.example.com", CallerReference="z")[
        "HostedZone"
    ]["Id"].split("/")[-1]
    changes = [
        {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": "api.ai-support.example.com",
                "Type": "A",
                "SetIdentifier": role.lower(),
                "Failover": role,
                "TTL": 60,
                "ResourceRecords": [{"Value": ip}],
                **({"HealthCheckId": world["health_check_id"]} if role == "PRIMARY" else {}),
            },
        }
        for role, ip in (("PRIMARY", "10.0.0.1"), ("SECONDARY", "10.1.0.1"))
    ]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})

    found = route53_failover_record_target(zone, "api.ai-support.example.com", configuration=CONFIG)

    assert found["primary"]["values"] == ["10.0.0.1"]
    assert found["primary"]["health_check_id"] == world["health_check_id"]
    assert found["secondary"]["values"] == ["10.1.0.1"]
    with pytest.raises(ActivityFailed, match="no failover record set"):
        route53_failover_record_target(zone, "www.ai-support.example.com", configuration=CONFIG)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/health", "/health", True),
        ("/heal*", "/health", True),
        ("/health?", "/health", False),
        ("/api/*", "/health", False),
        ("/HEALTH", "/health", False),
        ("*", "/health", True),
        ("/a.b", "/axb", False),
    ],
)
def test_elb_path_pattern_semantics(pattern: str, path: str, matches: bool) -> None:
    assert path_pattern_matches(pattern, path) is matches


# --- AWS refusing the call, and concurrent edits of the web ACL ----------------------------


def test_a_refused_create_is_one_line_and_still_undoable(
    world: dict[str, Any], run_context: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Priority taken between plan and call (race): one line, ledger says failed, the
    rollback finds nothing of ours and the listener is as before."""
    before = listener_state(world["listener_arn"])
    monkeypatch.setattr(planning, "smallest_free_listener_priority", lambda rules: 1)

    with pytest.raises(ActivityFailed, match="AWS refused .* PriorityInUse") as raised:
        block_health_check_path(world["health_check_id"], configuration=CONFIG)

    assert "\n" not in str(raised.value)
    assert [e.outcome for e in ledger_entries(run_context)] == ["failed"]
    assert unblock_health_check_path(configuration=CONFIG)["reverted"] == 1
    assert listener_state(world["listener_arn"]) == before


def test_waf_lock_token_conflict_is_retried_and_keeps_the_other_edit(
    world: dict[str, Any], run_context: RunContext
) -> None:
    """Someone edits the ACL between our read and our write: the stale LockToken is
    refused, we re-read and retry; their rule survives both inject and undo."""
    other = boto3.client("wafv2", region_name=REGION)
    acl = world["web_acl"]
    theirs = {
        "Name": "theirs",
        "Priority": 7,
        "Statement": {
            "ByteMatchStatement": {
                "SearchString": b"/x",
                "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                "PositionalConstraint": "EXACTLY",
            }
        },
        "Action": {"Count": {}},
        "VisibilityConfig": {**VISIBILITY, "MetricName": "theirs"},
    }
    edits: list[str] = []

    def concurrent_edit(model: Any = None, **_: Any) -> None:
        if model.name == "UpdateWebACL" and not edits:
            edits.append("done")
            found = other.get_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"])
            other.update_web_acl(
                Name=acl["Name"],
                Scope="REGIONAL",
                Id=acl["Id"],
                DefaultAction={"Allow": {}},
                VisibilityConfig=VISIBILITY,
                Rules=[*found["WebACL"]["Rules"], theirs],
                LockToken=found["LockToken"],
            )

    ours = aws_client("wafv2", CONFIG)
    ours.meta.events.register("before-call.wafv2.UpdateWebACL", concurrent_edit)
    try:
        block_health_check_path(world["health_check_id"], mechanism="waf", configuration=CONFIG)
    finally:
        ours.meta.events.unregister("before-call.wafv2.UpdateWebACL", concurrent_edit)

    names = [r["Name"] for r in acl_state(acl)["Rules"]]
    assert names == ["office-0", "theirs", waf_rule_name(run_context.run_id)]
    unblock_health_check_path(configuration=CONFIG)
    assert [r["Name"] for r in acl_state(acl)["Rules"]] == ["office-0", "theirs"]
    assert Ledger(run_context.ledger_path).entries()[0].revert_detail == {
        "removed": True,
        "rules_as_before": False,
    }
