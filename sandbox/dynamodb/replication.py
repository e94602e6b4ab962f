"""DynamoDB global table replication as AWS describes it: the model, without moto.

- Replication lag: "Changes are typically replicated within a second" (Amazon DynamoDB
  Developer Guide, global tables, multi-region eventual consistency): half a second is
  our typical lag (:data:`DEFAULT_LAG_SECONDS`).
- Conflicts: "last writer wins". Every write is stamped with the wall time at which its
  region accepted it, strictly increasing in this process (:class:`AcceptClock`); a
  replicated write is applied only if it is newer than what the target holds for that
  key (:func:`is_newer`; deletes leave a tombstone version), so all regions converge on
  the last accepted write whatever the delivery order.
- MRSC (strong consistency): a write to an item that another region wrote less than
  the conflict window ago fails (:func:`conflicts`; the window stands for the
  synchronous cross-region round trip, an assumption of ours: AWS publishes no figure).
- :class:`DeliveryQueue`: due events in a bounded heap, delivered by one worker thread
  that waits on a condition (woken by new events and by ``stop``), never sleeps blindly.

:mod:`sandbox.dynamodb.replicator` applies this to moto's tables.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_CONFLICT_WINDOW_SECONDS",
    "DEFAULT_LAG_SECONDS",
    "DEFAULT_MAX_PENDING",
    "NO_VERSION",
    "AcceptClock",
    "DeliveryQueue",
    "Version",
    "conflicts",
    "is_newer",
    "key_id",
]

log = logging.getLogger(__name__)

DEFAULT_LAG_SECONDS = 0.5
DEFAULT_MAX_PENDING = 10_000
DEFAULT_CONFLICT_WINDOW_SECONDS = 0.1

Version = tuple[float, str]  # (accepted at, origin region); compared as a tuple
NO_VERSION: Version = (0.0, "")


def key_id(keys: dict[str, Any]) -> str:
    """One string per item key (DynamoDB-JSON key attributes)."""
    return json.dumps(keys, sort_keys=True)


def is_newer(version: Version, held: Version) -> bool:
    """Last writer wins: whether a replicated write of ``version`` replaces ``held``."""
    return version > held


def conflicts(held: Version, region: str, now: float, window: float) -> bool:
    """MRSC: whether a write in ``region`` at ``now`` races the unreplicated write
    ``held`` from another region."""
    accepted, origin = held
    return bool(origin) and origin != region and now - accepted < window


class AcceptClock:
    """Wall-time stamps for accepted writes, strictly increasing in this process."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._last = 0.0

    def stamp(self, region: str) -> Version:
        now = max(self._wall(), self._last + 1e-6)
        self._last = now
        return (now, region)


@dataclass(order=True)
class _Scheduled:
    due: float  # time.monotonic() when it is delivered
    order: int
    item: Any = field(compare=False)


class DeliveryQueue:
    """Deliver each item to ``deliver`` once its delay has passed, on one thread.

    At most ``max_pending`` items wait; a producer blocks up to ``enqueue_timeout``
    seconds when the queue is full, then the item is dropped (``put`` returns False).
    ``stop()`` discards what is pending and joins the thread.
    """

    def __init__(
        self,
        deliver: Callable[[Any], None],
        max_pending: int = DEFAULT_MAX_PENDING,
        enqueue_timeout: float = 5.0,
        name: str = "dynamodb-replicator",
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending >= 1")
        self._deliver_one = deliver
        self.max_pending = max_pending
        self.enqueue_timeout = enqueue_timeout
        self._name = name
        self._heap: list[_Scheduled] = []
        self._in_flight = 0
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._cond:
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.error("%s thread did not stop within %ss", self._name, timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def put(self, item: Any, due: float) -> bool:
        """Queue ``item`` for delivery at ``due`` (``time.monotonic()``); False when
        dropped because the queue stayed full."""
        deadline = time.monotonic() + self.enqueue_timeout
        with self._cond:
            while len(self._heap) >= self.max_pending and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            if self._stopping:
                return True  # discarded with everything else pending
            heapq.heappush(self._heap, _Scheduled(due, next(self._order), item))
            self._cond.notify_all()
        return True

    def pending(self) -> int:
        """Items accepted but not yet delivered."""
        with self._cond:
            return len(self._heap) + self._in_flight

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until every pending item is delivered; True when drained."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None:
                    return False
                self._cond.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    if self._heap and self._heap[0].due <= now:
                        break
                    self._cond.wait(self._heap[0].due - now if self._heap else 1.0)
                if self._stopping:
                    return
                ready = []
                now = time.monotonic()
                while self._heap and self._heap[0].due <= now:
                    ready.append(heapq.heappop(self._heap).item)
                self._in_flight = len(ready)
                self._cond.notify_all()
            try:
                for item in ready:
                    self._deliver_one(item)
            except Exception:  # noqa: BLE001 - the thread must survive a bad item
                log.exception("delivery of an item failed")
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._cond.notify_all()
