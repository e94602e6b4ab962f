"""Undo of the health-check path block: remove our listener rule or WAF rule, and the
orphan finder that finds them by tag or shape when the ledger is lost.

Keyed by stable ids (listener ARN + our run id tag + path, or the rule ARN; web ACL ARN
+ our rule name): removing only our rule, and nothing when it is gone already.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import TAG_EXPIRES_AT, TAG_RUN_ID
from chaosaws_ext.healthcheck import DECLARATION
from chaosaws_ext.healthcheck.load_balancers import (
    MAX_PAGES,
    all_load_balancers,
    error_code,
    listeners_of,
)
from chaosaws_ext.healthcheck.rules import (
    LOCK_ATTEMPTS,
    listener_rule_paths,
    listener_rules,
    our_listener_rules,
    parse_web_acl_arn,
    waf_rule_expiry,
    waf_rule_is_ours,
    web_acl_update_args,
)

__all__ = ["delete_block_listener_rule", "remove_block_waf_rule", "find_blocked_paths"]

logger = logging.getLogger(__name__)

UNDO_LISTENER_RULE = DECLARATION.undoer_name("delete-listener-rule")
UNDO_WAF_RULE = DECLARATION.undoer_name("remove-waf-rule")


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
