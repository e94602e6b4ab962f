"""Every mutating AWS call goes through :func:`journaled`: ledger first, then the call.

This is the single place where "recorded before it happens" is enforced, and where the
fault time t0 is stamped for the measurement (see :mod:`chaosaws_ext.runcontext`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chaoslib.types import Configuration

from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import current_run
from chaosaws_ext.timestamps import iso_utc

__all__ = [
    "journaled",
    "FaultStamp",
    "stamp_injected",
    "stamp_reverted",
    "fault_stamps",
    "injected_event",
]

logger = logging.getLogger("chaosaws_ext")
T = TypeVar("T")


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
    """Record the intent and its undo (fsync'd), make the call, record the outcome."""
    run = current_run(configuration)
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
    try:
        result = call()
    except Exception as error:
        ledger.outcome(entry_id, ok=False, detail=str(error))
        raise
    ledger.outcome(entry_id, ok=True)
    return result


@dataclass(frozen=True)
class FaultStamp:
    fault: str
    event: str  # "injected" or "reverted"
    monotonic: float
    wall: str


_stamps: list[FaultStamp] = []
injected_event = threading.Event()  # set at the first injection: starts the dead-man's switch


def _stamp(fault: str, event: str) -> FaultStamp:
    stamp = FaultStamp(
        fault=fault,
        event=event,
        monotonic=time.monotonic(),
        wall=iso_utc(),
    )
    _stamps.append(stamp)
    if event == "injected":
        injected_event.set()
    logger.info("fault %s %s at %s", fault, event, stamp.wall)
    return stamp


def stamp_injected(fault: str) -> FaultStamp:
    """t0: call right after the fault's (last) mutating call returned."""
    return _stamp(fault, "injected")


def stamp_reverted(fault: str) -> FaultStamp:
    """Call when the fault's undo (rollback) has put things back."""
    return _stamp(fault, "reverted")


def fault_stamps(clear: bool = False) -> list[FaultStamp]:
    """Stamps of this process, oldest first (read by the measurement control)."""
    stamps = list(_stamps)
    if clear:
        _stamps.clear()
        injected_event.clear()
    return stamps
