"""Limits AWS enforces on ELBv2 and moto does not: pure models, no moto.

:mod:`sandbox.elbv2.moto_patch` applies them to moto's responses; the fault side never
imports this module (it asks AWS: ``describe_account_limits``).

- ALB rules quota: "Rules per Application Load Balancer (excluding default rules): 100",
  per load balancer, over all its listeners; above it CreateRule answers ``TooManyRules``
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html).
- ELB tag values: botocore's elbv2 model, shape ``TagValue``: pattern
  ``^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$``, length 0..256.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

__all__ = [
    "ALB_RULES_PER_LOAD_BALANCER",
    "ELB_TAG_VALUE_MAX",
    "alb_rules_quota_exceeded",
    "elb_tag_value_problem",
    "non_default_rules",
]

ALB_RULES_PER_LOAD_BALANCER = 100
ELB_TAG_VALUE_MAX = 256
_ELB_TAG_EXTRA = frozenset("_.:/=+-@")


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


def non_default_rules(listeners: Iterable[Any]) -> int:
    """The rules the quota counts: every rule of every listener but the default ones
    (objects with ``rules`` mapping to rules with ``priority``/``is_default``)."""
    count = 0
    for listener in list(listeners):
        for rule in list(listener.rules.values()):
            if not getattr(rule, "is_default", False) and rule.priority != "default":
                count += 1
    return count
