"""The hook a fault uses to have a monitored window judged by the measurement.

A fault may not import the measurement (``probes/``), yet the failback's traffic shift
must stop when a window is bad. The measurement side registers a judge here
(:func:`register_window_judge`); the fault asks :func:`judge_window` with the window's
monotonic bounds and gets the verdict, or None when no judge is registered (then the
fault decides what that means: the failback refuses to shift blind).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "WindowVerdict",
    "WindowJudge",
    "register_window_judge",
    "unregister_window_judge",
    "judge_window",
]


@dataclass(frozen=True)
class WindowVerdict:
    """A window's verdict: ``good`` with the figures it was judged on."""

    good: bool
    samples: int
    errors: int
    error_rate: float | None
    p99_latency_ms: float | None
    reason: str | None = None
    thresholds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "good": self.good,
            "samples": self.samples,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p99_latency_ms": self.p99_latency_ms,
            "reason": self.reason,
            "thresholds": dict(self.thresholds),
        }


WindowJudge = Callable[[str, float, float], WindowVerdict]

_lock = threading.Lock()
_judge: WindowJudge | None = None


def register_window_judge(judge: WindowJudge) -> None:
    """Install the judge (one per process: the running experiment's measurement)."""
    global _judge
    with _lock:
        _judge = judge


def unregister_window_judge(judge: WindowJudge | None = None) -> None:
    """Remove the judge (only ``judge`` when given)."""
    global _judge
    with _lock:
        if judge is None or _judge is judge:
            _judge = None


def judge_window(name: str, start_mono: float, end_mono: float) -> WindowVerdict | None:
    """The registered judge's verdict on ``[start_mono, end_mono]`` (``time.monotonic()``
    of this process), or None when nothing is registered."""
    with _lock:
        judge = _judge
    if judge is None:
        return None
    return judge(name, start_mono, end_mono)
