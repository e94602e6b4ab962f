"""DynamoDB point-in-time recovery as AWS does it, where moto does not.

moto's ``RestoreTableToPointInTime`` copies the source table's items *as they are now*,
ignores ``RestoreDateTime``/``UseLatestRestorableTime``, and returns an ACTIVE table at
once; its ``DescribeContinuousBackups`` reports ``LatestRestorableDateTime`` = the moment
PITR was enabled. This emulator, installed in the moto process:

- keeps every table's item history (each put, update and delete, with its time), from a
  baseline taken when it starts (or when a table first changes), and builds a restored
  table from the history **as of the restore point**;
- reports ``EarliestRestorableDateTime`` (the baseline) and ``LatestRestorableDateTime``
  lagging the current time by :data:`LATEST_RESTORABLE_LAG_S` (scaled), and refuses a
  restore time outside that window (``InvalidRestoreTimeException``);
- keeps the restored table ``CREATING`` for the restore duration (scaled): reads and
  writes on it fail with ``ResourceNotFoundException`` and ``DeleteTable`` with
  ``ResourceInUseException`` until it is ``ACTIVE``, as on AWS.

Not emulated: transactions' writes in the history (TransactWriteItems), restore of the
secondary indexes' build time, the DELETING state of a deleted table.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.dynamodb.exceptions import (
    MockValidationException,
    PointInTimeRecoveryUnavailable,
    ResourceInUseException,
    ResourceNotFoundException,
    SourceTableNotFoundException,
    TableAlreadyExistsException,
)
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RestoredPITTable, Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from sandbox.dynamodb.moto_patch import lock as table_lock
from sandbox.lifecycle import Lifecycle
from sandbox.moto_patching import patch, restore

__all__ = [
    "LATEST_RESTORABLE_LAG_S",
    "RESTORE_DURATION_S",
    "PointInTimeRecovery",
    "TableHistory",
]

log = logging.getLogger(__name__)

# "LatestRestorableDateTime is typically 5 minutes before the current time."
# Amazon DynamoDB Developer Guide, "Point-in-time recovery for DynamoDB" (and the API
# reference's PointInTimeRecoveryDescription / DescribeContinuousBackups).
LATEST_RESTORABLE_LAG_S = 300.0
# AWS publishes no restore duration: the developer guide ("Restoring a DynamoDB table to
# a point in time") says only that restore time depends on the table's size (and that
# excluding secondary indexes makes it faster). A conservative default for a small table
# with two global secondary indexes, as the tickets table is: 20 minutes.
RESTORE_DURATION_S = 1200.0

# Changes kept per table before the oldest half is folded into the baseline (memory bound;
# AWS keeps up to 35 days, RecoveryPeriodInDays)
MAX_CHANGES = 200_000

_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


class InvalidRestoreTime(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__(_ERROR_PREFIX + "InvalidRestoreTimeException", message)


Key = tuple[DynamoType, DynamoType | None]


@dataclass
class TableHistory:
    """One table's items at ``baseline_at`` and every change since, oldest first."""

    baseline_at: float
    baseline: dict[Key, Item]
    changes: list[tuple[float, Key, Item | None]] = field(default_factory=list)

    def fold(self, keep: int) -> None:
        """Fold all but the newest ``keep`` changes into the baseline (the earliest
        restorable time moves up): a sandbox kept up for days stays bounded."""
        if len(self.changes) <= keep:
            return
        cut = len(self.changes) - keep
        self.baseline = self.as_of(self.changes[cut - 1][0])
        self.baseline_at = self.changes[cut - 1][0]
        del self.changes[:cut]

    def as_of(self, moment: float) -> dict[Key, Item]:
        """The items as they were at ``moment`` (wall seconds)."""
        items = dict(self.baseline)
        for at, key, item in self.changes:
            if at > moment:
                break
            if item is None:
                items.pop(key, None)
            else:
                items[key] = item
        return items


def _epoch(value: Any) -> float:
    """A request's timestamp (moto parses it into a datetime; naive = UTC) in seconds."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def _items_of(table: Table) -> dict[Key, Item]:
    found: dict[Key, Item] = {}
    rows: dict[Any, Any] = table.items
    for hash_key, value in rows.items():
        if table.has_range_key:
            for range_key, item in value.items():
                found[(hash_key, range_key)] = copy.deepcopy(item)
        else:
            found[(hash_key, None)] = copy.deepcopy(value)
    return found


class PointInTimeRecovery(Lifecycle):
    """The emulation (module docstring). ``time_scale`` multiplies the lag and the
    restore duration; ``restore_duration_s`` and ``latest_restorable_lag_s`` are the
    unscaled figures."""

    def __init__(
        self,
        time_scale: float = 1.0,
        restore_duration_s: float = RESTORE_DURATION_S,
        latest_restorable_lag_s: float = LATEST_RESTORABLE_LAG_S,
    ) -> None:
        if time_scale <= 0 or restore_duration_s < 0 or latest_restorable_lag_s < 0:
            raise ValueError("time_scale must be > 0, durations >= 0")
        self.restore_duration = restore_duration_s * time_scale
        self.lag = latest_restorable_lag_s * time_scale
        self._lock = threading.RLock()
        self._history: dict[int, TableHistory] = {}
        self._originals: dict[tuple[type, str], Any] = {}
        self.restores: list[dict[str, Any]] = []

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        now = time.time()
        with self._lock:
            for table in self._all_tables():
                found = TableHistory(now, _items_of(table))
                self._history[id(table)] = found
                table._pitr_history_id = id(found)  # type: ignore[attr-defined]
        self._install()

    def stop(self) -> None:
        restore(self._originals)
        with self._lock:
            self._history.clear()

    @staticmethod
    def _all_tables() -> list[Table]:
        tables: list[Table] = []
        for account in list(dynamodb_backends.keys()):
            for region in list(dynamodb_backends[account].keys()):
                tables.extend(dynamodb_backends[account][region].tables.values())
        return tables

    # -- history -------------------------------------------------------------------------
    def history(self, table: Table) -> TableHistory:
        """The history of ``table``, started now (empty baseline for a new table)."""
        with self._lock:
            found = self._history.get(id(table))
            if found is None or getattr(table, "_pitr_history_id", None) != id(found):
                found = TableHistory(time.time(), _items_of(table))
                self._history[id(table)] = found
                table._pitr_history_id = id(found)  # type: ignore[attr-defined]
            return found

    def _record(self, table: Table, key: Key) -> None:
        rows: dict[Any, Any] = table.items
        item = rows.get(key[0])
        if table.has_range_key:
            item = item.get(key[1]) if isinstance(item, dict) else None
        with self._lock:
            history = self.history(table)
            history.changes.append((time.time(), key, copy.deepcopy(item)))
            if len(history.changes) > MAX_CHANGES:
                history.fold(MAX_CHANGES // 2)

    def _key_of(self, table: Table, attrs: dict[str, Any]) -> Key:
        hash_key = DynamoType(attrs[table.hash_key_attr])
        range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
        return hash_key, range_key

    # -- restored tables -----------------------------------------------------------------
    def _creating(self, table: Table) -> bool:
        ready_at = getattr(table, "_pitr_ready_mono", None)  # monotonic: a duration
        return ready_at is not None and time.monotonic() < ready_at

    def _window(self, table: Table) -> tuple[float, float]:
        """(earliest, latest) restorable wall seconds of ``table``."""
        enabled = table.continuous_backups["PointInTimeRecoveryDescription"]
        since = float(enabled.get("EarliestRestorableDateTime") or 0.0)
        earliest = max(since, self.history(table).baseline_at)
        return earliest, max(earliest, time.time() - self.lag)

    def _restore(self, handler: DynamoHandler) -> Any:
        body = handler.body
        backend: DynamoDBBackend = handler.dynamodb_backend
        source_name = (
            body.get("SourceTableName") or str(body.get("SourceTableArn", "")).split("/")[-1]
        )
        target_name = body.get("TargetTableName")
        try:
            source = backend.get_table(source_name)
        except ResourceNotFoundException:
            raise SourceTableNotFoundException(source_name) from None
        if target_name in backend.tables:
            raise TableAlreadyExistsException(target_name)
        pitr = source.continuous_backups["PointInTimeRecoveryDescription"]
        if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
            raise PointInTimeRecoveryUnavailable(source_name)
        # moto deep-copies the source: not while the replicator's writers change it
        with table_lock, self._lock:
            earliest, latest = self._window(source)
            if body.get("UseLatestRestorableTime"):
                moment = latest
            elif body.get("RestoreDateTime") is not None:
                moment = _epoch(body["RestoreDateTime"])
            else:
                raise MockValidationException(
                    "Either RestoreDateTime or UseLatestRestorableTime must be specified"
                )
            if not earliest <= moment <= latest:
                raise InvalidRestoreTime(
                    "Restore time must be between the earliest and the latest restorable "
                    "date time of the source table"
                )
            items = self.history(source).as_of(moment)
            table: Any = RestoredPITTable(  # type: ignore[abstract]
                target_name, account_id=backend.account_id, region=backend.region_name,
                source=source,
            )  # fmt: skip
            table.items.clear()
            for (hash_key, range_key), item in items.items():
                if range_key is not None:
                    table.items[hash_key][range_key] = copy.deepcopy(item)
                else:
                    table.items[hash_key] = copy.deepcopy(item)
            table.restore_date_time = moment  # epoch seconds, as DynamoDB's JSON has it
            # the restore window on the monotonic clock (a wall-clock step must not end it
            # early); the wall time only for the log
            table._pitr_ready_mono = time.monotonic() + self.restore_duration  # type: ignore[attr-defined]
            table._pitr_ready_at = time.time() + self.restore_duration  # type: ignore[attr-defined]
            backend.tables[target_name] = table
            self._history[id(table)] = TableHistory(time.time(), _items_of(table))
            table._pitr_history_id = id(self._history[id(table)])  # type: ignore[attr-defined]
            self.restores.append(
                {"source": source_name, "target": target_name, "restore_point": moment,
                 "items": len(items), "ready_at": table._pitr_ready_at}  # type: ignore[attr-defined]
            )  # fmt: skip
        log.info("restoring %s -> %s as of %.3f (%d items)", source_name, target_name, moment,
                 len(items))  # fmt: skip
        return DynamoResult(table.describe())

    # -- the patches ---------------------------------------------------------------------
    def _install(self) -> None:
        emulator = self

        def recording_put(original: Callable[..., Any]) -> Callable[..., Any]:
            def put_item(table: Table, item_attrs: dict[str, Any], *args: Any, **kw: Any) -> Any:
                emulator.history(table)
                result = original(table, item_attrs, *args, **kw)
                emulator._record(table, emulator._key_of(table, item_attrs))
                return result

            return put_item

        def recording_delete(original: Callable[..., Any]) -> Callable[..., Any]:
            def delete_item(table: Table, hash_key: Any, range_key: Any = None) -> Any:
                emulator.history(table)
                result = original(table, hash_key, range_key)
                emulator._record(table, (hash_key, range_key if range_key else None))
                return result

            return delete_item

        def recording_update(original: Callable[..., Any]) -> Callable[..., Any]:
            def update_item(backend: DynamoDBBackend, table_name: str, key: Any, *a: Any,
                            **kw: Any) -> Any:  # fmt: skip
                table = backend.get_table(table_name)
                emulator._refuse_creating(table)
                emulator.history(table)
                result = original(backend, table_name, key, *a, **kw)
                emulator._record(table, emulator._key_of(table, key))
                return result

            return update_item

        def refusing(original: Callable[..., Any]) -> Callable[..., Any]:
            def call(backend: DynamoDBBackend, table_name: str, *a: Any, **kw: Any) -> Any:
                if table_name in backend.tables:
                    emulator._refuse_creating(backend.tables[table_name])
                return original(backend, table_name, *a, **kw)

            return call

        def serialised(original: Callable[..., Any]) -> Callable[..., Any]:
            """moto's CreateBackup deep-copies the table: a concurrent write fails it
            ("dictionary changed size during iteration"); serialised with the writes."""

            def call(*args: Any, **kwargs: Any) -> Any:
                with table_lock:
                    return original(*args, **kwargs)

            return call

        def delete_table(original: Callable[..., Any]) -> Callable[..., Any]:
            def call(backend: DynamoDBBackend, name: str, *a: Any, **kw: Any) -> Any:
                table = backend.tables.get(name)
                if table is not None and emulator._creating(table):
                    raise ResourceInUseException(
                        f"Attempt to change a resource which is still in use: Table is being "
                        f"created: {name}"
                    )
                return original(backend, name, *a, **kw)

            return call

        def describe(original: Callable[..., Any]) -> Callable[..., Any]:
            def call(table: Table, base_key: str = "TableDescription") -> dict[str, Any]:
                result = original(table, base_key)
                if getattr(table, "_pitr_ready_at", None) is not None:
                    creating = emulator._creating(table)
                    result[base_key]["TableStatus"] = "CREATING" if creating else "ACTIVE"
                    summary = result[base_key].get("RestoreSummary") or {}
                    summary["RestoreInProgress"] = creating
                    summary["RestoreDateTime"] = getattr(table, "restore_date_time", None)
                    result[base_key]["RestoreSummary"] = summary
                return result

            return call

        def continuous_backups(original: Callable[..., Any]) -> Callable[..., Any]:
            def call(backend: DynamoDBBackend, table_name: str) -> dict[str, Any]:
                result = copy.deepcopy(original(backend, table_name))
                pitr = result.get("PointInTimeRecoveryDescription") or {}
                if pitr.get("PointInTimeRecoveryStatus") == "ENABLED":
                    earliest, latest = emulator._window(backend.get_table(table_name))
                    pitr["EarliestRestorableDateTime"] = earliest
                    pitr["LatestRestorableDateTime"] = latest
                return result

            return call

        patch(self._originals, Table, "put_item", recording_put)
        patch(self._originals, Table, "delete_item", recording_delete)
        patch(self._originals, DynamoDBBackend, "update_item", recording_update)
        for name in ("get_item", "scan", "query", "put_item", "delete_item"):
            patch(self._originals, DynamoDBBackend, name, refusing)
        patch(self._originals, DynamoDBBackend, "delete_table", delete_table)
        patch(self._originals, DynamoDBBackend, "create_backup", serialised)
        patch(self._originals, RestoredPITTable, "describe", describe)
        patch(self._originals, DynamoDBBackend, "describe_continuous_backups", continuous_backups)
        patch(
            self._originals,
            DynamoHandler,
            "restore_table_to_point_in_time",
            lambda _original: lambda handler: self._restore(handler),
        )

    def _refuse_creating(self, table: Table) -> None:
        """AWS: "The operation tried to access a nonexistent table or index. The resource
        might not be specified correctly, or its status might not be ACTIVE."
        (DynamoDB API reference, common error ResourceNotFoundException)."""
        if self._creating(table):
            raise ResourceNotFoundException(
                "Requested resource not found: the table's status is CREATING, not ACTIVE"
            )
