"""The append-only, fsync'd ledger that makes every fault undoable after a crash.

One JSON object per line. Before a mutating AWS call, an ``intent`` line records the
resource, the change and the exact undo (an undoer name from :mod:`chaosaws_ext.undo`
plus its arguments, keyed by stable ids). After the call an ``applied`` or ``failed``
line follows, and once undone a ``reverted`` line. An entry is *unreverted* until its
``reverted`` line exists, whatever the outcome of the call: a call that failed or was
killed half-way may still have changed something, and every undo is idempotent.
A line torn by a crash is skipped on reading and never glued to the next record.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosaws_ext.core.clock import iso_utc

__all__ = ["Ledger", "LedgerEntry", "LedgerError"]

logger = logging.getLogger(__name__)


class LedgerError(Exception):
    """The ledger file cannot be read or written."""


def _now() -> str:
    return iso_utc()


@dataclass
class LedgerEntry:
    id: str
    run_id: str
    experiment: str
    fault: str
    region: str
    resource: str
    change: str
    undo: dict[str, Any]
    recorded_at: str
    outcome: str | None = None
    outcome_detail: Any = None
    reverted_at: str | None = None
    revert_detail: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def reverted(self) -> bool:
        return self.reverted_at is not None

    def describe(self) -> str:
        how = self.undo.get("describe") or self.undo.get("undoer")
        return f"[{self.fault}] {self.resource}: {self.change}; undo: {how}"


class Ledger:
    """A ledger file. Safe to share between threads of one process."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self._torn_tail():  # a crash mid-write: never glue this record onto it
                    logger.warning("ledger %s: ends in a torn line; starting a new one", self.path)
                    line = "\n" + line
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as error:
                raise LedgerError(f"cannot write ledger {self.path}: {error.strerror}") from error

    def _torn_tail(self) -> bool:
        """True when the file does not end with a newline (a write was cut short)."""
        try:
            with self.path.open("rb") as handle:
                if handle.seek(0, os.SEEK_END) == 0:
                    return False
                handle.seek(-1, os.SEEK_END)
                return handle.read(1) != b"\n"
        except FileNotFoundError:
            return False

    def record(
        self,
        *,
        run_id: str,
        experiment: str,
        fault: str,
        region: str,
        resource: str,
        change: str,
        undoer: str,
        undo_args: dict[str, Any],
        undo_describe: str,
        **extra: Any,
    ) -> str:
        """Write the intent line (fsync'd) and return the entry id. Call BEFORE mutating."""
        entry_id = uuid.uuid4().hex[:12]
        self._append(
            {
                "event": "intent",
                "id": entry_id,
                "at": _now(),
                "run_id": run_id,
                "experiment": experiment,
                "fault": fault,
                "region": region,
                "resource": resource,
                "change": change,
                "undo": {"undoer": undoer, "args": undo_args, "describe": undo_describe},
                "extra": extra,
            }
        )
        logger.info("ledger %s: %s %s (%s)", entry_id, resource, change, fault)
        return entry_id

    def outcome(self, entry_id: str, ok: bool, detail: Any = None) -> None:
        """Record whether the mutating call of ``entry_id`` succeeded."""
        self._append(
            {"event": "applied" if ok else "failed", "id": entry_id, "at": _now(), "detail": detail}
        )

    def mark_reverted(self, entry_id: str, detail: Any = None) -> None:
        """Record that ``entry_id`` was undone (it is no longer unreverted)."""
        self._append({"event": "reverted", "id": entry_id, "at": _now(), "detail": detail})

    def entries(self) -> list[LedgerEntry]:
        """Fold the lines into entries, in recording order. A torn last line is ignored."""
        if not self.path.exists():
            return []
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as error:
            raise LedgerError(f"cannot read ledger {self.path}: {error.strerror}") from error
        by_id: dict[str, LedgerEntry] = {}
        lines = text.splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                # a record cut short by a crash (the last line, or one a later append
                # started a new line after): a torn intent was never acted on, and a
                # torn outcome only means the (idempotent) undo runs again
                if number == len(lines) or line.startswith('{"'):
                    logger.warning("ledger %s: ignoring torn line %d", self.path, number)
                    continue
                raise LedgerError(
                    f"ledger {self.path} line {number} is not JSON: {error}"
                ) from error
            event, entry_id = record.get("event"), record.get("id")
            if event == "intent":
                by_id[entry_id] = LedgerEntry(
                    id=entry_id,
                    run_id=record["run_id"],
                    experiment=record.get("experiment", ""),
                    fault=record["fault"],
                    region=record.get("region", ""),
                    resource=record["resource"],
                    change=record["change"],
                    undo=record["undo"],
                    recorded_at=record["at"],
                    extra=record.get("extra") or {},
                )
            elif entry_id in by_id:
                entry = by_id[entry_id]
                if event in ("applied", "failed"):
                    entry.outcome, entry.outcome_detail = event, record.get("detail")
                elif event == "reverted":
                    entry.reverted_at, entry.revert_detail = record["at"], record.get("detail")
        return list(by_id.values())

    def unreverted(self, run_id: str | None = None, fault: str | None = None) -> list[LedgerEntry]:
        """Entries not undone yet (of one run / one fault when given), in recording order."""
        return [
            e
            for e in self.entries()
            if not e.reverted
            and (run_id is None or e.run_id == run_id)
            and (fault is None or e.fault == fault)
        ]
