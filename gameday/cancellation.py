"""SIGINT/SIGTERM to ``gameday run``: stop the game day, never the undo.

The first signal stops the running experiment the way a CI cancel expects: the current
``chaos`` gets SIGTERM (chaos and the safety control turn it into an interruption that
rolls back and undoes the fault; unlike SIGINT it is not lost when the job was started
with SIGINT ignored), and no further experiment starts. Later signals are logged and
not forwarded, so the undo in progress is never abandoned (SIGKILL still is, and leaves
the ledger to ``gameday recover``). During sandbox start-up the signal interrupts the
start, whose cleanup removes what it created; during shutdown it only marks the run
cancelled.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import threading
from collections.abc import Iterator

__all__ = ["Cancellation", "CANCEL_SIGNALS"]

logger = logging.getLogger(__name__)
CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Cancellation:
    """What the signal handler of one ``gameday run`` knows: the signal and the child."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._forwarded = False
        self._interruptible = False

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def stopped_running(self) -> bool:
        """The signal reached the experiment attached last (it was cancelled mid-run)."""
        return self._forwarded

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def handle(self, signum: int, _frame: object = None) -> None:
        """The handler of SIGINT and SIGTERM (main thread)."""
        first = self.signum is None
        if first:
            self.signum = signum
        name = signal.Signals(signum).name
        process = self._process
        if process is not None and process.poll() is None:
            if not self._forwarded:
                self._forwarded = True
                logger.warning(
                    "%s: stopping the running experiment (its fault is undone); "
                    "no further experiment starts",
                    name,
                )
                process.send_signal(signal.SIGTERM)
            else:
                logger.warning(
                    "%s: the undo is running and is not abandoned (SIGKILL would leave "
                    "it to `gameday recover`)",
                    name,
                )
            return
        if self._interruptible:
            self._interruptible = False
            logger.warning("%s: stopping the start-up and cleaning up", name)
            raise KeyboardInterrupt(name)
        logger.warning("%s: no further experiment starts; cleaning up", name)

    def attach(self, process: subprocess.Popen[str]) -> None:
        """``process`` is the running experiment; a signal already received reaches it."""
        self._process, self._forwarded = process, False
        if self.requested and process.poll() is None:
            self._forwarded = True
            process.send_signal(signal.SIGTERM)

    def detach(self) -> None:
        self._process = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[Cancellation]:
        """Handle SIGINT/SIGTERM for the duration (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in CANCEL_SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A signal inside raises KeyboardInterrupt (a start-up whose cleanup is its own
        ``except BaseException``); one received before entry raises at once."""
        if self.requested:
            raise KeyboardInterrupt(self.signal_name)
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False
