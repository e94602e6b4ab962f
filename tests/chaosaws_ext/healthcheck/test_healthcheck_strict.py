"""The health-check path block against moto made as strict as AWS (rules quota, web ACL
capacity, ELB tag values), the plan's preconditions (WAF priority, regex rules, PRIMARY
record), and the strictness models themselves (no moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed
from conftest import REGION
from moto.backends import get_backend
from test_healthcheck import (
    CONFIG,
    VISIBILITY,
    acl_state,
    build_world,
    ledger_entries,
    listener_state,
    mutating,
)

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.healthcheck import actions, planning, rules
from chaosaws_ext.healthcheck.actions import block_health_check_path, unblock_health_check_path
from chaosaws_ext.healthcheck.rules import shadowing_rules, waf_block_rule
from chaosaws_ext.runcontext import RunContext, chaos_tags, elb_tag_value, start_run
from sandbox.behaviour.aws_limits import (
    Strictness,
    alb_rules_quota_exceeded,
    elb_tag_value_problem,
    rules_capacity,
)
from sandbox.behaviour.elb_waf_strict import strict_elb_waf
from sandbox.dataplane.waf import HttpRequest, evaluate_web_acl, ip_sets_of

ACCOUNT = "123456789012"
CLIENT_IP = "198.51.100.7"


def _count_rule(n: int, search: str = "/admin") -> dict[str, Any]:
    """12 WCU: STARTS_WITH (2) + one LOWERCASE transformation (10)."""
    return {
        "Name": f"count-{n}",
        "Priority": n,
        "Statement": {
            "ByteMatchStatement": {
                "SearchString": search.encode(),
                "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
                "PositionalConstraint": "STARTS_WITH",
            }
        },
        "Action": {"Count": {}},
        "VisibilityConfig": {**VISIBILITY, "MetricName": f"count-{n}"},
    }


def _put_acl_rules(world: dict[str, Any], new_rules: list[dict[str, Any]]) -> None:
    wafv2 = boto3.client("wafv2", region_name=REGION)
    acl = world["web_acl"]
    found = wafv2.get_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"])
    wafv2.update_web_acl(
        Name=acl["Name"],
        Scope="REGIONAL",
        Id=acl["Id"],
        DefaultAction={"Allow": {}},
        VisibilityConfig=VISIBILITY,
        Rules=new_rules,
        LockToken=found["LockToken"],
    )


def _ip_set_allow(priority: int) -> dict[str, Any]:
    wafv2 = boto3.client("wafv2", region_name=REGION)
    ip_set = wafv2.create_ip_set(
        Name="route53-checkers",
        Scope="REGIONAL",
        IPAddressVersion="IPV4",
        Addresses=[f"{CLIENT_IP}/32"],
    )["Summary"]
    return {
        "Name": "allow-health-checkers",
        "Priority": priority,
        "Statement": {"IPSetReferenceStatement": {"ARN": ip_set["ARN"]}},
        "Action": {"Allow": {}},
        "VisibilityConfig": {**VISIBILITY, "MetricName": "allow-health-checkers"},
    }


@pytest.fixture
def calls(mocked_aws: None, run_context: RunContext) -> Iterator[list[str]]:
    """Operation names sent by the activities' clients."""
    seen: list[str] = []

    def record(model: Any = None, **_: Any) -> None:
        seen.append(model.name)

    clients = [aws_client(name, CONFIG) for name in ("elbv2", "route53", "wafv2")]
    for client in clients:
        client.meta.events.register("before-call", record)
    yield seen
    for client in clients:
        client.meta.events.unregister("before-call", record)


def _undecorated(run: RunContext, fault: str, service: str | None = None) -> dict[str, str]:
    return chaos_tags(run, fault)  # as before the fix: no per-service sanitising


# --- the models (no moto) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("healthcheck-path-block", True),
        ("Zürich 2026: a/b=c+d@e_f.g", True),
        ("Bob's test", False),
        ("a,b", False),
        ("why?", False),
        ("x" * 256, True),
        ("x" * 257, False),
    ],
)
def test_elb_tag_value_model(value: str, ok: bool) -> None:
    assert (elb_tag_value_problem(value) is None) is ok
    assert elb_tag_value_problem(elb_tag_value(value)) is None


def test_capacity_model_follows_the_string_match_costs() -> None:
    exactly = waf_block_rule("chaos-x", "/health", 0)  # EXACTLY, transformation NONE
    assert rules_capacity([exactly]) == 2
    assert rules_capacity([_count_rule(1)]) == 12  # STARTS_WITH 2 + LOWERCASE 10
    contains = {"Statement": {"ByteMatchStatement": {"PositionalConstraint": "CONTAINS"}}}
    assert rules_capacity([contains]) == 10
    nested = {"Statement": {"OrStatement": {"Statements": [exactly["Statement"]] * 3}}}
    assert rules_capacity([nested]) == 6
    group = {"Statement": {"RuleGroupReferenceStatement": {"ARN": "g"}}}
    assert rules_capacity([group], {"g": 300}.__getitem__) == 300


def test_rules_quota_model() -> None:
    assert not alb_rules_quota_exceeded(99, 1, 100)
    assert alb_rules_quota_exceeded(100, 1, 100)


# --- the moto patches ----------------------------------------------------------------


def test_strict_moto_refuses_as_aws_and_each_switch_turns_off(
    mocked_aws: None, run_context: RunContext
) -> None:
    world = build_world()
    elbv2 = boto3.client("elbv2", region_name=REGION)
    wafv2 = boto3.client("wafv2", region_name=REGION)
    rule = {
        "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/x"]}}],
        "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
    }
    with strict_elb_waf(Strictness(alb_rules_per_load_balancer=1)):
        limits = {x["Name"]: x["Max"] for x in elbv2.describe_account_limits()["Limits"]}
        assert limits["rules-per-application-load-balancer"] == "1"
        with pytest.raises(elbv2.exceptions.ClientError, match="TooManyRules"):
            elbv2.create_rule(ListenerArn=world["listener_arn"], Priority=7, **rule)
    with strict_elb_waf(Strictness(alb_rules_per_load_balancer=None)):
        elbv2.create_rule(ListenerArn=world["listener_arn"], Priority=7, **rule)

    with pytest.raises(elbv2.exceptions.ClientError, match="ValidationError"):
        elbv2.add_tags(
            ResourceArns=[world["load_balancer_arn"]], Tags=[{"Key": "k", "Value": "it's"}]
        )
    with strict_elb_waf(Strictness(elb_tag_values=False)):
        elbv2.add_tags(
            ResourceArns=[world["load_balancer_arn"]], Tags=[{"Key": "k", "Value": "it's"}]
        )

    many = [_count_rule(n) for n in range(126)]  # 1,512 WCU
    assert wafv2.check_capacity(Scope="REGIONAL", Rules=many)["Capacity"] == rules_capacity(many)
    with pytest.raises(wafv2.exceptions.WAFLimitsExceededException):
        _put_acl_rules(world, many)
    with strict_elb_waf(Strictness(waf_web_acl_capacity=None)):
        _put_acl_rules(world, many)


# --- the fault copes: rules quota ----------------------------------------------------


def test_listener_rule_refused_in_the_plan_at_the_rules_quota(
    mocked_aws: None, run_context: RunContext
) -> None:
    world = build_world()
    before = listener_state(world["listener_arn"])
    with strict_elb_waf(Strictness(alb_rules_per_load_balancer=1)):
        with pytest.raises(ActivityFailed) as raised:
            block_health_check_path(world["health_check_id"], configuration=CONFIG)
    text = str(raised.value)
    assert "has 1 listener rules, its quota (rules-per-application-load-balancer) is 1" in text
    assert "\n" not in text
    assert ledger_entries(run_context) == [] and listener_state(world["listener_arn"]) == before


def test_without_the_quota_check_the_strict_sandbox_refuses_create_rule(
    mocked_aws: None, run_context: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world()
    monkeypatch.setattr(planning, "_check_rules_quota", lambda *args: None)
    with strict_elb_waf(Strictness(alb_rules_per_load_balancer=1)):
        with pytest.raises(ActivityFailed, match="TooManyRules"):
            block_health_check_path(world["health_check_id"], configuration=CONFIG)


def test_quota_falls_back_to_the_documented_100(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoLimits:
        def describe_account_limits(self) -> dict[str, Any]:
            return {"Limits": []}

    assert planning._rules_quota(NoLimits()) == 100


# --- the fault copes: web ACL capacity -----------------------------------------------


def test_waf_rule_refused_in_the_plan_when_capacity_would_be_exceeded(
    mocked_aws: None, run_context: RunContext
) -> None:
    world = build_world(waf_rules=125)  # 1,500 WCU; ours adds 2
    before = acl_state(world["web_acl"])
    with pytest.raises(ActivityFailed) as raised:
        block_health_check_path(world["health_check_id"], mechanism="waf", configuration=CONFIG)
    assert "would need 1502 WCU with the block rule, above its capacity 1500" in str(raised.value)
    assert ledger_entries(run_context) == [] and acl_state(world["web_acl"]) == before


def test_waf_rule_fits_below_capacity(mocked_aws: None, run_context: RunContext) -> None:
    world = build_world(waf_rules=124)  # 1,488 + 2
    result = block_health_check_path(
        world["health_check_id"], mechanism="waf", configuration=CONFIG
    )
    assert result["priority"] == 124
    unblock_health_check_path(configuration=CONFIG)


def test_without_check_capacity_the_strict_sandbox_refuses_update_web_acl(
    mocked_aws: None, run_context: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(waf_rules=125)
    monkeypatch.setattr(planning, "waf_capacity_needed", lambda *args: 0)
    monkeypatch.setattr(actions, "waf_capacity_needed", lambda *args: 0)
    with pytest.raises(ActivityFailed, match="WAFLimitsExceededException"):
        block_health_check_path(world["health_check_id"], mechanism="waf", configuration=CONFIG)


# --- the fault copes: ELB tag values (#8) --------------------------------------------


def test_tag_values_are_sanitised_for_elb_and_the_undo_still_finds_the_rule(
    mocked_aws: None, tmp_path: Any
) -> None:
    run = start_run(
        {"chaos_ledger_path": str(tmp_path / "l.jsonl"), "chaos_run_id": "run #7 (Bob's)"},
        "Bob's game day, v2 (EU)!",
    )
    world = build_world()
    before = listener_state(world["listener_arn"])
    result = block_health_check_path(world["health_check_id"], configuration=CONFIG)
    elbv2 = boto3.client("elbv2", region_name=REGION)
    tags = {
        t["Key"]: t["Value"]
        for t in elbv2.describe_tags(ResourceArns=[result["rule_arn"]])["TagDescriptions"][0][
            "Tags"
        ]
    }
    assert tags["chaos:experiment"] == "Bob-s game day- v2 -EU--"
    assert tags["chaos:run-id"] == "run -7 -Bob-s-"
    assert unblock_health_check_path(configuration=CONFIG)["reverted"] == 1
    assert listener_state(world["listener_arn"]) == before
    assert run.run_id == "run #7 (Bob's)"  # the ledger keeps the real id


def test_unsanitised_tags_are_refused_by_the_strict_sandbox(
    mocked_aws: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_run({"chaos_ledger_path": str(tmp_path / "l.jsonl")}, "Bob's game day")
    world = build_world()
    monkeypatch.setattr(
        rules, "chaos_tags", lambda run, fault, service=None: chaos_tags(run, fault)
    )
    with pytest.raises(ActivityFailed, match="ValidationError"):
        block_health_check_path(world["health_check_id"], configuration=CONFIG)


# --- #9: regex rules may match -------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        {"Field": "path-pattern", "PathPatternConfig": {"RegexValues": ["^/he.*"]}},
        {"Field": "path-pattern", "RegexValues": ["^/he.*"]},
        {"Field": "host-header", "HostHeaderConfig": {"RegexValues": [".*"]}},
    ],
)
def test_a_preceding_regex_rule_is_taken_to_match(condition: dict[str, Any]) -> None:
    existing = [{"Priority": "1", "Conditions": [condition], "RuleArn": "r1"}]
    assert shadowing_rules(existing, "/health", 2) == existing


def test_a_preceding_plain_rule_for_another_path_does_not_shadow() -> None:
    plain = {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}
    assert shadowing_rules([{"Priority": "1", "Conditions": [plain]}], "/health", 2) == []


# --- #15: the WAF block takes effect -------------------------------------------------


def test_waf_refuses_when_an_allow_rule_comes_first(
    mocked_aws: None, run_context: RunContext
) -> None:
    world = build_world(waf_rules=0)
    _put_acl_rules(world, [_ip_set_allow(0)])
    before = acl_state(world["web_acl"])
    with pytest.raises(ActivityFailed) as raised:
        block_health_check_path(world["health_check_id"], mechanism="waf", configuration=CONFIG)
    text = str(raised.value)
    assert "allow-health-checkers (priority 0)" in text and "may Allow or Block" in text
    assert acl_state(world["web_acl"]) == before and ledger_entries(run_context) == []


def test_waf_block_goes_ahead_of_an_ip_set_allow_and_applies(
    mocked_aws: None, run_context: RunContext
) -> None:
    world = build_world(waf_rules=0)
    _put_acl_rules(world, [_ip_set_allow(5)])
    backend = get_backend("wafv2")[ACCOUNT][REGION]
    acl = backend.wacls[world["web_acl"]["ARN"]]
    checker = HttpRequest("GET", "/health", source_ip=CLIENT_IP)
    assert evaluate_web_acl(acl, checker, ip_sets_of(backend)).rule == "allow-health-checkers"

    result = block_health_check_path(
        world["health_check_id"], mechanism="waf", configuration=CONFIG
    )

    assert result["priority"] == 0
    verdict = evaluate_web_acl(acl, checker, ip_sets_of(backend))
    assert verdict.blocked and verdict.rule == result["rule_name"]
    other = HttpRequest("GET", "/api/x", source_ip=CLIENT_IP)
    assert evaluate_web_acl(acl, other, ip_sets_of(backend)).rule == "allow-health-checkers"
    unblock_health_check_path(configuration=CONFIG)
    assert evaluate_web_acl(acl, checker, ip_sets_of(backend)).rule == "allow-health-checkers"


# --- #25: the health check guards the PRIMARY record ---------------------------------


def _failover_zone(primary_extra: dict[str, Any], alias: bool = False) -> str:
    """The failover pair as plain A records, or (``alias``) as the DR guide's Example 5
    makes it: alias records to the ALBs with EvaluateTargetHealth."""
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
                **(
                    {
                        "AliasTarget": {
                            "HostedZoneId": "Z2P70J7EXAMPLE",
                            "DNSName": f"{role.lower()}-alb.{REGION}.elb.amazonaws.com",
                            "EvaluateTargetHealth": True,
                        }
                    }
                    if alias
                    else {"TTL": 60, "ResourceRecords": [{"Value": ip}]}
                ),
                **(primary_extra if role == "PRIMARY" else {}),
            },
        }
        for role, ip in (("PRIMARY", "10.0.0.1"), ("SECONDARY", "10.1.0.1"))
    ]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    return zone


@pytest.mark.parametrize("alias", [False, True])
def test_plan_accepts_the_primary_records_health_check(
    mocked_aws: None, run_context: RunContext, alias: bool
) -> None:
    world = build_world()
    _failover_zone({"HealthCheckId": world["health_check_id"]}, alias=alias)
    plan = actions.plan_health_check_path_block(
        world["health_check_id"], failover_record="api.ai-support.example.com", configuration=CONFIG
    )
    assert plan.details["priority"] == 2 and plan.details["primary_record_checked"] is True


def test_a_record_outside_the_accounts_zones_is_not_checked(
    mocked_aws: None, run_context: RunContext
) -> None:
    world = build_world()
    plan = actions.plan_health_check_path_block(
        world["health_check_id"], failover_record="api.elsewhere.example", configuration=CONFIG
    )
    assert plan.details["primary_record_checked"] is False


@pytest.mark.parametrize("alias", [False, True])
@pytest.mark.parametrize("guarded", [False, True])
def test_plan_refuses_when_the_health_check_is_not_the_primarys(
    calls: list[str], guarded: bool, alias: bool
) -> None:
    world = build_world()
    other = None
    if guarded:
        route53 = boto3.client("route53", region_name=REGION)
        other = route53.create_health_check(
            CallerReference="other",
            HealthCheckConfig={"Type": "TCP", "IPAddress": "192.0.2.1", "Port": 80},
        )["HealthCheck"]["Id"]
    _failover_zone({"HealthCheckId": other} if other else {}, alias=alias)
    calls.clear()
    with pytest.raises(ActivityFailed) as raised:
        block_health_check_path(
            world["health_check_id"],
            failover_record="api.ai-support.example.com",
            configuration=CONFIG,
        )
    text = str(raised.value)
    assert text.startswith("PRIMARY record api.ai-support.example.com. (set primary)")
    assert (f"guarded by health check {other}" if guarded else "has no HealthCheckId") in text
    assert "\n" not in text and mutating(calls) == [] and "ListHostedZones" in calls


def test_capacity_unknown_when_check_capacity_is_not_granted() -> None:
    from botocore.exceptions import ClientError

    class Denied:
        def check_capacity(self, **_: Any) -> dict[str, Any]:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}
            raise ClientError(error, "CheckCapacity")

    class Broken:
        def check_capacity(self, **_: Any) -> dict[str, Any]:
            error = {"Error": {"Code": "WAFInvalidParameterException", "Message": "bad"}}
            raise ClientError(error, "CheckCapacity")

    assert actions.waf_capacity_needed(Denied(), "REGIONAL", []) is None
    with pytest.raises(ClientError):
        actions.waf_capacity_needed(Broken(), "REGIONAL", [])
