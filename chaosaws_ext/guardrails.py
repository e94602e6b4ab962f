"""Checks that run before any mutation: may this run touch these resources at all?

Called by every inject action with its :class:`~chaosaws_ext.planning.FaultPlan`.
Configuration keys (each also readable from the ``GAMEDAY_*`` environment variable):
``allowed_accounts`` (the caller's account must be listed; unknown accounts are refused),
``allowed_regions`` (when set, the plan's region must be listed), ``protection_tag``
(default ``chaos:protected``; a resource carrying it with a true value, see
:data:`PROTECTED_VALUES`, is refused), ``max_resources``
(blast radius: most resources one fault may change, default 100) and ``lock_table``
(one run at a time per target, see :mod:`chaosaws_ext.locking`).
All problems are reported together, in one line, before anything is changed.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import TAG_PROTECTED
from chaosaws_ext.planning import FaultPlan

__all__ = [
    "check_plan",
    "plan_problems",
    "caller_account",
    "DEFAULT_PROTECTION_TAG",
    "PROTECTED_VALUES",
    "protection_tag",
    "is_protected",
]

logger = logging.getLogger(__name__)
DEFAULT_PROTECTION_TAG = TAG_PROTECTED
DEFAULT_MAX_RESOURCES = 100
# Values of the protection tag that protect (compared case-insensitively, spaces stripped);
# any other value (``false``, ``no``, ``0``, empty) does not.
PROTECTED_VALUES = frozenset({"true", "yes", "1", "on"})


def _as_list(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]  # type: ignore[union-attr]


def _setting(configuration: Configuration | None, key: str) -> object:
    value = (configuration or {}).get(key)
    if value in (None, ""):
        value = os.environ.get(f"GAMEDAY_{key.upper()}")
    return value


def protection_tag(configuration: Configuration | None) -> str:
    """The tag key that protects a resource (``protection_tag``, default chaos:protected)."""
    return str(_setting(configuration, "protection_tag") or DEFAULT_PROTECTION_TAG)


def is_protected(tags: dict[str, str], configuration: Configuration | None) -> bool:
    """Whether ``tags`` carry the protection tag with a true value (PROTECTED_VALUES)."""
    value = tags.get(protection_tag(configuration))
    return value is not None and value.strip().lower() in PROTECTED_VALUES


@lru_cache(maxsize=32)
def _account_for(region: str, access_key: str, endpoint: str) -> str:
    return aws_client("sts", None, None, region).get_caller_identity()["Account"]


def caller_account(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> str:
    """The account the credentials act in (``sts get-caller-identity``)."""
    if configuration or secrets:
        client = aws_client("sts", configuration, secrets, region)
        return client.get_caller_identity()["Account"]
    return _account_for(
        region or "",
        os.environ.get("AWS_ACCESS_KEY_ID", ""),
        os.environ.get("AWS_ENDPOINT_URL", ""),
    )


def plan_problems(
    plan: FaultPlan, configuration: Configuration = None, secrets: Secrets = None
) -> list[str]:
    """Every reason this plan may not run, without changing anything."""
    problems: list[str] = []
    accounts = _as_list(_setting(configuration, "allowed_accounts"))
    try:
        account = caller_account(configuration, secrets, plan.region)
    except Exception as error:  # noqa: BLE001 - credentials problems are user problems
        problems.append(f"cannot identify the AWS account ({error})")
    else:
        if account not in accounts:
            hint = (
                f"set allowed_accounts (GAMEDAY_ALLOWED_ACCOUNTS={account}) "
                "if this is a staging account"
            )
            problems.append(f"account {account} is not in allowed_accounts ({hint})")
    regions = _as_list(_setting(configuration, "allowed_regions"))
    if regions and plan.region not in regions:
        problems.append(f"region {plan.region} is not in allowed_regions ({', '.join(regions)})")
    tag = protection_tag(configuration)
    for change in plan.changes:
        if is_protected(change.resource_tags, configuration):
            problems.append(f"{change.resource} carries the protection tag {tag!r}")
    raw = _setting(configuration, "max_resources") or DEFAULT_MAX_RESOURCES
    try:
        limit = int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        problems.append(f"max_resources must be a whole number, got {raw!r}")
        return problems
    if len(plan.changes) > limit:
        problems.append(
            f"{len(plan.changes)} resources would change, more than max_resources={limit}"
        )
    if not plan.changes:
        problems.append("nothing to change")
    return problems


def check_plan(
    plan: FaultPlan, configuration: Configuration = None, secrets: Secrets = None
) -> None:
    """Raise ActivityFailed (one line, naming every problem) when the plan is not allowed;
    then take the target lock when locking is configured."""
    problems = plan_problems(plan, configuration, secrets)
    if problems:
        raise ActivityFailed(f"refusing {plan.fault}: " + "; ".join(problems))
    from chaosaws_ext.locking import acquire_target_lock

    acquire_target_lock(plan.target, plan.region, configuration, secrets)
