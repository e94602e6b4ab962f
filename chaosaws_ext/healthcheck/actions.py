"""Health-check path block: make the path a Route 53 health check probes fail at the ALB.

Only that one path on that one load balancer answers differently; every other path,
listener rule and WAF rule is left as it was. Two mechanisms:

- ``listener-rule`` (default): an ALB listener rule ``path-pattern = <path>`` ->
  fixed-response 503 (text/plain, body naming the run), tagged with ``chaos:*`` tags.
- ``waf``: a WAFv2 rule ``chaos-<run id>`` (ByteMatch EXACTLY on the URI path, no text
  transformation, action Block) added to the web ACL associated with the ALB.

Priority: both ELB and WAF evaluate rules in ascending priority, so we take the
numerically SMALLEST free priority (ELB 1..50000, WAF 0..), the one evaluated first of
the free slots. The block must win, and we never move anybody's rules: if an existing
listener rule that may answer the path (matching path-pattern, regex condition, or no
path condition) or a WAF rule that may end the evaluation (anything but Count) sits
below that number, the action refuses.

Limits checked in the plan, before the lock and any mutation: the ALB's rules quota
(``describe_account_limits``, all listeners, default rules excluded) and the web ACL's
capacity (``check_capacity`` of the rules with ours, again right before
``update_web_acl``). With ``failover_record``, the health check must be the PRIMARY
record's ``HealthCheckId``.

Undo is keyed by stable ids: the listener ARN + our run id tag + the path (the rule ARN
does not exist yet when the ledger line is written; the orphan finder passes the rule
ARN itself), and the web ACL ARN + our rule name. Undoing removes only our rule.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.core.identity import TAG_EXPIRES_AT, TAG_RUN_ID, current_run
from chaosaws_ext.core.numbers import checked_integer
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.healthcheck.probes import failover_record_sets
from chaosaws_ext.healthcheck.rules import (
    fixed_response_rule,
    listener_rule_paths,
    listener_rules,
    our_listener_rules,
    parse_web_acl_arn,
    shadowing_rules,
    smallest_free_listener_priority,
    smallest_free_waf_priority,
    waf_block_rule,
    waf_rule_blocks_path,
    waf_rule_expiry,
    waf_rule_is_ours,
    waf_rule_name,
    waf_rule_terminates,
    web_acl_update_args,
)
from chaosaws_ext.healthcheck.targets import (
    FAULT,
    MAX_PAGES,
    all_load_balancers,
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
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.planning import FaultPlan, PlannedChange
from chaosaws_ext.undo import orphan_finder, revert_faults, undoer

__all__ = ["block_health_check_path", "unblock_health_check_path"]

logger = logging.getLogger("chaosaws_ext")

MECHANISMS = ("listener-rule", "waf")
UNDO_LISTENER_RULE = "healthcheck-block.delete-listener-rule"
UNDO_WAF_RULE = "healthcheck-block.remove-waf-rule"
LOCK_ATTEMPTS = 5  # WAFOptimisticLockException retries (someone else edited the ACL)
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


def block_health_check_path(
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
) -> dict[str, Any]:
    """Make the health check's path fail at its ALB, and nothing else.

    ``mechanism``: ``listener-rule`` (fixed-response 503 at the smallest free priority,
    which must win over existing rules for the path) or ``waf`` (Block rule in the
    ALB's web ACL, ahead of every rule that could Allow or Block the path, within the
    ACL's capacity). Everything is resolved and checked by the guardrails before the one
    mutating call, which is journaled with its exact undo. Undo with
    ``unblock_health_check_path`` (rollback) or ``gameday recover``.
    """
    waf_capacity = checked_integer(
        waf_capacity, "waf_capacity", minimum=1, activity="block_health_check_path"
    )
    plan = plan_health_check_path_block(
        health_check_id,
        path,
        load_balancer_arn,
        listener_arn,
        mechanism,
        failover_record,
        hosted_zone_id,
        waf_capacity,
        configuration,
        secrets,
    )
    check_plan(plan, configuration, secrets)
    run = current_run(configuration)
    details = plan.details
    path = details["path"]
    change = plan.changes[0]
    if mechanism == "listener-rule":
        elbv2 = aws_client("elbv2", configuration, secrets)
        arn = details["listener_arn"]
        request = fixed_response_rule(arn, path, details["priority"], run)
        created = _journaled_block(
            fault=FAULT,
            region=plan.region,
            resource=arn,
            change=change.change,
            undoer=UNDO_LISTENER_RULE,
            undo_args={"listener_arn": arn, "run_id": run.run_id, "path": path},
            undo_describe=f"delete the rule for {path} tagged chaos:run-id={run.run_id}",
            call=lambda: elbv2.create_rule(**request),
            configuration=configuration,
        )
        stamp_injected(FAULT)
        result = {"rule_arn": created["Rules"][0]["RuleArn"], "listener_arn": arn}
    else:
        wafv2 = aws_client("wafv2", configuration, secrets)
        arn = details["web_acl_arn"]
        rule_name = details["rule_name"]
        priority = _journaled_block(
            fault=FAULT,
            region=plan.region,
            resource=arn,
            change=change.change,
            undoer=UNDO_WAF_RULE,
            undo_args={
                "web_acl_arn": arn,
                "rule_name": rule_name,
                "rules_before": details["rules_before"],
            },
            undo_describe=change.undo,
            call=lambda: _add_waf_rule(
                wafv2, arn, rule_name, path, details["priority"], details["capacity_limit"]
            ),
            configuration=configuration,
        )
        stamp_injected(FAULT)
        result = {"web_acl_arn": arn, "rule_name": rule_name}
        details = {**details, "priority": priority}
    logger.info("blocked %s via %s (%s)", path, mechanism, result)
    return {
        "fault": FAULT,
        "mechanism": mechanism,
        "path": path,
        "priority": details["priority"],
        "target": plan.target,
        "run_id": run.run_id,
        "health_check_id": details.get("health_check_id"),
        "load_balancer_arn": details["load_balancer_arn"],
        **result,
    }


def _journaled_block(**kwargs: Any) -> Any:
    """:func:`journaled`, with AWS's refusal turned into one actionable line."""
    try:
        return journaled(**kwargs)
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", "")).splitlines()
        raise ActivityFailed(
            f"AWS refused {kwargs['change']} on {kwargs['resource']}: {error_code(error)} "
            f"{message[0] if message else ''} (the rollback undoes anything half-made)"
        ) from error


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


def _add_waf_rule(
    wafv2: Any, acl_arn: str, rule_name: str, path: str, priority: int, capacity_limit: int
) -> int:
    """Append our rule with the ACL's LockToken; re-read and retry when someone else
    edited the ACL in between (bounded). Refuses when the rules would need more than
    ``capacity_limit`` WCU (CheckCapacity first). Returns the priority used."""
    scope, name, acl_id = parse_web_acl_arn(acl_arn)
    for _ in range(LOCK_ATTEMPTS):
        found = wafv2.get_web_acl(Name=name, Scope=scope, Id=acl_id)
        acl = found["WebACL"]
        rules = list(acl.get("Rules", []))
        if any(r.get("Name") == rule_name for r in rules):
            return next(int(r["Priority"]) for r in rules if r.get("Name") == rule_name)
        if any(int(r["Priority"]) == priority for r in rules):
            priority = smallest_free_waf_priority(rules)
        ahead = [
            r["Name"] for r in rules if int(r["Priority"]) < priority and waf_rule_terminates(r)
        ]
        if ahead:
            raise ActivityFailed(
                f"web ACL {acl_arn} changed meanwhile: {', '.join(ahead)} now come before "
                f"priority {priority} and may Allow or Block {path}; nothing was changed"
            )
        rules.append(waf_block_rule(rule_name, path, priority, current_run().expires_at()))
        needed = waf_capacity_needed(wafv2, scope, rules)
        if needed is not None and needed > capacity_limit:
            raise ActivityFailed(
                f"web ACL {acl_arn} would need {needed} WCU with the block rule, above its "
                f"capacity {capacity_limit}; nothing was changed"
            )
        try:
            wafv2.update_web_acl(
                **web_acl_update_args(wafv2, acl, scope, rules, found["LockToken"])
            )
            return priority
        except ClientError as error:
            if error_code(error) != "WAFOptimisticLockException":
                raise
            logger.info("web ACL %s changed meanwhile; retrying", acl_arn)
    raise ActivityFailed(f"web ACL {acl_arn} kept changing; {LOCK_ATTEMPTS} attempts failed")


@undoer(UNDO_LISTENER_RULE)
def delete_block_listener_rule(
    listener_arn: str | None = None,
    run_id: str | None = None,
    path: str | None = None,
    rule_arn: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Delete our listener rule: by ARN, or the rule(s) of ``run_id`` for ``path`` on the
    listener. Idempotent: an absent rule or listener is success."""
    elbv2 = aws_client("elbv2", configuration, secrets, region)
    if rule_arn:
        arns = [rule_arn]
    else:
        if not listener_arn or not run_id:
            raise ActivityFailed("listener rule undo needs rule_arn, or listener_arn and run_id")
        try:
            rules = listener_rules(elbv2, listener_arn)
        except ClientError as error:
            if error_code(error) == "ListenerNotFound":
                return {"deleted": [], "listener": "absent"}
            raise
        arns = [r["RuleArn"] for r, _ in our_listener_rules(elbv2, rules, run_id, path)]
    deleted = []
    for arn in arns:
        try:
            elbv2.delete_rule(RuleArn=arn)
        except ClientError as error:
            if error_code(error) != "RuleNotFound":
                raise
            continue
        deleted.append(arn)
    return {"deleted": deleted}


@undoer(UNDO_WAF_RULE)
def remove_block_waf_rule(
    web_acl_arn: str,
    rule_name: str,
    rules_before: list[dict[str, Any]] | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Write the web ACL back without our rule (current rules minus ours, LockToken, every
    other field as read), then verify. Idempotent: an absent rule or ACL is success.

    Removing ours from the CURRENT rules, not rewriting the recorded list, keeps changes
    others made meanwhile; ``rules_before`` is only compared and reported.
    When ours was the only rule, AWS accepts ``Rules=[]``; moto 5.2.5 ignores an empty
    list (keeps the old rules), which the verification reports as a failure.
    """
    wafv2 = aws_client("wafv2", configuration, secrets, region)
    scope, name, acl_id = parse_web_acl_arn(web_acl_arn)
    removed = False
    for _ in range(LOCK_ATTEMPTS):
        try:
            found = wafv2.get_web_acl(Name=name, Scope=scope, Id=acl_id)
        except ClientError as error:
            if error_code(error) == "WAFNonexistentItemException":
                return {"removed": False, "web_acl": "absent"}
            raise
        acl = found["WebACL"]
        rules = acl.get("Rules", [])
        if not any(r.get("Name") == rule_name for r in rules):
            break
        remaining = [r for r in rules if r.get("Name") != rule_name]
        try:
            wafv2.update_web_acl(
                **web_acl_update_args(wafv2, acl, scope, remaining, found["LockToken"])
            )
            removed = True
            break
        except ClientError as error:
            if error_code(error) != "WAFOptimisticLockException":
                raise
            logger.info("web ACL %s changed meanwhile; retrying", web_acl_arn)
    else:
        raise ActivityFailed(f"web ACL {web_acl_arn} kept changing; {LOCK_ATTEMPTS} attempts")
    after = wafv2.get_web_acl(Name=name, Scope=scope, Id=acl_id)["WebACL"].get("Rules", [])
    if any(r.get("Name") == rule_name for r in after):
        hint = (
            " (an empty rule list was not applied; moto ignores update_web_acl(Rules=[]))"
            if len(after) == 1
            else ""
        )
        raise ActivityFailed(f"rule {rule_name} is still in web ACL {web_acl_arn}{hint}")
    now = [{"Name": r["Name"], "Priority": r["Priority"]} for r in after]
    same = rules_before is None or _by_name(now) == _by_name(rules_before)
    if not same:
        logger.warning("web ACL %s rules differ from before the fault: %s", web_acl_arn, now)
    return {"removed": removed, "rules_as_before": same}


def _by_name(rules: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted((str(r["Name"]), int(r["Priority"])) for r in rules)


def unblock_health_check_path(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Rollback: undo every health-check path block of this run from the ledger, then
    verify that none of our rules is left. Idempotent."""
    run = current_run(configuration)
    entries = [
        e for e in Ledger(run.ledger_path).entries() if e.run_id == run.run_id and e.fault == FAULT
    ]
    result = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    left = _still_blocked(entries, configuration, secrets)
    if left:
        raise ActivityFailed(
            "still blocked after undo: " + "; ".join(left) + f" (run `gameday recover "
            f"--ledger {run.ledger_path}`)"
        )
    if result["reverted"]:
        stamp_reverted(FAULT)
    return {**result, "verified": len(entries)}


def _still_blocked(entries: list[Any], configuration: Configuration, secrets: Secrets) -> list[str]:
    left: list[str] = []
    for entry in entries:
        args = entry.undo.get("args", {})
        region = entry.region or None
        if entry.undo.get("undoer") == UNDO_LISTENER_RULE and args.get("listener_arn"):
            elbv2 = aws_client("elbv2", configuration, secrets, region)
            try:
                rules = listener_rules(elbv2, args["listener_arn"])
            except ClientError as error:
                if error_code(error) == "ListenerNotFound":
                    continue
                raise
            for rule, _ in our_listener_rules(elbv2, rules, args.get("run_id"), args.get("path")):
                left.append(rule["RuleArn"])
        elif entry.undo.get("undoer") == UNDO_WAF_RULE:
            wafv2 = aws_client("wafv2", configuration, secrets, region)
            scope, name, acl_id = parse_web_acl_arn(args["web_acl_arn"])
            try:
                acl = wafv2.get_web_acl(Name=name, Scope=scope, Id=acl_id)["WebACL"]
            except ClientError as error:
                if error_code(error) == "WAFNonexistentItemException":
                    continue
                raise
            if any(r.get("Name") == args["rule_name"] for r in acl.get("Rules", [])):
                left.append(f"{args['web_acl_arn']} rule {args['rule_name']}")
    return left


@orphan_finder(FAULT)
def find_blocked_paths(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Our leftovers without a ledger: listener rules tagged ``chaos:managed-by`` =
    chaosaws-ext for this fault on any ALB listener, and rules of our shape (``chaos-*``
    name, Block, URI path EXACTLY) in the region's web ACLs."""
    found: list[dict[str, Any]] = []
    elbv2 = aws_client("elbv2", configuration, secrets, region)
    for balancer in all_load_balancers(elbv2):
        if balancer.get("Type") != "application":
            continue
        for listener in listeners_of(elbv2, balancer["LoadBalancerArn"]):
            rules = listener_rules(elbv2, listener["ListenerArn"])
            for rule, tags in our_listener_rules(elbv2, rules):
                found.append(
                    {
                        "resource": rule["RuleArn"],
                        "undoer": UNDO_LISTENER_RULE,
                        "args": {"rule_arn": rule["RuleArn"]},
                        "describe": f"delete listener rule {rule['RuleArn']} "
                        f"({listener_rule_paths(rule)}, run {tags.get(TAG_RUN_ID)}, "
                        f"expires {tags.get(TAG_EXPIRES_AT)})",
                        "expires_at": tags.get(TAG_EXPIRES_AT),
                    }
                )
    wafv2 = aws_client("wafv2", configuration, secrets, region)
    marker: str | None = None
    for _ in range(MAX_PAGES):
        kwargs: dict[str, Any] = {"Scope": "REGIONAL", "Limit": 100}
        if marker:
            kwargs["NextMarker"] = marker
        page = wafv2.list_web_acls(**kwargs)
        for summary in page.get("WebACLs", []):
            acl = wafv2.get_web_acl(Name=summary["Name"], Scope="REGIONAL", Id=summary["Id"])
            for rule in acl["WebACL"].get("Rules", []):
                if waf_rule_is_ours(rule):
                    found.append(
                        {
                            "resource": f"{summary['ARN']}#{rule['Name']}",
                            "undoer": UNDO_WAF_RULE,
                            "args": {"web_acl_arn": summary["ARN"], "rule_name": rule["Name"]},
                            "describe": f"remove WAF rule {rule['Name']} from {summary['ARN']}",
                            "expires_at": waf_rule_expiry(rule),
                        }
                    )
        marker = page.get("NextMarker")
        if not marker or not page.get("WebACLs"):
            break
    return found
