"""What the inject actions of this process did, for the completion probe to compare with.

Chaos Toolkit runs the action and the probe in one process, so a module-level record
keyed by DB id is enough; a probe run elsewhere takes the before-values as arguments.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Injection", "remember", "recall", "recall_all", "forget_all"]


@dataclass(frozen=True)
class Injection:
    db_id: str
    kind: str  # "db-instance" or "db-cluster"
    region: str
    writer_az_before: str | None
    writer_instance_before: str | None
    target_instance: str | None
    called_at: str  # wall clock (ISO, UTC) just before the mutating call
    injected_at: str  # wall clock (ISO, UTC) right after it returned (t0)
    injected_monotonic: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_lock = threading.Lock()
_injections: dict[tuple[str, str], Injection] = {}


def remember(injection: Injection) -> None:
    with _lock:
        _injections[(injection.kind, injection.db_id)] = injection


def recall(kind: str, db_id: str) -> Injection | None:
    with _lock:
        return _injections.get((kind, db_id))


def recall_all() -> list[Injection]:
    """Every injection of this process, oldest first."""
    with _lock:
        return sorted(_injections.values(), key=lambda i: i.injected_monotonic)


def forget_all() -> None:
    with _lock:
        _injections.clear()
