"""The run's timeline: when each fault went in and came out, and what happened between.

One concept, written by the faults and read by the measurement:

- **fault stamps**: a fault calls :func:`stamp_injected` right after its (last) mutating
  call returned, which is t0 for RTO, and :func:`stamp_reverted` when its undo has put
  things back; the first injection sets :data:`injected_event` (the dead-man's switch
  starts on it); a fault action that finds no target calls :func:`stamp_skipped` with
  the reason (as AWS FIS skips an action without targets), so the scenario timeline
  says so;
- **phase stamps**: a fault calls ``mark_phase("control_plane")`` the moment it sees,
  for example, the RDS instance ``available`` again; the measurement reports every phase
  as seconds since t0 in ``recovery.rto.phases`` (``control_plane_s``). Names in use:
  RDS ``control_plane``, ``az_changed``; Route 53 ``health_check_unhealthy``, ``dns``;
  AZ blackhole ``blackhole_removed``; DynamoDB ``conflict_converged``. The first stamp of
  a name wins. A phase may name its ``fault`` so that a scenario of several faults
  shows it on that fault's step;
- **fault details**: a fault's own small findings for ``recovery.fault.detail`` (the
  DynamoDB conflict's winner and lost writes).

Process-wide (one experiment per ``chaos run`` process) and thread-safe. Monotonic
times for durations, wall times for display only.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chaosaws_ext.core.clock import iso_utc

__all__ = [
    "FaultStamp",
    "PhaseStamp",
    "stamp_injected",
    "stamp_reverted",
    "stamp_skipped",
    "fault_stamps",
    "injected_event",
    "mark_phase",
    "phase_stamps",
    "clear_phases",
    "note_fault_detail",
    "fault_details",
    "wall_now",
]

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_lock = threading.Lock()
_faults: list[FaultStamp] = []
_phases: list[PhaseStamp] = []
_details: dict[str, object] = {}
injected_event = threading.Event()  # set at the first injection: starts the dead-man's switch


@dataclass(frozen=True)
class FaultStamp:
    fault: str
    event: str  # "injected", "reverted" or "skipped"
    monotonic: float
    wall: str
    reason: str | None = None  # why a "skipped" fault changed nothing
    # the thread that stamped it: a background action's own (its step on the timeline)
    thread: int | None = None


@dataclass(frozen=True)
class PhaseStamp:
    name: str
    monotonic: float
    wall: str
    fault: str | None = None  # the fault whose phase it is (a scenario's step), if known


def wall_now() -> str:
    """The current wall time as ISO 8601 UTC with milliseconds (display only)."""
    return iso_utc()


def _stamp_fault(
    fault: str, event: str, seconds_ago: float = 0.0, reason: str | None = None
) -> FaultStamp:
    now = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    stamp = FaultStamp(
        fault=fault,
        event=event,
        monotonic=time.monotonic() - seconds_ago,
        wall=iso_utc(now),
        reason=reason,
        thread=threading.get_ident(),
    )
    with _lock:
        _faults.append(stamp)
    if event == "injected":
        injected_event.set()
    logger.info("fault %s %s at %s", fault, event, stamp.wall)
    return stamp


def stamp_injected(fault: str, seconds_ago: float = 0.0) -> FaultStamp:
    """t0: call right after the fault's (last) mutating call returned; a fault that
    learns its start from AWS afterwards (an FIS action's ``startTime``) passes how long
    ago that was (clamped at 0: never in the future)."""
    return _stamp_fault(fault, "injected", max(0.0, float(seconds_ago)))


def stamp_reverted(fault: str) -> FaultStamp:
    """Call when the fault's undo (rollback) has put things back."""
    return _stamp_fault(fault, "reverted")


def stamp_skipped(fault: str, reason: str) -> FaultStamp:
    """Call when a fault action found no target and changed nothing (not a t0)."""
    return _stamp_fault(fault, "skipped", reason=reason)


def fault_stamps(clear: bool = False) -> list[FaultStamp]:
    """Fault stamps of this process, oldest first (read by the measurement)."""
    with _lock:
        stamps = list(_faults)
        if clear:
            _faults.clear()
            injected_event.clear()
    return stamps


def mark_phase(name: str, monotonic: float | None = None, fault: str | None = None) -> PhaseStamp:
    """Record that phase ``name`` (of ``fault``, when given) happened now (or at the
    given ``time.monotonic()``)."""
    if not _NAME.match(name):
        raise ValueError(f"phase name {name!r} must be snake_case (a-z, 0-9, _)")
    at = time.monotonic() if monotonic is None else monotonic
    stamp = PhaseStamp(name, at, wall_now(), fault)
    with _lock:
        _phases.append(stamp)
    return stamp


def phase_stamps(clear: bool = False) -> list[PhaseStamp]:
    """Every phase stamp of this process, oldest first."""
    with _lock:
        stamps = list(_phases)
        if clear:
            _phases.clear()
    return stamps


def clear_phases() -> None:
    """Forget phases and fault details (a new measurement starts)."""
    with _lock:
        _phases.clear()
        _details.clear()


def note_fault_detail(name: str, value: object) -> None:
    """A fault's own findings (small, JSON-serialisable) for ``recovery.fault.detail``."""
    with _lock:
        _details[name] = value


def fault_details() -> dict[str, object]:
    with _lock:
        return dict(_details)
