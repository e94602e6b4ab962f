"""A stand-in for the measurement control: writes a synthetic ``recovery`` block."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from recovery_blocks import recovery_block

__all__ = ["after_experiment_control"]


def after_experiment_control(context: dict, state: dict | None = None, **arguments: Any) -> None:
    """Add a ``recovery`` block to the live journal, as the real control does."""
    if state is None:
        return
    injected = datetime.now(UTC) - timedelta(seconds=60)
    state["recovery"] = recovery_block(
        service=arguments.get("service", "rds-analytics"),
        injected_at=injected,
        reverted_at=injected + timedelta(seconds=50),
        rto_s=float(arguments.get("rto_s", 12.5)),
        rpo_s=0.0,
        samples=40,
        interval=1.0,
    )
