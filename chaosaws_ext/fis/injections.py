"""The FIS experiment this process started, for the probes (one experiment per run)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Started", "remember", "recall", "forget_all"]


@dataclass(frozen=True)
class Started:
    experiment_id: str
    template_id: str
    region: str
    injected_monotonic: float
    injected_at: str


_lock = threading.Lock()
_started: list[Started] = []


def remember(started: Started) -> None:
    with _lock:
        _started.append(started)


def recall() -> Started | None:
    """The latest experiment started in this process."""
    with _lock:
        return _started[-1] if _started else None


def forget_all() -> None:
    with _lock:
        _started.clear()
