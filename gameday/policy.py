"""``gameday policy``: the least-privilege IAM policy of a built-in experiment.

The policies live in ``experiments/policies/<experiment>.json`` (a variant of an
experiment's path in ``<experiment>-<variant>.json``): exactly the actions the
experiment's activities, the guardrails (``sts:GetCallerIdentity``), the safety control's
stop conditions (``cloudwatch:DescribeAlarms``) and the target lock (a DynamoDB table,
only when ``lock_table`` is configured) call, one ``Sid`` per purpose. Resources are ARN
patterns with placeholders in braces (``{account}``, ``{region}``, ``{vpc_id}``...):
:func:`render` fills them (``gameday policy NAME --account 1234... --region eu-south-1
--set vpc_id=vpc-...``); unfilled ones are left as they are and listed on stderr.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gameday.catalog import EXPERIMENTS, experiments_dir
from gameday.errors import UserError

__all__ = [
    "policy_names",
    "policy_path",
    "load_policy",
    "placeholders",
    "render",
    "policy_actions",
    "TAG_ON_CREATE_ACTIONS",
    "DEPENDENT_ACTIONS",
    "CONDITIONAL_ACTIONS",
]

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# Authorised by IAM although no API call of that name is made (tags given on create).
TAG_ON_CREATE_ACTIONS = frozenset(
    {"ec2:CreateTags", "elasticloadbalancing:AddTags", "dynamodb:TagResource"}
)
# Likewise: dependent actions the Service Authorization Reference lists
# (wafv2:GetWebACLForResource on an ALB also checks GetLoadBalancerWebACL).
DEPENDENT_ACTIONS = TAG_ON_CREATE_ACTIONS | {"elasticloadbalancing:GetLoadBalancerWebACL"}
# Called only on some paths (the lock table exists already; another run holds the lock;
# ``gameday recover`` after a crash: the markers' Scan, the WAF orphan finder's list).
CONDITIONAL_ACTIONS = frozenset(
    {
        "dynamodb:CreateTable",
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "wafv2:ListWebACLs",
        "ec2:DescribeAvailabilityZones",  # only when no subnet of the zone is listed
        "route53:ListResourceRecordSets",  # only when a hosted zone holds the record
    }
)


def policy_names() -> list[str]:
    """Every shipped policy: one per built-in experiment, plus variants named
    ``<experiment>-<variant>`` (``rds-forced-failover-cluster``: the cluster path)."""
    found = sorted(p.stem for p in (experiments_dir() / "policies").glob("*.json"))
    return [n for n in found if any(n == e or n.startswith(f"{e}-") for e in EXPERIMENTS)]


def policy_path(experiment: str) -> Path:
    name = Path(experiment).name.removesuffix(".yaml").removesuffix(".json")
    known = policy_names()
    if name not in known:
        raise UserError(f"no IAM policy for experiment {experiment!r} (known: {', '.join(known)})")
    return experiments_dir() / "policies" / f"{name}.json"


def load_policy(experiment: str) -> dict[str, Any]:
    """The policy document of a built-in experiment (placeholders not filled)."""
    return json.loads(policy_path(experiment).read_text())


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):  # keys too: a condition key may hold one (a tag key)
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def placeholders(policy: dict[str, Any]) -> set[str]:
    """Names of the ``{placeholders}`` the policy contains."""
    return {m for s in _strings(policy) for m in PLACEHOLDER.findall(s)}


def render(policy: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """A copy with each ``{name}`` that ``values`` knows replaced."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), value)
        if isinstance(value, dict):
            return {fill(k): fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return fill(policy)


def policy_actions(policy: dict[str, Any]) -> set[str]:
    """Every action the policy allows."""
    actions: set[str] = set()
    for statement in policy["Statement"]:
        found = statement["Action"]
        actions.update([found] if isinstance(found, str) else found)
    return actions
