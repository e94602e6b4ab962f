"""Wall-clock timestamps as the journal and the ledger write them (display only: every
duration is computed from monotonic clocks)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso_utc"]


def iso_utc(moment: datetime | None = None) -> str:
    """``2026-11-28T21:53:24.123Z``: ISO 8601, UTC, milliseconds."""
    moment = datetime.now(UTC) if moment is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
