"""Every mutating AWS call goes through :func:`journaled`: ledger first, then the call.

This is the single place where "recorded before it happens" is enforced, and where a run
that has begun its undo refuses any new change (:func:`close_mutations`): a fault action
still running on another thread (a background activity, or the method while a stop
alarm's undo runs) cannot change AWS behind the undo. A mutation made
by somebody else's action (a chaostoolkit-aws action the safety control adopts) is
recorded the same way, in two halves: :func:`record_intent` before the action runs and
:meth:`RecordedIntent.finish` after it. The fault stamps (t0) live in the core layer's
timeline (:mod:`chaosaws_ext.core.timeline`) and are re-exported here, where the faults
have always found them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration

from chaosaws_ext.core.timeline import (
    FaultStamp,
    fault_stamps,
    injected_event,
    stamp_injected,
    stamp_reverted,
    stamp_skipped,
)
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import current_run

__all__ = [
    "journaled",
    "close_mutations",
    "open_mutations",
    "MutationsClosed",
    "record_intent",
    "RecordedIntent",
    "FaultStamp",
    "stamp_injected",
    "stamp_reverted",
    "stamp_skipped",
    "fault_stamps",
    "injected_event",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RecordedIntent:
    """A ledger entry whose call is made elsewhere: its outcome is recorded by
    :meth:`finish`, and a successful one stamps the fault's injection (t0)."""

    ledger: Ledger
    entry_id: str
    fault: str
    on_injected: Callable[[FaultStamp], None] | None = None

    def finish(self, ok: bool, detail: Any = None) -> FaultStamp | None:
        self.ledger.outcome(self.entry_id, ok=ok, detail=detail)
        if not ok:
            return None
        stamp = stamp_injected(self.fault)
        if self.on_injected is not None:
            self.on_injected(stamp)
        return stamp


# How long the undo waits for changes already under way (each is one AWS call, or a
# short call-and-wait such as a Route 53 change until INSYNC, "generally within 60
# seconds": Route 53 API Reference, GetChange) before it undoes what is recorded.
DRAIN_SECONDS = 120.0


class MutationsClosed(ActivityFailed):
    """A change asked for after the run began its undo: refused, nothing recorded."""


class _Gate:
    """One run's admission of new changes: open until the undo closes it."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.in_flight = 0
        self.closed: str | None = None  # why (the undo's reason)


_gates: dict[str, _Gate] = {}
_gates_lock = threading.Lock()


def _gate(run_id: str) -> _Gate:
    with _gates_lock:
        return _gates.setdefault(run_id, _Gate())


@contextmanager
def _admitted(run_id: str, what: str, hold: bool) -> Iterator[None]:
    """Refuse ``what`` if the run is closed; with ``hold``, count it in flight until the
    block ends, so :func:`close_mutations` waits for it."""
    gate = _gate(run_id)
    with gate.condition:
        if gate.closed is not None:
            raise MutationsClosed(
                f"{what}: refused, run {run_id} is undoing its changes ({gate.closed}); "
                "nothing was changed"
            )
        if hold:
            gate.in_flight += 1
    try:
        yield
    finally:
        if hold:
            with gate.condition:
                gate.in_flight -= 1
                gate.condition.notify_all()


def open_mutations(configuration: Configuration | None = None) -> None:
    """The run (just started) admits changes: a run id used again starts open."""
    run = current_run(configuration)
    with _gates_lock:
        _gates[run.run_id] = _Gate()


def close_mutations(
    reason: str, configuration: Configuration | None = None, wait_s: float = DRAIN_SECONDS
) -> int:
    """From now on the run refuses every new change (:class:`MutationsClosed`); wait, at
    most ``wait_s``, for the ones under way to be recorded with their outcome, so the
    undo that follows sees them. Returns how many were still under way at the bound."""
    run = current_run(configuration)
    gate = _gate(run.run_id)
    deadline = time.monotonic() + max(0.0, wait_s)
    with gate.condition:
        if gate.closed is None:
            gate.closed = reason
        while gate.in_flight and time.monotonic() < deadline:
            gate.condition.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        left = gate.in_flight
    if left:
        logger.error("undo: %d change(s) still under way after %.0f s", left, wait_s)
    return left


def record_intent(
    *,
    fault: str,
    region: str,
    resource: str,
    change: str,
    undoer: str,
    undo_args: dict[str, Any],
    undo_describe: str,
    configuration: Configuration | None = None,
) -> RecordedIntent:
    """Record the intent and its undo (fsync'd) before a call made elsewhere; refused
    (:class:`MutationsClosed`) once the run began its undo."""
    run = current_run(configuration)
    with _admitted(run.run_id, f"{fault}: {change}", hold=False):
        ledger = Ledger(run.ledger_path)
        entry_id = ledger.record(
            run_id=run.run_id,
            experiment=run.experiment,
            fault=fault,
            region=region,
            resource=resource,
            change=change,
            undoer=undoer,
            undo_args=undo_args,
            undo_describe=undo_describe,
        )
        return RecordedIntent(ledger=ledger, entry_id=entry_id, fault=fault)


def journaled(
    *,
    fault: str,
    region: str,
    resource: str,
    change: str,
    undoer: str,
    undo_args: dict[str, Any],
    undo_describe: str,
    call: Callable[[], T],
    configuration: Configuration | None = None,
) -> T:
    """Record the intent and its undo (fsync'd), make the call, record the outcome; all
    of it or nothing once the run began its undo (which waits for a call under way)."""
    run = current_run(configuration)
    # held in flight from before the intent to the outcome: an undo waits for all of it
    with _admitted(run.run_id, f"{fault}: {change}", hold=True):
        intent = record_intent(
            fault=fault,
            region=region,
            resource=resource,
            change=change,
            undoer=undoer,
            undo_args=undo_args,
            undo_describe=undo_describe,
            configuration=configuration,
        )
        try:
            result = call()
        except Exception as error:
            intent.ledger.outcome(intent.entry_id, ok=False, detail=str(error))
            raise
        intent.ledger.outcome(intent.entry_id, ok=True)
        return result
