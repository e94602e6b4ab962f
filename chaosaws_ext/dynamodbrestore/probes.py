"""Read-only probes of the restore drill: the source's point-in-time recovery (the
steady state before and after: the drill never changes it)."""

from __future__ import annotations

from typing import Any

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.dynamodbrestore.tables import restore_window

__all__ = ["point_in_time_recovery_enabled", "restorable_window"]


def restorable_window(
    table_name: str, configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """``{enabled, earliest, latest}`` of the table's point-in-time recovery (ISO UTC)."""
    window = restore_window(aws_client("dynamodb", configuration, secrets), table_name)
    return {
        "enabled": window.enabled,
        "earliest": window.earliest.isoformat() if window.earliest else None,
        "latest": window.latest.isoformat() if window.latest else None,
    }


def point_in_time_recovery_enabled(
    table_name: str, configuration: Configuration = None, secrets: Secrets = None
) -> bool:
    """True when point-in-time recovery is enabled on the table."""
    return restore_window(aws_client("dynamodb", configuration, secrets), table_name).enabled
