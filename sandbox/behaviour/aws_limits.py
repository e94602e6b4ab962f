"""Moved: the old import path, kept working. Re-exports:

- `sandbox.elbv2.limits`
- `sandbox.wafv2.capacity`
- `sandbox.strictness`
"""

from sandbox.elbv2.limits import (
    ALB_RULES_PER_LOAD_BALANCER,
    ELB_TAG_VALUE_MAX,
    alb_rules_quota_exceeded,
    elb_tag_value_problem,
)
from sandbox.strictness import (
    Strictness,
)
from sandbox.wafv2.capacity import (
    TEXT_TRANSFORMATION_WCU,
    WAF_WEB_ACL_CAPACITY,
    rules_capacity,
    statement_capacity,
)

__all__ = [
    "ALB_RULES_PER_LOAD_BALANCER",
    "ELB_TAG_VALUE_MAX",
    "Strictness",
    "TEXT_TRANSFORMATION_WCU",
    "WAF_WEB_ACL_CAPACITY",
    "alb_rules_quota_exceeded",
    "elb_tag_value_problem",
    "rules_capacity",
    "statement_capacity",
]
