"""The WAF web ACL capacity AWS enforces and moto does not: a pure model, no moto.

:mod:`sandbox.wafv2.moto_patch` applies it to moto's responses; the fault side never
imports this module (it asks AWS: ``check_capacity``).

- WAF web ACL capacity: 1,500 WCU per web ACL at the base price
  (https://docs.aws.amazon.com/waf/latest/developerguide/limits.html); string match
  costs per
  https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-string-match.html
  ("EXACTLY", "STARTS_WITH", "ENDS_WITH": 2; "CONTAINS", "CONTAINS_WORD": 10; each text
  transformation +10). Whether ``NONE`` costs 10 is not documented: counted as 0 here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "TEXT_TRANSFORMATION_WCU",
    "WAF_WEB_ACL_CAPACITY",
    "rules_capacity",
    "statement_capacity",
]

WAF_WEB_ACL_CAPACITY = 1500
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
