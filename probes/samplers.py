"""Continuous data-plane sampling at a fixed cadence that a hanging target cannot stall.

A :class:`Cadence` thread ticks on a monotonic grid (default 4 Hz). Each tick hands one
check (:mod:`probes.checks`) per :class:`Sampler` to a small shared bounded thread pool
and returns at once, so a slow or hung check never delays the next tick. A check that
has not finished within its timeout (counted from its tick, queueing included) is
recorded as failed with error ``timeout``; when a sampler already has ``max_in_flight``
checks running, the tick is recorded as failed with error ``overrun`` instead of
queueing more work. The check types are re-exported here (their old home).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from chaosaws_ext.core.timeline import wall_now
from probes.checks import (
    SAMPLER_KINDS,
    Check,
    CheckFailed,
    DnsHttpCheck,
    DynamoDbCheck,
    HttpCheck,
    PostgresCheck,
    SpecError,
    TcpCheck,
    build_check,
    error_class,
)
from probes.recovery import Sample

__all__ = [
    "CheckFailed",
    "Check",
    "HttpCheck",
    "DnsHttpCheck",
    "TcpCheck",
    "PostgresCheck",
    "DynamoDbCheck",
    "Sampler",
    "Cadence",
    "SpecError",
    "build_check",
    "error_class",
    "SAMPLER_KINDS",
    "MAX_HZ",
]

logger = logging.getLogger(__name__)

MAX_HZ = 50.0  # the fastest cadence: 20 ms between ticks


@dataclass
class _Pending:
    t_mono: float
    t_wall: str
    future: Future
    done: bool = False


class Sampler:
    """Runs one check per tick on the pool and keeps the samples (thread-safe)."""

    def __init__(
        self,
        name: str,
        check: Check,
        timeout: float,
        executor: ThreadPoolExecutor,
        max_in_flight: int = 4,
        judge: bool = True,
        kind: str = "",
    ) -> None:
        self.name, self.check, self.timeout = name, check, timeout
        self.executor, self.max_in_flight, self.judge, self.kind = (
            executor,
            max_in_flight,
            judge,
            kind,
        )
        self._lock = threading.RLock()  # cancel() runs the done callback inline
        self._samples: list[Sample] = []
        self._pending: list[_Pending] = []
        self._running = 0  # futures not finished, abandoned ones included

    def warm(self) -> None:
        """Open the check's connection before sampling starts, when it has a ``warm``
        (the AWS checks); a failure is only logged: the samples will show it."""
        warm = getattr(self.check, "warm", None)
        if warm is None:
            return
        try:
            warm()
        except Exception as error:  # noqa: BLE001 - measured by the samples, not here
            logger.warning("sampler %s: warm-up call failed: %s", self.name, error)

    def tick(self, now: float) -> None:
        """Start one check (never blocks); also time out overdue ones."""
        self.sweep(now)
        wall = wall_now()
        with self._lock:
            if self._running >= self.max_in_flight:
                self._samples.append(Sample(now, wall, False, None, "overrun"))
                return
            self._running += 1
        try:
            future = self.executor.submit(self._run, now)
        except RuntimeError:  # pool shut down
            with self._lock:
                self._running -= 1
            return
        pending = _Pending(now, wall, future)
        with self._lock:
            self._pending.append(pending)
        future.add_done_callback(lambda f, p=pending: self._finish(p, f))

    def _run(self, scheduled: float) -> tuple[float, str | None]:
        start = time.monotonic()
        remaining = self.timeout - (start - scheduled)
        if remaining <= 0:
            raise CheckFailed("timeout", "queued past its timeout")
        detail = self.check(remaining)
        return time.monotonic(), detail

    def _finish(self, pending: _Pending, future: Future) -> None:
        with self._lock:
            self._running -= 1
            if pending.done:
                return
            pending.done = True
            self._pending.remove(pending)
            self._samples.append(self._sample(pending, future))

    def _sample(self, pending: _Pending, future: Future) -> Sample:
        if future.cancelled():
            return Sample(pending.t_mono, pending.t_wall, False, None, "timeout")
        error = future.exception()
        if error is not None:
            detail = None
            if isinstance(error, CheckFailed) and " via " in str(error):
                detail = str(error).rsplit(" via ", 1)[1]
            latency = (time.monotonic() - pending.t_mono) * 1000
            return Sample(
                pending.t_mono, pending.t_wall, False, round(latency, 1), error_class(error), detail
            )
        finished, detail = future.result()
        latency = (finished - pending.t_mono) * 1000
        if finished - pending.t_mono > self.timeout:
            return Sample(
                pending.t_mono, pending.t_wall, False, round(latency, 1), "timeout", detail
            )
        return Sample(pending.t_mono, pending.t_wall, True, round(latency, 1), None, detail)

    def sweep(self, now: float) -> None:
        """Record checks past their timeout as failed (the late result is ignored)."""
        with self._lock:
            for pending in [p for p in self._pending if now - p.t_mono > self.timeout]:
                pending.done = True
                self._pending.remove(pending)
                pending.future.cancel()
                self._samples.append(Sample(pending.t_mono, pending.t_wall, False, None, "timeout"))

    def oldest_pending(self) -> float | None:
        """The send time of the oldest check still running (None: none is)."""
        with self._lock:
            return min((p.t_mono for p in self._pending), default=None)

    def settled(self) -> list[Sample]:
        """Samples in time order, only up to the oldest still-running check."""
        with self._lock:
            samples = sorted(self._samples, key=lambda s: s.t_mono)
            oldest = min((p.t_mono for p in self._pending), default=None)
        if oldest is None:
            return samples
        return [s for s in samples if s.t_mono < oldest]

    def samples(self) -> list[Sample]:
        with self._lock:
            return sorted(self._samples, key=lambda s: s.t_mono)

    def finalize(self, wait: float) -> None:
        """Wait up to ``wait`` s for running checks, then time out the rest."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return
            time.sleep(0.01)
        self.sweep(math.inf)


class Cadence:
    """A thread calling ``on_tick(now_monotonic)`` every ``interval`` s on a fixed grid.

    Ticks that were missed (the process was paused) are skipped, not bunched up.
    """

    def __init__(self, interval: float, on_tick: Callable[[float], None], name: str) -> None:
        if not 1 / MAX_HZ <= interval <= 3600:
            raise SpecError(f"interval must be between {1 / MAX_HZ:g} and 3600 s, got {interval}")
        self.interval, self.on_tick = interval, on_tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"cadence-{name}", daemon=True)
        self.started_mono: float | None = None
        self.ticks = 0

    def start(self) -> None:
        self.started_mono = time.monotonic()
        self._thread.start()

    def _loop(self) -> None:
        start = self.started_mono or time.monotonic()
        index = 0
        while not self._stop.is_set():
            target = start + index * self.interval
            delay = target - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            now = time.monotonic()
            try:
                self.on_tick(now)
            except Exception:  # never let one bad tick end the sampling
                logger.exception("sampling tick failed")
            self.ticks += 1
            index = max(index + 1, math.floor((now - start) / self.interval) + 1)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
