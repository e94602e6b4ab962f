"""Every mutating AWS call goes through :func:`journaled`: ledger first, then the call.

This is the single place where "recorded before it happens" is enforced. A mutation made
by somebody else's action (a chaostoolkit-aws action the safety control adopts) is
recorded the same way, in two halves: :func:`record_intent` before the action runs and
:meth:`RecordedIntent.finish` after it. The fault stamps (t0) live in the core layer's
timeline (:mod:`chaosaws_ext.core.timeline`) and are re-exported here, where the faults
have always found them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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
    """Record the intent and its undo (fsync'd) before a call made elsewhere."""
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
    """Record the intent and its undo (fsync'd), make the call, record the outcome."""
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
