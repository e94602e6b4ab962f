"""Undo of a forced failover: nothing to put back, verify the DB is available again.

Failing back would be a second outage, so the ledger's undo waits (bounded, idempotent)
until the DB is available; ``gameday recover`` therefore waits instead of failing.
"""

from __future__ import annotations

from typing import Any

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.rds import DECLARATION
from chaosaws_ext.rds.availability import read_state, wait_available

__all__ = ["wait_available_undo", "failover_entry"]

UNDOER = DECLARATION.undoer_name("wait-available")
UNDO_TIMEOUT_S = 900.0  # recover waits at most this long per DB
UNDO_POLL_INTERVAL_S = 5.0  # nothing is measured here: spare the shared RDS API budget


def failover_entry(kind: str, db_id: str, change: str) -> dict[str, Any]:
    """The ledger entry of one failover (ours or an adopted one): what, and its undo."""
    return {
        "resource": f"{kind}:{db_id}",
        "change": change,
        "undoer": UNDOER,
        "undo_args": {"kind": kind, "db_id": db_id, "timeout": UNDO_TIMEOUT_S},
        "undo_describe": f"nothing to undo; wait until {kind} {db_id} is available again",
    }


def wait_available_undo(
    kind: str,
    db_id: str,
    timeout: float = UNDO_TIMEOUT_S,
    poll_interval: float = UNDO_POLL_INTERVAL_S,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Nothing to put back after a failover: verify the DB is available (bounded)."""
    rds = aws_client("rds", configuration, secrets, region)
    if read_state(rds, kind, db_id) is None:
        return {"db": db_id, "status": "gone", "waited_s": 0.0}
    waited = wait_available(rds, kind, db_id, timeout=timeout, poll_interval=poll_interval)
    return {"db": db_id, "status": "available", "waited_s": round(waited, 3)}
