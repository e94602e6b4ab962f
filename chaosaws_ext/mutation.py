"""Every mutating AWS call goes through :func:`journaled`: ledger first, then the call.

This is the single place where "recorded before it happens" is enforced. The fault
stamps (t0) live in the core layer's timeline (:mod:`chaosaws_ext.core.timeline`) and are
re-exported here, where the faults have always found them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from chaoslib.types import Configuration

from chaosaws_ext.core.timeline import (
    FaultStamp,
    fault_stamps,
    injected_event,
    stamp_injected,
    stamp_reverted,
)
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import current_run

__all__ = [
    "journaled",
    "FaultStamp",
    "stamp_injected",
    "stamp_reverted",
    "fault_stamps",
    "injected_event",
]

logger = logging.getLogger(__name__)
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
