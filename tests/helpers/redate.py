"""Test helper: place a real journal on a simulated date by shifting every timestamp in it.

Not a product feature. A history of nightly runs spans months; a test cannot wait for
them, and the product has no honest "run as of" mode (chaoslib stamps ``start``/``end``
with the wall clock in the ``chaos`` process). So the tests make real sandbox runs and
then move each journal in time: every ISO 8601 date-time string anywhere in it
(chaoslib's ``start``/``end`` and each activity's, the recovery block's ``injected_at``,
``recovered_at``, ``sampling.started_at``, the ledger lines it quotes) is moved by the
same delta and written back in its own format (``Z`` or ``+00:00``, its own precision).
Durations and figures are untouched, so every measured value stays what the run measured.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta
from typing import Any

from reports.journal import parse_time

__all__ = ["redate_journal", "shift_timestamps"]

_INSTANT = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?P<frac>\.\d{1,6})?(?P<zone>Z|[+-]\d{2}:\d{2})?$"
)


def _shift_one(text: str, delta: timedelta) -> str:
    match = _INSTANT.match(text)
    moment = parse_time(text) if match else None
    if match is None or moment is None:
        return text
    moved = moment + delta
    frac = match.group("frac")
    out = moved.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        out += f".{moved.microsecond:06d}"[: len(frac)]
    zone = match.group("zone")
    if zone == "Z":
        out += "Z"
    elif zone:
        out += moved.strftime("%z")[:3] + ":" + moved.strftime("%z")[3:]
    return out


def shift_timestamps(value: Any, delta: timedelta) -> Any:
    """``value`` with every ISO 8601 date-time string moved by ``delta`` (a new object)."""
    if isinstance(value, dict):
        return {k: shift_timestamps(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_timestamps(v, delta) for v in value]
    if isinstance(value, str):
        return _shift_one(value, delta)
    return copy.copy(value)


def redate_journal(journal: dict[str, Any], start: datetime) -> dict[str, Any]:
    """A copy of ``journal`` whose run started within the second of ``start``, every other
    stamp moved alike: by whole seconds, so a millisecond stamp stays exact."""
    began = parse_time(journal.get("start"))
    if began is None:
        raise ValueError("the journal has no start time to move")
    delta = start - began.replace(microsecond=0)
    return shift_timestamps(journal, timedelta(seconds=round(delta.total_seconds())))
