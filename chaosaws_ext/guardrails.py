"""Checks that run before any mutation: may this run touch these resources at all?

Called by every inject action with its :class:`~chaosaws_ext.planning.FaultPlan`.
Configuration keys: ``allowed_regions`` (list or comma string) and
``protection_tag`` (default ``chaos:protected``; a resource carrying it is refused).
"""

from __future__ import annotations

import logging

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.planning import FaultPlan

__all__ = ["check_plan", "DEFAULT_PROTECTION_TAG"]

logger = logging.getLogger("chaosaws_ext")
DEFAULT_PROTECTION_TAG = "chaos:protected"


def _as_list(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]  # type: ignore[union-attr]


def check_plan(
    plan: FaultPlan, configuration: Configuration = None, secrets: Secrets = None
) -> None:
    """Raise ActivityFailed (one line, naming every problem) when the plan is not allowed."""
    configuration = configuration or {}
    problems: list[str] = []
    regions = _as_list(configuration.get("allowed_regions"))
    if regions and plan.region not in regions:
        problems.append(f"region {plan.region} is not in allowed_regions ({', '.join(regions)})")
    tag = str(configuration.get("protection_tag") or DEFAULT_PROTECTION_TAG)
    for change in plan.changes:
        if tag in change.resource_tags:
            problems.append(f"{change.resource} carries the protection tag {tag!r}")
    if not plan.changes:
        problems.append("nothing to change")
    if problems:
        raise ActivityFailed(f"refusing {plan.fault}: " + "; ".join(problems))
