"""The read-only plan of a health-check path block: target, mechanism, priority, limits.

Resolves health check -> load balancer -> listener or web ACL, picks the smallest free
priority, and refuses (before any lock or mutation) when a rule of someone else would
answer the path first, when the ALB's rules quota or the web ACL's capacity is reached,
or when the health check does not guard the failover record's PRIMARY.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.core.identity import TAG_RUN_ID, current_run
from chaosaws_ext.healthcheck.load_balancers import (
    FAULT,
    MAX_PAGES,
    choose_listener,
    error_code,
    find_load_balancer,
    listener_by_arn,
    listeners_of,
    normalise_path,
    read_health_check,
    tags_of,
    web_acl_of,
)
from chaosaws_ext.healthcheck.probes import failover_record_sets
from chaosaws_ext.healthcheck.rules import (
    listener_rule_paths,
    listener_rules,
    our_listener_rules,
    parse_web_acl_arn,
    shadowing_rules,
    smallest_free_listener_priority,
    smallest_free_waf_priority,
    waf_block_rule,
    waf_rule_blocks_path,
    waf_rule_name,
    waf_rule_terminates,
)
from chaosaws_ext.planning import FaultPlan, PlannedChange

__all__ = ["plan_health_check_path_block", "check_primary_guarded_by", "waf_capacity_needed"]

logger = logging.getLogger(__name__)

MECHANISMS = ("listener-rule", "waf")
# "Rules per Application Load Balancer (excluding default rules): 100", per load balancer;
# read from describe_account_limits, this is the fallback.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html
DEFAULT_RULES_PER_ALB = 100
RULES_LIMIT_NAME = "rules-per-application-load-balancer"
# "Maximum web ACL capacity units (WCU)": 1,500 at the base price (more can be used, at a
# charge). https://docs.aws.amazon.com/waf/latest/developerguide/limits.html
DEFAULT_WAF_CAPACITY = 1500


def plan_health_check_path_block(
    health_check_id: str | None = None,
    path: str = "/health",
    load_balancer_arn: str | None = None,
    listener_arn: str | None = None,
    mechanism: str = "listener-rule",
    failover_record: str | None = None,
    hosted_zone_id: str | None = None,
    waf_capacity: int = DEFAULT_WAF_CAPACITY,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Resolve and validate the block without changing anything (Describe/Get/List only).

    With ``health_check_id``, the path, port and target come from the health check and
    ``path`` is ignored; without it, ``path`` plus ``load_balancer_arn`` or
    ``listener_arn`` name the target directly. Target (the lock key):
    ``healthcheck-block:<listener or web ACL ARN>:<path>``.

    ``failover_record`` (with ``health_check_id``): the plan checks that the health check
    is that record's PRIMARY ``HealthCheckId`` (in ``hosted_zone_id``, or the zone whose
    name is the longest suffix of the record), else failing it fails nothing over.
    ``waf_capacity``: the web ACL's WCU limit the WAF rule must fit in.
    """
    if mechanism not in MECHANISMS:
        raise ActivityFailed(f"mechanism {mechanism!r} is not one of {', '.join(MECHANISMS)}")
    region = region_of(configuration)
    elbv2 = aws_client("elbv2", configuration, secrets)
    port: int | None = None
    protocol: str | None = None
    fqdn: str | None = None
    primary_checked = False
    if health_check_id:
        route53 = aws_client("route53", configuration, secrets)
        check = read_health_check(route53, health_check_id)
        path, port, protocol, fqdn = check.path, check.port, check.protocol, check.fqdn
        if failover_record:
            sets = check_primary_guarded_by(
                route53, failover_record, health_check_id, hosted_zone_id
            )
            primary_checked = bool(sets)
    else:
        path = normalise_path(path)
        if not load_balancer_arn and not listener_arn:
            raise ActivityFailed(
                "pass health_check_id, or path with load_balancer_arn or listener_arn"
            )
    if listener_arn and not load_balancer_arn:
        load_balancer_arn = listener_by_arn(elbv2, listener_arn)["LoadBalancerArn"]
    balancer = find_load_balancer(elbv2, fqdn, load_balancer_arn)
    balancer_arn = balancer["LoadBalancerArn"]
    details: dict[str, Any] = {
        "mechanism": mechanism,
        "path": path,
        "health_check_id": health_check_id,
        "load_balancer_arn": balancer_arn,
        "load_balancer_dns": balancer.get("DNSName"),
        "failover_record": failover_record,
        "primary_record_checked": primary_checked,
    }
    if mechanism == "listener-rule":
        change = _plan_listener_rule(
            elbv2, balancer_arn, path, port, protocol, listener_arn, details
        )
        target = details["listener_arn"]
    else:
        run = current_run(configuration)
        wafv2 = aws_client("wafv2", configuration, secrets)
        change = _plan_waf_rule(wafv2, balancer_arn, path, run.run_id, waf_capacity, details)
        target = details["web_acl_arn"]
    change.resource_tags = {
        **tags_of(elbv2, [balancer_arn]).get(balancer_arn, {}),
        **(change.resource_tags),
    }
    return FaultPlan(
        fault=FAULT,
        region=region,
        target=f"{FAULT}:{target}:{path}",
        changes=[change],
        details=details,
    )


def _plan_listener_rule(
    elbv2: Any,
    balancer_arn: str,
    path: str,
    port: int | None,
    protocol: str | None,
    listener_arn: str | None,
    details: dict[str, Any],
) -> PlannedChange:
    listener = choose_listener(elbv2, balancer_arn, port, protocol, listener_arn)
    arn = listener["ListenerArn"]
    rules = listener_rules(elbv2, arn)
    ours = our_listener_rules(elbv2, rules, path=path)
    if ours:
        rule, tags = ours[0]
        raise ActivityFailed(
            f"path {path} is already blocked by chaosaws-ext on listener {arn} (rule "
            f"{rule['RuleArn']}, run {tags.get(TAG_RUN_ID)}); roll that run back or run "
            "`gameday recover` first"
        )
    _check_rules_quota(elbv2, balancer_arn, arn, rules)
    priority = smallest_free_listener_priority(rules)
    if priority is None:
        raise ActivityFailed(f"listener {arn} has no free rule priority (1..50000)")
    shadows = shadowing_rules(rules, path, priority)
    if shadows:
        named = ", ".join(
            f"priority {r['Priority']} ({' '.join(listener_rule_paths(r) or ['any path'])})"
            for r in shadows
        )
        raise ActivityFailed(
            f"cannot win for {path} on listener {arn}: the smallest free priority is {priority} "
            f"but these rules come first and may answer it: {named}; free a lower priority "
            "or use mechanism waf"
        )
    details.update(
        {
            "listener_arn": arn,
            "listener": f"{listener.get('Protocol')}:{listener.get('Port')}",
            "priority": priority,
            "existing_rules": len(rules),
        }
    )
    return PlannedChange(
        resource=arn,
        change=f"add listener rule priority {priority}: path-pattern {path} -> fixed-response 503",
        undo="delete our rule for that path (found by its chaos:run-id tag)",
        resource_tags=tags_of(elbv2, [arn]).get(arn, {}),
        kind="listener",
    )


def _rules_quota(elbv2: Any) -> int:
    """The account's rules-per-ALB quota (describe_account_limits), else the documented 100."""
    try:
        limits = elbv2.describe_account_limits().get("Limits", [])
    except ClientError as error:
        logger.warning(
            "describe_account_limits failed (%s): assuming the documented %d rules per ALB",
            error_code(error),
            DEFAULT_RULES_PER_ALB,
        )
        return DEFAULT_RULES_PER_ALB
    for limit in limits:
        if limit.get("Name") == RULES_LIMIT_NAME and str(limit.get("Max", "")).isdigit():
            return int(limit["Max"])
    return DEFAULT_RULES_PER_ALB


def _check_rules_quota(
    elbv2: Any, balancer_arn: str, listener_arn: str, rules: list[dict[str, Any]]
) -> None:
    """Refuse when one more rule would pass the ALB's rules quota (all its listeners,
    default rules excluded), before the lock and the guardrails' mutation."""
    total = 0
    for listener in listeners_of(elbv2, balancer_arn):
        own = rules if listener["ListenerArn"] == listener_arn else None
        listed = own if own is not None else listener_rules(elbv2, listener["ListenerArn"])
        total += sum(1 for r in listed if not r.get("IsDefault"))
    quota = _rules_quota(elbv2)
    if total + 1 > quota:
        raise ActivityFailed(
            f"load balancer {balancer_arn} has {total} listener rules, its quota "
            f"({RULES_LIMIT_NAME}) is {quota}: no room for the block rule; free one or "
            "use mechanism waf"
        )


def check_primary_guarded_by(
    route53: Any, record_name: str, health_check_id: str, hosted_zone_id: str | None = None
) -> dict[str, Any]:
    """Refuse unless ``health_check_id`` is the PRIMARY failover record's HealthCheckId:
    an alias record with only EvaluateTargetHealth follows target-group health, which a
    listener or WAF rule does not change, so the fault would fail nothing over.
    Returns the record sets; ``{}`` (and a warning) when no zone of this account holds
    the name."""
    zone_ids = [hosted_zone_id] if hosted_zone_id else _zones_for(route53, record_name)
    if not zone_ids:
        # DNS hosted in another account (or elsewhere): nothing this account can check.
        logger.warning("no hosted zone of this account holds %s: PRIMARY not checked", record_name)
        return {}
    sets: dict[str, Any] = {}
    for zone_id in zone_ids:
        try:
            sets = failover_record_sets(route53, zone_id, record_name)
        except ActivityFailed:
            continue
        break
    primary = sets.get("primary")
    if primary is None:
        raise ActivityFailed(f"{record_name}: no PRIMARY failover record found in {zone_ids}")
    guard = primary.get("health_check_id")
    if guard != health_check_id:
        what = (
            f"is guarded by health check {guard}"
            if guard
            else "has no HealthCheckId (an alias with EvaluateTargetHealth follows the "
            "target group's health, which this fault does not change)"
        )
        raise ActivityFailed(
            f"PRIMARY record {sets['record_name']} (set {primary.get('set_identifier')}) "
            f"{what}: failing health check {health_check_id} would not fail it over"
        )
    return sets


def _zones_for(route53: Any, record_name: str) -> list[str]:
    """Hosted zones whose name is a suffix of ``record_name``, longest first."""
    wanted = record_name.rstrip(".").lower() + "."
    zones: list[tuple[int, str]] = []
    marker: str | None = None
    for _ in range(MAX_PAGES):
        page = route53.list_hosted_zones(**({"Marker": marker} if marker else {}))
        for zone in page.get("HostedZones", []):
            name = str(zone["Name"]).lower()
            if wanted == name or wanted.endswith("." + name):
                zones.append((len(name), str(zone["Id"]).rsplit("/", 1)[-1]))
        marker = page.get("NextMarker")
        if not page.get("IsTruncated") or not marker:
            break
    return [zone_id for _, zone_id in sorted(zones, reverse=True)]


def _plan_waf_rule(
    wafv2: Any,
    balancer_arn: str,
    path: str,
    run_id: str,
    capacity_limit: int,
    details: dict[str, Any],
) -> PlannedChange:
    summary = web_acl_of(wafv2, balancer_arn)
    if summary is None:
        raise ActivityFailed(
            f"load balancer {balancer_arn} has no associated web ACL; associate one or use "
            "mechanism listener-rule"
        )
    arn = summary["ARN"]
    scope, name, acl_id = parse_web_acl_arn(arn)
    rules = wafv2.get_web_acl(Name=name, Scope=scope, Id=acl_id)["WebACL"].get("Rules", [])
    rule_name = waf_rule_name(run_id)
    for rule in rules:
        if waf_rule_blocks_path(rule, path) or rule.get("Name") == rule_name:
            raise ActivityFailed(
                f"path {path} is already blocked by chaosaws-ext in web ACL {arn} (rule "
                f"{rule.get('Name')}); roll that run back or run `gameday recover` first"
            )
    priority = smallest_free_waf_priority(rules)
    ahead = [r for r in rules if int(r.get("Priority", 0)) < priority and waf_rule_terminates(r)]
    if ahead:
        named = ", ".join(f"{r['Name']} (priority {r['Priority']})" for r in ahead)
        raise ActivityFailed(
            f"cannot win for {path} in web ACL {arn}: the smallest free priority is {priority} "
            f"but these rules come first and may Allow or Block it: {named}; free a priority "
            "below them or use mechanism listener-rule"
        )
    before = [r["Name"] for r in rules if int(r.get("Priority", 0)) < priority]
    needed = waf_capacity_needed(wafv2, scope, [*rules, waf_block_rule(rule_name, path, priority)])
    if needed is not None and needed > capacity_limit:
        raise ActivityFailed(
            f"web ACL {arn} would need {needed} WCU with the block rule, above its capacity "
            f"{capacity_limit}; free capacity or use mechanism listener-rule"
        )
    try:
        tag_list = wafv2.list_tags_for_resource(ResourceARN=arn)["TagInfoForResource"].get(
            "TagList", []
        )
    except ClientError as error:
        if error_code(error) != "WAFNonexistentItemException":
            raise
        tag_list = []
    details.update(
        {
            "web_acl_arn": arn,
            "web_acl_name": name,
            "web_acl_scope": scope,
            "rule_name": rule_name,
            "priority": priority,
            "rules_before": [{"Name": r["Name"], "Priority": r["Priority"]} for r in rules],
            "evaluated_after": before,
            "capacity_wcu": needed,
            "capacity_limit": capacity_limit,
        }
    )
    return PlannedChange(
        resource=arn,
        change=f"add WAF rule {rule_name} priority {priority}: URI path EXACTLY {path} -> Block",
        undo=f"write back the web ACL's rules without {rule_name} (LockToken)",
        resource_tags={t["Key"]: t["Value"] for t in tag_list},
        kind="web-acl",
    )


def waf_capacity_needed(wafv2: Any, scope: str, rules: list[dict[str, Any]]) -> int | None:
    """WCU of ``rules`` as WAF counts them (CheckCapacity, read-only); None when the
    policy does not grant ``wafv2:CheckCapacity``: then UpdateWebACL itself is the check
    (it fails cleanly with WAFLimitsExceededException, and changes nothing)."""
    try:
        return int(wafv2.check_capacity(Scope=scope, Rules=rules)["Capacity"])
    except ClientError as error:
        if error_code(error) not in ("AccessDeniedException", "AccessDenied"):
            raise
        logger.warning("capacity not checked: wafv2:CheckCapacity is not granted")
        return None
