"""Availability samples: parse, find the failing spans exactly, downsample for drawing.

A series row is ``[t_rel_s, ok (0/1), latency_ms or null]``. The chart shows at most a
few hundred buckets of latency, but failing spans are computed from every sample, so an
outage starts at the first failing sample and ends at the first successful one exactly,
whatever the number of samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Bucket",
    "Samples",
    "Span",
    "downsample",
    "failing_spans",
    "merge_spans",
    "parse_samples",
]


@dataclass(frozen=True)
class Samples:
    """Column-wise samples, sorted by time."""

    times: list[float]
    ok: list[bool]
    latency_ms: list[float | None]

    def __len__(self) -> int:
        return len(self.times)


@dataclass(frozen=True)
class Span:
    """A run of failing samples: from the first failure to the first success after it.

    ``end`` is the time of that first success, or of the last sample when the series
    ends failing (``open`` is then True). ``merged`` counts spans joined into this one
    for drawing (1 when exact).
    """

    start: float
    end: float
    failures: int
    open: bool = False
    merged: int = 1


@dataclass(frozen=True)
class Bucket:
    start: float
    end: float
    ok: int
    failed: int
    latency_min: float | None
    latency_max: float | None
    latency_mean: float | None


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def parse_samples(series: Any) -> tuple[Samples, int]:
    """Samples from a raw series; returns ``(samples, skipped_rows)`` (malformed rows)."""
    rows: list[tuple[float, bool, float | None]] = []
    skipped = 0
    if not isinstance(series, list):
        return Samples([], [], []), 0
    for row in series:
        if not isinstance(row, list | tuple) or len(row) < 2:
            skipped += 1
            continue
        t = _finite(row[0])
        ok = row[1]
        if t is None or not (isinstance(ok, bool) or ok in (0, 1)):
            skipped += 1
            continue
        latency = _finite(row[2]) if len(row) > 2 else None
        rows.append((t, bool(ok), latency))
    if any(rows[i][0] > rows[i + 1][0] for i in range(len(rows) - 1)):
        rows.sort(key=lambda r: r[0])
    return (
        Samples([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
        skipped,
    )


def failing_spans(samples: Samples) -> list[Span]:
    """Every maximal run of failing samples, exact (no downsampling)."""
    spans: list[Span] = []
    start: float | None = None
    failures = 0
    for t, ok in zip(samples.times, samples.ok, strict=True):
        if not ok:
            if start is None:
                start, failures = t, 0
            failures += 1
        elif start is not None:
            spans.append(Span(start, t, failures))
            start = None
    if start is not None:
        spans.append(Span(start, samples.times[-1], failures, open=True))
    return spans


def merge_spans(spans: list[Span], min_gap: float, limit: int = 400) -> list[Span]:
    """Join spans closer than ``min_gap`` seconds (for drawing only); outer edges stay exact.

    Doubles the gap until at most ``limit`` spans remain, so a flapping service cannot
    blow up the SVG.
    """
    if not spans:
        return []
    gap = max(min_gap, 0.0)
    merged = spans
    for _ in range(64):
        result: list[Span] = [merged[0]]
        for span in merged[1:]:
            last = result[-1]
            if span.start - last.end <= gap:
                result[-1] = Span(
                    last.start,
                    span.end,
                    last.failures + span.failures,
                    span.open,
                    last.merged + span.merged,
                )
            else:
                result.append(span)
        merged = result
        if len(merged) <= limit:
            break
        gap = gap * 2 if gap > 0 else (spans[-1].end - spans[0].start) / limit or 1.0
    return merged


def downsample(samples: Samples, buckets: int = 600) -> list[Bucket]:
    """At most ``buckets`` equal-time buckets with ok/failed counts and latency min/mean/max."""
    n = len(samples)
    if n == 0:
        return []
    first, last = samples.times[0], samples.times[-1]
    width = (last - first) / buckets if last > first else 1.0
    count = min(buckets, n) if last > first else 1
    ok_counts = [0] * count
    failed_counts = [0] * count
    lat_min: list[float | None] = [None] * count
    lat_max: list[float | None] = [None] * count
    lat_sum = [0.0] * count
    lat_n = [0] * count
    scale = count / (last - first) if last > first else 0.0
    for t, ok, latency in zip(samples.times, samples.ok, samples.latency_ms, strict=True):
        index = min(int((t - first) * scale), count - 1)
        if ok:
            ok_counts[index] += 1
        else:
            failed_counts[index] += 1
        if latency is not None and ok:  # a failure's latency is time-to-error: not drawn
            low, high = lat_min[index], lat_max[index]
            lat_min[index] = latency if low is None or latency < low else low
            lat_max[index] = latency if high is None or latency > high else high
            lat_sum[index] += latency
            lat_n[index] += 1
    width = (last - first) / count if last > first else 0.0
    result = []
    for i in range(count):
        if ok_counts[i] + failed_counts[i] == 0:
            continue
        result.append(
            Bucket(
                start=first + i * width,
                end=first + (i + 1) * width,
                ok=ok_counts[i],
                failed=failed_counts[i],
                latency_min=lat_min[i],
                latency_max=lat_max[i],
                latency_mean=lat_sum[i] / lat_n[i] if lat_n[i] else None,
            )
        )
    return result
