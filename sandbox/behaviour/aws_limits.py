"""Limits AWS enforces on ELBv2 and WAFv2 and moto does not: pure models, no moto.

:mod:`sandbox.behaviour.elb_waf_strict` applies them to moto's responses; the fault side
never imports this module (it asks AWS: ``describe_account_limits``, ``check_capacity``).

- ALB rules quota: "Rules per Application Load Balancer (excluding default rules): 100",
  per load balancer, over all its listeners; above it CreateRule answers ``TooManyRules``
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html).
- WAF web ACL capacity: 1,500 WCU per web ACL at the base price
  (https://docs.aws.amazon.com/waf/latest/developerguide/limits.html); string match
  costs per
  https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-string-match.html
  ("EXACTLY", "STARTS_WITH", "ENDS_WITH": 2; "CONTAINS", "CONTAINS_WORD": 10; each text
  transformation +10). Whether ``NONE`` costs 10 is not documented: counted as 0 here.
- ELB tag values: botocore's elbv2 model, shape ``TagValue``: pattern
  ``^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$``, length 0..256.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALB_RULES_PER_LOAD_BALANCER",
    "WAF_WEB_ACL_CAPACITY",
    "ELB_TAG_VALUE_MAX",
    "Strictness",
    "elb_tag_value_problem",
    "alb_rules_quota_exceeded",
    "statement_capacity",
    "rules_capacity",
]

ALB_RULES_PER_LOAD_BALANCER = 100
WAF_WEB_ACL_CAPACITY = 1500
ELB_TAG_VALUE_MAX = 256
_ELB_TAG_EXTRA = frozenset("_.:/=+-@")
_STRING_MATCH_WCU = {
    "EXACTLY": 2,
    "STARTS_WITH": 2,
    "ENDS_WITH": 2,
    "CONTAINS": 10,
    "CONTAINS_WORD": 10,
}
TEXT_TRANSFORMATION_WCU = 10
# Further statement costs from the WAF developer guide's rule statement pages
# ("IP set match": 1, "Geographic match": 1, "Size constraint": 1, "Regex pattern set": 25,
# "Rate-based": 2, each plus text transformations where the statement has them).
_FLAT_WCU = {
    "IPSetReferenceStatement": 1,
    "GeoMatchStatement": 1,
    "SizeConstraintStatement": 1,
    "RegexPatternSetReferenceStatement": 25,
    "LabelMatchStatement": 1,
    "RateBasedStatement": 2,
}


@dataclass(frozen=True)
class Strictness:
    """The sandbox's strictness switches, each on by default; ``None``/False = off (moto's
    leniency), for a focused test."""

    alb_rules_per_load_balancer: int | None = ALB_RULES_PER_LOAD_BALANCER
    waf_web_acl_capacity: int | None = WAF_WEB_ACL_CAPACITY
    elb_tag_values: bool = True


def _allowed_in_elb_tag(char: str) -> bool:
    return char in _ELB_TAG_EXTRA or unicodedata.category(char)[0] in "LZN"


def elb_tag_value_problem(value: str) -> str | None:
    """Why ELB would refuse ``value`` as a tag value (botocore TagValue), or None."""
    if len(value) > ELB_TAG_VALUE_MAX:
        return f"tag value longer than {ELB_TAG_VALUE_MAX} characters"
    bad = sorted({char for char in value if not _allowed_in_elb_tag(char)})
    if bad:
        return (
            f"tag value {value!r} contains {''.join(bad)!r}, outside "
            "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"
        )
    return None


def alb_rules_quota_exceeded(existing_rules: int, adding: int, quota: int) -> bool:
    """True when ``existing_rules`` non-default rules of one ALB plus ``adding`` pass
    the quota."""
    return existing_rules + adding > quota


def _transformations_wcu(statement: Mapping[str, Any]) -> int:
    steps = statement.get("TextTransformations") or []
    return TEXT_TRANSFORMATION_WCU * sum(1 for s in steps if s.get("Type", "NONE") != "NONE")


def statement_capacity(
    statement: Mapping[str, Any], rule_group_capacity: Callable[[str], int] | None = None
) -> int:
    """WCU of one rule statement. Rule groups cost their declared capacity
    (``rule_group_capacity(arn)``; 0 when unknown, e.g. managed groups in the sandbox)."""
    if "ByteMatchStatement" in statement:
        inner = statement["ByteMatchStatement"]
        base = _STRING_MATCH_WCU.get(str(inner.get("PositionalConstraint")), 10)
        return base + _transformations_wcu(inner)
    for kind in ("AndStatement", "OrStatement"):
        if kind in statement:
            nested = statement[kind].get("Statements") or []
            return sum(statement_capacity(s, rule_group_capacity) for s in nested)
    if "NotStatement" in statement:
        return statement_capacity(statement["NotStatement"]["Statement"], rule_group_capacity)
    if "RuleGroupReferenceStatement" in statement:
        arn = str(statement["RuleGroupReferenceStatement"].get("ARN", ""))
        return rule_group_capacity(arn) if rule_group_capacity else 0
    for kind, cost in _FLAT_WCU.items():
        if kind in statement:
            return cost + _transformations_wcu(statement[kind])
    return 0


def rules_capacity(
    rules: Iterable[Mapping[str, Any]], rule_group_capacity: Callable[[str], int] | None = None
) -> int:
    """WCU of a rule list, as CheckCapacity answers it."""
    return sum(statement_capacity(r.get("Statement") or {}, rule_group_capacity) for r in rules)
