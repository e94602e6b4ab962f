"""RTO, RPO, availability and replication lag: pure functions over recorded samples.

Definitions (docs: docs/architecture.md, "RTO, RPO and the recovery block"):

- t0 is the monotonic time the fault's mutating call returned.
- The outage is observed at the first failing sample at or after t0. Recovery is the
  first success that starts a run of ``consecutive`` (K) successes after the outage
  with no failed sample within ``window_s`` (W) seconds of it (0: the K run alone).
  W is for a partial outage: requests spread over several backends (ALB round robin,
  an AZ lost of three) fail only when routed to a lost one, so K successes in a row can
  come before the load balancer has taken it out; a W covering several rounds over
  every backend keeps that from counting as the recovery. The figure is still measured
  from the run's first success: W only delays the decision.
- RTO = recovery - t0; 0 when no sample at/after t0 failed. Resolution = the interval.
- RPO = the longest span of acknowledged writes missing after recovery, from the last
  surviving acknowledged write before the gap to the last lost one in it; 0 when none is
  missing. Resolution = the writer interval.

Every duration here comes from monotonic timestamps; wall times are only carried along
for display, so a wall clock that jumps does not change any figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Sample",
    "Marker",
    "RtoResult",
    "RpoResult",
    "compute_rto",
    "recovery_rule",
    "compute_rpo",
    "availability",
    "percentiles",
]


@dataclass(frozen=True)
class Sample:
    """One data-plane observation. ``t_mono`` is when the request was sent."""

    t_mono: float
    t_wall: str
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    detail: str | None = None  # e.g. the address a DNS name resolved to


@dataclass
class Marker:
    """One write marker: sequence number, when it was sent and when it was acknowledged."""

    seq: int
    sent_mono: float
    sent_wall: str
    acked: bool = False
    ack_mono: float | None = None
    ack_wall: str | None = None
    error: str | None = None
    seen_mono: float | None = None  # first visibility in the other region (lag poller)


@dataclass
class RtoResult:
    measured_s: float | None  # None: the outage never ended (within the samples)
    resolution_s: float
    outage: bool
    outage_started_mono: float | None = None
    outage_started_wall: str | None = None
    recovered_mono: float | None = None
    recovered_wall: str | None = None
    last_failure_mono: float | None = None
    failed_samples: int = 0
    samples_after_t0: int = 0

    @property
    def recovered(self) -> bool:
        return self.measured_s is not None


@dataclass
class RpoResult:
    measured_s: float | None  # None: could not be read, or no write acknowledged
    resolution_s: float
    written: int
    acknowledged: int
    lost: int
    lost_seqs: list[int] = field(default_factory=list)
    worst_gap: tuple[int, int] | None = None  # first and last lost seq of the worst gap


def _sorted(samples: Iterable[Sample]) -> list[Sample]:
    return sorted(samples, key=lambda s: s.t_mono)


def recovery_rule(consecutive: int, window_s: float = 0.0) -> str:
    """The recovery rule in words, as the journal's ``rto.rule`` states it."""
    rule = f"first success of {consecutive} consecutive successes after the outage"
    if window_s > 0:
        rule += f", with no failed sample within {window_s:g} s of it"
    return rule


def _confirmed(run: Sequence[Sample], following: Sample | None, k: int, window_s: float) -> bool:
    """Whether a run of successes (``following``: the failure that ended it, None when
    the stream ends with it) makes a recovery: K long, and W observed without failure."""
    if len(run) < k:
        return False
    if window_s <= 0:
        return True
    until = run[0].t_mono + window_s
    if following is not None:
        return following.t_mono > until
    return run[-1].t_mono >= until


def compute_rto(
    samples: Iterable[Sample],
    t0: float,
    interval: float,
    consecutive: int = 3,
    window_s: float = 0.0,
) -> RtoResult:
    """RTO of one sample stream (see the module docstring for the definition). A run
    that has not yet lasted ``window_s`` (the stream ends inside it) is no recovery
    yet."""
    if consecutive < 1:
        raise ValueError("consecutive must be >= 1")
    if window_s < 0:
        raise ValueError("window_s must be >= 0")
    after = [s for s in _sorted(samples) if s.t_mono >= t0]
    first_fail = next((i for i, s in enumerate(after) if not s.ok), None)
    failed = sum(1 for s in after if not s.ok)
    if first_fail is None:
        return RtoResult(0.0, interval, False, samples_after_t0=len(after))
    result = RtoResult(
        measured_s=None,
        resolution_s=interval,
        outage=True,
        outage_started_mono=after[first_fail].t_mono,
        outage_started_wall=after[first_fail].t_wall,
        failed_samples=failed,
        samples_after_t0=len(after),
    )
    run: list[Sample] = []
    last_failure = after[first_fail]
    for sample in [*after[first_fail + 1 :], None]:
        if sample is not None and sample.ok:
            run.append(sample)
            if window_s <= 0 and len(run) == consecutive:
                break  # no window: K in a row decide at once
            continue
        if _confirmed(run, sample, consecutive, window_s):
            break
        run = []
        if sample is not None:
            last_failure = sample
    else:
        run = []
    if run and len(run) >= consecutive:
        start = run[0]
        result.recovered_mono = start.t_mono
        result.recovered_wall = start.t_wall
        result.measured_s = start.t_mono - t0
    result.last_failure_mono = last_failure.t_mono
    return result


def compute_rpo(
    markers: Sequence[Marker],
    present: set[int] | None,
    interval: float,
    start_mono: float | None = None,
) -> RpoResult:
    """RPO from the acknowledged markers and the seqs found after recovery.

    ``present`` is None when the reader could not read, and no marker acknowledged
    leaves nothing to lose: measured_s is None in both (never "0 s, met").
    A gap at the very start is measured from ``start_mono`` (the writer's start), or from
    the first lost marker's send time when that is unknown.
    """
    acked = sorted((m for m in markers if m.acked), key=lambda m: m.seq)
    result = RpoResult(
        measured_s=None,
        resolution_s=interval,
        written=len(markers),
        acknowledged=len(acked),
        lost=0,
    )
    if present is None or not acked:
        return result
    lost = [m for m in acked if m.seq not in present]
    result.lost = len(lost)
    result.lost_seqs = [m.seq for m in lost]
    worst = 0.0
    anchor: float | None = start_mono
    gap_first: Marker | None = None
    gap_last: Marker | None = None

    def close_gap() -> None:
        nonlocal worst
        if gap_first is None or gap_last is None:
            return
        base = anchor if anchor is not None else gap_first.sent_mono
        span = max(0.0, (gap_last.ack_mono or gap_last.sent_mono) - base)
        if span > worst or result.worst_gap is None:
            worst = max(worst, span)
            result.worst_gap = (gap_first.seq, gap_last.seq)

    for marker in acked:
        if marker.seq in present:
            close_gap()
            gap_first = gap_last = None
            anchor = marker.ack_mono
        else:
            if gap_first is None:
                gap_first = marker
            gap_last = marker
    close_gap()
    result.measured_s = worst
    return result


def availability(samples: Iterable[Sample], origin: float, limit: int = 2400) -> dict[str, object]:
    """Counts, ratio and a compact series ``[t_rel_s, ok, latency_ms]`` (at most ``limit``).

    The series keeps every failing sample and the samples around state changes when it
    has to be thinned, so an outage is never hidden by the down-sampling.
    """
    ordered = _sorted(samples)
    total = len(ordered)
    ok = sum(1 for s in ordered if s.ok)
    rows = [
        [
            round(s.t_mono - origin, 3),
            1 if s.ok else 0,
            None if s.latency_ms is None else round(s.latency_ms, 1),
        ]
        for s in ordered
    ]
    if len(rows) > limit:
        keep = {i for i, s in enumerate(ordered) if not s.ok}
        keep |= {i + 1 for i in keep} | {i - 1 for i in keep}
        step = max(1, math.ceil(len(rows) / max(1, limit - len(keep))))
        keep |= set(range(0, len(rows), step))
        rows = [rows[i] for i in sorted(k for k in keep if 0 <= k < len(rows))]
    return {
        "samples": total,
        "ok": ok,
        "ratio": round(ok / total, 4) if total else None,
        "series": rows,
    }


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p99 and max (nearest-rank), rounded to the millisecond."""
    if not values:
        return {"p50": None, "p99": None, "max": None, "count": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        index = max(0, math.ceil(p / 100 * len(ordered)) - 1)
        return round(ordered[index], 3)

    return {"p50": rank(50), "p99": rank(99), "max": round(ordered[-1], 3), "count": len(ordered)}
