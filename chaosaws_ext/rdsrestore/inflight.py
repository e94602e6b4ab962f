"""The restore this process started, for the waiting probe to time (Chaos Toolkit runs
the action and the probes of one experiment in one process)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RestoreInFlight", "remember", "recall", "forget_all"]


@dataclass
class RestoreInFlight:
    kind: str  # the drill block's kind: rds-point-in-time, rds-snapshot, rds-backup-copy
    source: str
    restored: str
    region: str
    restore_point: str  # ISO 8601 UTC
    drill_started: str  # wall time of the restore call
    called_monotonic: float
    latest_restorable_lag_s: float | None
    # backup-copy: the AWS Backup recovery point (arn, vault, region, created, completed,
    # age_at_drill_start_s)
    recovery_point: dict[str, Any] | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False

    def phase(self, name: str, monotonic: float) -> None:
        """Record a phase once, in seconds after the restore call."""
        if all(p["name"] != name for p in self.phases):
            self.phases.append({"name": name, "at_s": round(monotonic - self.called_monotonic, 3)})

    def block(self) -> dict[str, Any]:
        """The fault's part of the journal's drill block (``recovery.restore``)."""
        block: dict[str, Any] = {
            "kind": self.kind,
            "source": self.source,
            "restored": self.restored,
            "restore_point": self.restore_point,
            "drill_started": self.drill_started,
            "latest_restorable_lag_s": self.latest_restorable_lag_s,
            "phases": list(self.phases),
            "deleted": self.deleted,
        }
        if self.recovery_point is not None:
            block["region"] = self.region
            block["recovery_point"] = dict(self.recovery_point)
        return block


_lock = threading.Lock()
_restores: dict[str, RestoreInFlight] = {}


def remember(restore: RestoreInFlight) -> None:
    with _lock:
        _restores[restore.restored] = restore


def recall(restored: str | None = None) -> RestoreInFlight | None:
    """The restore of that restored id, else the latest one of this process."""
    with _lock:
        if restored:
            return _restores.get(restored)
        return list(_restores.values())[-1] if _restores else None


def forget_all() -> None:
    with _lock:
        _restores.clear()
