"""Phase stamps: a fault tells the measurement when something it can see happened.

A fault calls ``mark_phase("control_plane")`` the moment it observes, for example, the
RDS instance ``available`` again; the measurement control reports every phase as seconds
since t0 in ``recovery.rto.phases`` (``control_plane_s``). Names in use:

- RDS: ``control_plane`` (instance/cluster available again), ``az_changed``
- Route 53: ``health_check_unhealthy`` (first unhealthy status seen), ``dns``
  (the answer flipped; the DNS sampler also finds this itself)
- AZ blackhole: ``blackhole_removed`` (optional; first/last failure and full
  availability are derived from the samples)
- DynamoDB: ``conflict_converged``

The first stamp of a name wins (later ones are kept in ``all_phases``). Thread-safe.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from chaosaws_ext.timestamps import iso_utc

__all__ = [
    "PhaseStamp",
    "mark_phase",
    "phase_stamps",
    "clear_phases",
    "wall_now",
    "note_fault_detail",
    "fault_details",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_lock = threading.Lock()
_stamps: list[PhaseStamp] = []
_details: dict[str, object] = {}


@dataclass(frozen=True)
class PhaseStamp:
    name: str
    monotonic: float
    wall: str


def wall_now() -> str:
    """The current wall time as ISO 8601 UTC with milliseconds (display only)."""
    return iso_utc()


def mark_phase(name: str, monotonic: float | None = None) -> PhaseStamp:
    """Record that phase ``name`` happened now (or at the given ``time.monotonic()``)."""
    if not _NAME.match(name):
        raise ValueError(f"phase name {name!r} must be snake_case (a-z, 0-9, _)")
    stamp = PhaseStamp(name, time.monotonic() if monotonic is None else monotonic, wall_now())
    with _lock:
        _stamps.append(stamp)
    return stamp


def phase_stamps(clear: bool = False) -> list[PhaseStamp]:
    """Every stamp of this process, oldest first."""
    with _lock:
        stamps = list(_stamps)
        if clear:
            _stamps.clear()
    return stamps


def clear_phases() -> None:
    with _lock:
        _stamps.clear()
        _details.clear()


def note_fault_detail(name: str, value: object) -> None:
    """A fault's own findings (small, JSON-serialisable) for ``recovery.fault.detail``,
    e.g. the DynamoDB conflict's winner and lost writes."""
    with _lock:
        _details[name] = value


def fault_details() -> dict[str, object]:
    with _lock:
        return dict(_details)
