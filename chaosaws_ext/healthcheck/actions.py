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

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import current_run
from chaosaws_ext.core.numbers import checked_integer
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.healthcheck.load_balancers import (
    FAULT,
    error_code,
)
from chaosaws_ext.healthcheck.planning import (
    DEFAULT_WAF_CAPACITY,
    plan_health_check_path_block,
    waf_capacity_needed,
)
from chaosaws_ext.healthcheck.rules import (
    LOCK_ATTEMPTS,
    fixed_response_rule,
    listener_rules,
    our_listener_rules,
    parse_web_acl_arn,
    smallest_free_waf_priority,
    waf_block_rule,
    waf_rule_terminates,
    web_acl_update_args,
)
from chaosaws_ext.healthcheck.undo import UNDO_LISTENER_RULE, UNDO_WAF_RULE
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.undo import revert_faults

__all__ = ["block_health_check_path", "unblock_health_check_path"]

logger = logging.getLogger("chaosaws_ext")


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
