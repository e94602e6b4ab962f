"""The read-only plan of the DynamoDB replica write conflict, for ``gameday plan``."""

from __future__ import annotations

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.identity import current_run
from chaosaws_ext.dynamodb.conflict import (
    build_plan,
)
from chaosaws_ext.planning import FaultPlan

__all__ = ["plan_conflicting_writes"]


def plan_conflicting_writes(
    table_name: str,
    regions: list[str] | str | None = None,
    keys: int = 1,
    writes_per_region: int = 10,
    timeout: float = 60,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of :func:`write_conflicting_items` (same arguments), for
    ``gameday plan``; raises ActivityFailed with the refusal, changes nothing."""
    return build_plan(
        table_name,
        current_run(configuration),
        regions,
        keys,
        writes_per_region,
        timeout,
        configuration,
        secrets,
    )
