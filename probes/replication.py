"""Failover RPO and catch-up of an asynchronous replication, from write markers: pure
functions over the markers' acknowledgement and first-visibility times.

Definitions (docs/architecture.md, "The replication measurement"):

- A marker is *present* in the other region at moment ``m`` when the lag poller saw it
  there at or before ``m`` (``seen_mono``: the send time of the first poll that found
  it; resolution the poll interval).
- Failover RPO at the failover moment ``f`` (the end of the pause by default): the
  acknowledged markers (ack at or before ``f``) not present at ``f``; in count, and in
  seconds from the first to the last missing acknowledgement. Resolution: the writer
  interval.
- Catch-up: from the end of the pause until every marker acknowledged before it is
  present; None when some never was, within the window polled (``window_s``).
- Lag: first visibility - acknowledgement, p50/p99/max, of the markers acknowledged
  and seen before the pause, or acknowledged after it (the replication's ordinary lag:
  a marker in flight when the pause began waited for the pause, not for the lag).

Durations come from monotonic times only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from probes.recovery import Marker, percentiles

__all__ = [
    "FailoverResult",
    "CatchUpResult",
    "failover_rpo",
    "catch_up",
    "lag_outside",
    "outside_pause",
]


@dataclass
class FailoverResult:
    acknowledged: int  # acknowledged at or before the failover moment
    missing: int  # of those, not present in the other region at that moment
    span_s: float  # first to last missing acknowledgement; 0.0 when none is missing
    resolution_s: float  # the writer interval
    missing_seqs: list[int] = field(default_factory=list)
    first_missing_mono: float | None = None
    last_missing_mono: float | None = None


@dataclass
class CatchUpResult:
    caught_up_s: float | None  # None: not caught up within the window
    window_s: float  # from the end of the pause to the last poll
    still_missing: int  # acknowledged before the end of the pause, never seen
    resolution_s: float  # the lag poll interval


def _acked_by(markers: Sequence[Marker], moment: float) -> list[Marker]:
    return sorted(
        (m for m in markers if m.acked and m.ack_mono is not None and m.ack_mono <= moment),
        key=lambda m: m.seq,
    )


def failover_rpo(
    markers: Sequence[Marker], failover_mono: float, interval: float
) -> FailoverResult:
    """What a failover to the other region at ``failover_mono`` would not find."""
    acked = _acked_by(markers, failover_mono)
    missing = [m for m in acked if m.seen_mono is None or m.seen_mono > failover_mono]
    first = min((m.ack_mono for m in missing if m.ack_mono is not None), default=None)
    last = max((m.ack_mono for m in missing if m.ack_mono is not None), default=None)
    return FailoverResult(
        acknowledged=len(acked),
        missing=len(missing),
        span_s=0.0 if first is None or last is None else round(last - first, 3),
        resolution_s=interval,
        missing_seqs=[m.seq for m in missing],
        first_missing_mono=first,
        last_missing_mono=last,
    )


def catch_up(
    markers: Sequence[Marker], end_mono: float, polled_until_mono: float, poll_interval: float
) -> CatchUpResult:
    """How long after ``end_mono`` the other region held every marker acknowledged
    before it (the poller ran until ``polled_until_mono``)."""
    acked = _acked_by(markers, end_mono)
    unseen = [m for m in acked if m.seen_mono is None]
    window = round(max(0.0, polled_until_mono - end_mono), 3)
    if unseen:
        return CatchUpResult(None, window, len(unseen), poll_interval)
    last_seen = max((m.seen_mono for m in acked if m.seen_mono is not None), default=end_mono)
    return CatchUpResult(round(max(0.0, last_seen - end_mono), 3), window, 0, poll_interval)


def outside_pause(m: Marker, pause_start: float | None, pause_end: float | None) -> bool:
    """Acknowledged and seen (or still unseen) before the pause, or acknowledged after it."""
    if pause_start is None or pause_end is None or m.ack_mono is None:
        return True
    if m.ack_mono > pause_end:
        return True
    return m.ack_mono < pause_start and m.seen_mono is not None and m.seen_mono < pause_start


def lag_outside(
    markers: Sequence[Marker], pause_start: float | None, pause_end: float | None
) -> dict[str, float | None]:
    """p50/p99/max (and count) of first visibility - acknowledgement of the markers
    acknowledged and seen before ``pause_start``, or acknowledged after ``pause_end``."""

    values = [
        m.seen_mono - m.ack_mono
        for m in markers
        if m.seen_mono is not None
        and m.ack_mono is not None
        and outside_pause(m, pause_start, pause_end)
    ]
    return percentiles(values)
