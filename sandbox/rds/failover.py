"""RDS failover and reboot as AWS times them: the model, without moto.

- the windows: a Multi-AZ DB instance failover "typically completes within 60-120
  seconds" -> midpoint 90 s; a Multi-AZ DB cluster fails over "typically under 35
  seconds" -> 30 s (RDS User Guide; Aurora failover is of the same order); a plain reboot
  has no published figure: 60 s, an assumption of the same order. ``time_scale``
  multiplies them all (:class:`FailoverWindows`);
- the standby AZ of an instance (:func:`other_az`) and the RDS event messages AWS
  publishes for the steps;
- :class:`PendingWindows`: one transition in flight per DB, ended by a timer thread
  after its window (no sleep loops); ``settle()`` ends every pending one at once;
- :class:`ChangeListeners`: who hears that a DB left or regained availability.

:mod:`sandbox.rds.moto_patch` applies this to moto's RDS backends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "CLUSTER_FAILOVER_SECONDS",
    "INSTANCE_FAILOVER_SECONDS",
    "MSG_INSTANCE_FAILOVER_COMPLETED",
    "MSG_INSTANCE_FAILOVER_STARTED",
    "MSG_INSTANCE_RESTARTED",
    "MSG_REBOOT_STARTED",
    "REBOOT_SECONDS",
    "ChangeCallback",
    "ChangeListeners",
    "FailoverWindows",
    "PendingWindows",
    "other_az",
]

log = logging.getLogger(__name__)

INSTANCE_FAILOVER_SECONDS = 90.0
CLUSTER_FAILOVER_SECONDS = 30.0
REBOOT_SECONDS = 60.0

MSG_INSTANCE_FAILOVER_STARTED = "Multi-AZ instance failover started."
MSG_INSTANCE_RESTARTED = "DB instance restarted"
MSG_INSTANCE_FAILOVER_COMPLETED = "Multi-AZ instance failover completed."
MSG_REBOOT_STARTED = "DB instance shutdown"

# ChangeCallback(db_id, available, writer_az): called when a DB leaves or regains
# availability, from the request thread (start) or a timer thread (end). Keep it quick.
ChangeCallback = Callable[[str, bool, str], None]


def other_az(az: str) -> str:
    """The standby AZ moto never assigns: the next AZ letter of the same region."""
    region, letter = az[:-1], az[-1:]
    return f"{region}{'b' if letter == 'a' else 'a'}"


@dataclass(frozen=True)
class FailoverWindows:
    """How long each transition keeps a DB unavailable, in (scaled) seconds."""

    instance_failover: float
    reboot: float
    cluster_failover: float

    @classmethod
    def scaled(
        cls,
        failover_seconds: float = INSTANCE_FAILOVER_SECONDS,
        reboot_seconds: float = REBOOT_SECONDS,
        cluster_failover_seconds: float = CLUSTER_FAILOVER_SECONDS,
        time_scale: float = 1.0,
    ) -> FailoverWindows:
        if time_scale <= 0 or min(failover_seconds, reboot_seconds, cluster_failover_seconds) < 0:
            raise ValueError("windows must be >= 0 and time_scale > 0")
        return cls(
            failover_seconds * time_scale,
            reboot_seconds * time_scale,
            cluster_failover_seconds * time_scale,
        )


@dataclass
class _Pending:
    """One transition in flight: what to do at the end of its window."""

    db_id: str
    finish: Callable[[], None]
    timer: threading.Timer | None = None
    done: threading.Event = field(default_factory=threading.Event)


class PendingWindows:
    """At most one transition per DB id; each ends ``window`` seconds after it began by
    running its ``finish`` step (under ``lock``), then ``on_end(db_id)`` (outside it)."""

    def __init__(self, lock: threading.RLock, on_end: Callable[[str], None]) -> None:
        self._lock = lock
        self._on_end = on_end
        self._pending: dict[str, _Pending] = {}
        self._timers: list[threading.Timer] = []

    def is_pending(self, db_id: str) -> bool:
        with self._lock:
            return db_id in self._pending

    def begin(self, db_id: str, window: float, finish: Callable[[], None]) -> None:
        item = _Pending(db_id=db_id, finish=finish)
        with self._lock:
            self._pending[db_id] = item
            item.timer = threading.Timer(window, self._complete, args=(item,))
            item.timer.daemon = True
            item.timer.name = f"rds-failover-{db_id}"
            item.timer.start()
            self._timers = [t for t in self._timers if t.is_alive()] + [item.timer]

    def settle(self) -> None:
        """End every pending transition now (their DBs reach the end state)."""
        with self._lock:
            pending = list(self._pending.values())
        for item in pending:
            if item.timer is not None:
                item.timer.cancel()
            self._complete(item)
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            if timer is not threading.current_thread():
                timer.join(timeout=1.0)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no window is pending (bounded). True when idle."""
        with self._lock:
            pending = list(self._pending.values())
        return all(item.done.wait(timeout) for item in pending)

    def _complete(self, item: _Pending) -> None:
        with self._lock:
            if self._pending.get(item.db_id) is not item or item.done.is_set():
                return
            try:
                item.finish()
            finally:
                del self._pending[item.db_id]
                item.done.set()
        self._on_end(item.db_id)


class ChangeListeners:
    """Callbacks told ``(db_id, available, writer_az)``; a broken one is logged, never
    raised (it must not break "AWS")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[ChangeCallback] = []

    def add(self, callback: ChangeCallback) -> Callable[[], None]:
        """Subscribe; returns a function that removes the subscription."""
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    def notify(self, db_id: str, available: bool, az: str) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(db_id, available, az)
            except Exception:  # noqa: BLE001 - a broken listener must not break "AWS"
                log.exception("RDS failover listener failed for %s", db_id)
