"""A monitored window's verdict from the samplers' samples: the failback's judge.

The runbook's failback watches the service for 15 and 30 minutes after moving 10 % and
50 % of the traffic back; a window is good when the samples sent within it failed no
more often than ``max_error_rate`` and their p99 latency stayed under
``max_p99_latency_ms``. Defaults: 1 % errors (the error budget of a 99 % availability
objective over the window) and 1,000 ms p99; both are configuration of the experiment.
A window without a sample is bad: nothing was seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chaosaws_ext.core.window_judge import WindowVerdict
from probes.recovery import Sample, percentiles

__all__ = ["DEFAULT_MAX_ERROR_RATE", "DEFAULT_MAX_P99_MS", "p99", "judge_samples"]

DEFAULT_MAX_ERROR_RATE = 0.01
DEFAULT_MAX_P99_MS = 1000.0


def p99(latencies: Sequence[float]) -> float | None:
    """The nearest-rank 99th percentile (None without values): probes.recovery's."""
    return percentiles(latencies)["p99"]


def judge_samples(
    samples: Iterable[Sample],
    start_mono: float,
    end_mono: float,
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE,
    max_p99_latency_ms: float = DEFAULT_MAX_P99_MS,
) -> WindowVerdict:
    """The verdict on the samples sent within ``[start_mono, end_mono]``."""
    within = [s for s in samples if start_mono <= s.t_mono <= end_mono]
    errors = sum(1 for s in within if not s.ok)
    latencies = [float(s.latency_ms) for s in within if s.ok and s.latency_ms is not None]
    rate = errors / len(within) if within else None
    tail = p99(latencies)
    thresholds = {"max_error_rate": max_error_rate, "max_p99_latency_ms": max_p99_latency_ms}
    reason = None
    if not within:
        reason = "no sample in the window"
    elif rate is not None and rate > max_error_rate:  # (not None: within is not empty)
        reason = f"error rate {rate:.3f} above {max_error_rate:g} ({errors} of {len(within)})"
    elif tail is not None and tail > max_p99_latency_ms:
        reason = f"p99 latency {tail:.0f} ms above {max_p99_latency_ms:g} ms"
    return WindowVerdict(
        good=reason is None,
        samples=len(within),
        errors=errors,
        error_rate=None if rate is None else round(rate, 4),
        p99_latency_ms=tail,
        reason=reason,
        thresholds=thresholds,
    )
