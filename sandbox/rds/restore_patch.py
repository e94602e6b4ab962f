"""RDS restores as AWS does them, added to moto (which restores instantly and empty).

moto 5.2.5 answers ``RestoreDBInstanceToPointInTime`` and
``RestoreDBInstanceFromDBSnapshot`` with an instance that is ``available`` at once,
ignores ``RestoreTime`` (any time is accepted) and describes ``LatestRestorableTime``
as "now". :class:`RdsRestoreEmulator` wraps the RDS backends of THIS process so that:

- ``LatestRestorableTime`` lags as AWS documents (:mod:`sandbox.rds.restore`);
- a point-in-time restore refuses a ``RestoreTime`` after the latest restorable time
  (or before the instance existed), and ``UseLatestRestorableTime`` restores to it;
- the new instance is ``creating`` for the restore window, then ``available``, and its
  described ``Endpoint`` is a loopback address of its own where a real PostgreSQL
  answers with the source's data as of the restore point
  (:class:`sandbox.rds.restored_db.RestoredDatabase`; the snapshot's original creation
  time for a snapshot restore, which a copied snapshot keeps);
- ``DeleteDBInstance`` of a restored instance stops its database and frees its address
  (moto removes the instance at once; AWS shows ``deleting`` for minutes first: not
  emulated).

This module is "AWS": it imports nothing from chaosaws_ext, probes or gameday.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.exceptions import InvalidParameterCombination, InvalidParameterValue
from moto.rds.models import DBInstance

from sandbox.lifecycle import Lifecycle
from sandbox.rds.endpoint import DescribedEndpoints
from sandbox.rds.restore import (
    LOG_UPLOAD_INTERVAL_S,
    RESTORE_SECONDS,
    RestoreTimings,
    latest_restorable_time,
    restore_time_problem,
)
from sandbox.rds.restored_db import RestoredDatabase

__all__ = ["RdsRestoreEmulator"]

logger = logging.getLogger(__name__)

_MISSING = object()
_WRAPPED = (
    "restore_db_instance_to_point_in_time",
    "restore_db_instance_from_db_snapshot",
    "delete_db_instance",
)
_RESTORE_ONLY_PARAMETERS = ("restore_time", "use_latest_restorable_time")
_STOP_JOIN_S = 30.0


def _utc(moment: Any) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class _Restore:
    """One restore in flight or done: its instance, restore point and database."""

    def __init__(self, db: Any, point: datetime, database: RestoredDatabase | None) -> None:
        self.db, self.point, self.database = db, point, database
        self.thread: threading.Thread | None = None


class RdsRestoreEmulator(Lifecycle):
    """Restore windows, ``LatestRestorableTime`` and restored content for moto's RDS.

    ``source_dsns`` maps a source DB instance id to the libpq DSN of its real
    PostgreSQL (the restored database is rebuilt from it; without one the restored
    instance has no database behind its endpoint). ``endpoints`` describes the
    restored instances' addresses (one of its own when None). ``workdir`` holds the
    restored data directories.
    """

    _class_lock = threading.Lock()
    _active: list[RdsRestoreEmulator] = []
    _original_lrt: Any = None

    def __init__(
        self,
        restore_seconds: float = RESTORE_SECONDS,
        log_upload_seconds: float = LOG_UPLOAD_INTERVAL_S,
        time_scale: float = 1.0,
        account_id: str = DEFAULT_ACCOUNT_ID,
        regions: Iterable[str] = ("eu-south-1", "eu-west-1"),
        workdir: str | Path | None = None,
        source_dsns: dict[str, str] | None = None,
        endpoints: DescribedEndpoints | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.timings = RestoreTimings.scaled(restore_seconds, log_upload_seconds, time_scale)
        self.account_id = account_id
        self.regions = tuple(regions)
        self.workdir = Path(workdir) if workdir is not None else None
        self.source_dsns = dict(source_dsns or {})
        self._own_endpoints = endpoints is None
        self.endpoints = endpoints or DescribedEndpoints()
        self.now = now
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._installed: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._epochs: dict[tuple[str, str], datetime] = {}
        self.restores: dict[tuple[str, str], _Restore] = {}

    # -- install / uninstall -------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._stopping.clear()
            if self._own_endpoints:
                self.endpoints.start()
            started = self.now()
            for region in self.regions:
                backend = get_backend("rds")[self.account_id][region]
                for db_id in backend.databases:
                    self._epochs.setdefault((region, db_id), started)
                if getattr(backend.__dict__.get("delete_db_instance"), "emulator", None) is self:
                    continue
                saved = {name: backend.__dict__.get(name, _MISSING) for name in _WRAPPED}
                originals = {name: getattr(backend, name) for name in _WRAPPED}
                wrappers = {
                    "restore_db_instance_to_point_in_time": self._wrap_pitr(region, originals),
                    "restore_db_instance_from_db_snapshot": self._wrap_snapshot(
                        region, backend, originals
                    ),
                    "delete_db_instance": self._wrap_delete(region, originals),
                }
                for name, wrapper in wrappers.items():
                    wrapper.emulator = self  # type: ignore[attr-defined]
                    setattr(backend, name, wrapper)
                self._installed[region] = (backend, saved)
        cls = type(self)
        with cls._class_lock:
            if self not in cls._active:
                if not cls._active:
                    cls._original_lrt = DBInstance.__dict__["latest_restorable_time"]
                    DBInstance.latest_restorable_time = property(cls._described_lrt)  # type: ignore[method-assign,assignment]
                cls._active.append(self)
        logger.info(
            "RDS restore emulation on (%s): restore %.2fs, log upload every %.2fs",
            ", ".join(self.regions),
            self.timings.restore,
            self.timings.log_upload,
        )

    def stop(self) -> None:
        """End every restore (its database stopped), restore moto (idempotent)."""
        self._stopping.set()
        with self._lock:
            restores = list(self.restores.values())
        for restore in restores:
            if restore.thread is not None:
                restore.thread.join(timeout=_STOP_JOIN_S)
            if restore.database is not None:
                restore.database.stop()
        cls = type(self)
        with cls._class_lock:
            if self in cls._active:
                cls._active.remove(self)
                if not cls._active and cls._original_lrt is not None:
                    DBInstance.latest_restorable_time = cls._original_lrt  # type: ignore[method-assign]
                    cls._original_lrt = None
        with self._lock:
            for backend, saved in self._installed.values():
                for name, value in saved.items():
                    if value is _MISSING:
                        backend.__dict__.pop(name, None)
                    else:
                        setattr(backend, name, value)
            self._installed.clear()
            self.restores.clear()
        if self._own_endpoints:
            self.endpoints.stop()

    # -- LatestRestorableTime --------------------------------------------------------------
    @classmethod
    def _described_lrt(cls, db: Any) -> datetime:
        for emulator in reversed(cls._active):
            if str(db.account_id) == emulator.account_id and db.region in emulator.regions:
                return emulator.latest_restorable(str(db.region), str(db.db_instance_identifier))
        return datetime.now(UTC)

    def latest_restorable(self, region: str, db_id: str) -> datetime:
        """The instance's ``LatestRestorableTime`` now (the last log upload)."""
        now = self.now()
        with self._lock:
            epoch = self._epochs.setdefault((region, db_id), now)
        return latest_restorable_time(epoch, now, self.timings.log_upload)

    # -- wrappers ---------------------------------------------------------------------------
    def _wrap_pitr(self, region: str, originals: dict[str, Any]) -> Callable[..., Any]:
        original = originals["restore_db_instance_to_point_in_time"]

        def restore_db_instance_to_point_in_time(
            source_db_identifier: str, target_db_identifier: str, overrides: dict[str, Any]
        ) -> Any:
            overrides = dict(overrides)
            asked = overrides.get("restore_time")
            use_latest = bool(overrides.get("use_latest_restorable_time"))
            for name in _RESTORE_ONLY_PARAMETERS:
                overrides.pop(name, None)
            if asked and use_latest:
                raise InvalidParameterCombination(
                    "Cannot specify both RestoreTime and UseLatestRestorableTime"
                )
            latest = self.latest_restorable(region, source_db_identifier)
            point = latest
            if asked:
                point = _utc(asked)
                with self._lock:
                    earliest = self._epochs.get((region, source_db_identifier), latest)
                problem = restore_time_problem(point, earliest, latest)
                if problem:
                    raise InvalidParameterValue(problem)
            db = original(source_db_identifier, target_db_identifier, overrides)
            self._begin(region, db, source_db_identifier, point)
            return db

        return restore_db_instance_to_point_in_time

    def _wrap_snapshot(
        self, region: str, backend: Any, originals: dict[str, Any]
    ) -> Callable[..., Any]:
        original = originals["restore_db_instance_from_db_snapshot"]

        def restore_db_instance_from_db_snapshot(
            from_snapshot_id: str, overrides: dict[str, Any]
        ) -> Any:
            db = original(from_snapshot_id, overrides)
            snapshot_id = from_snapshot_id  # automated snapshots are named rds:<db>-<date>
            if snapshot_id.startswith("arn:aws:rds:"):
                snapshot_id = backend.extract_snapshot_name_from_arn(snapshot_id)
            snapshot = backend.describe_db_snapshots(
                db_instance_identifier=None, db_snapshot_identifier=snapshot_id
            )[0]
            # the data's time: a copied snapshot (AWS Backup's copy to another Region)
            # keeps OriginalSnapshotCreateTime, its SnapshotCreateTime is the copy's
            point = _utc(
                getattr(snapshot, "original_snapshot_create_time", None)
                or snapshot.snapshot_create_time
            )
            self._begin(region, db, str(snapshot.db_instance_identifier), point)
            return db

        return restore_db_instance_from_db_snapshot

    def _wrap_delete(self, region: str, originals: dict[str, Any]) -> Callable[..., Any]:
        original = originals["delete_db_instance"]

        def delete_db_instance(db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
            result = original(db_instance_identifier, *args, **kwargs)
            with self._lock:
                restore = self.restores.pop((region, db_instance_identifier), None)
                self._epochs.pop((region, db_instance_identifier), None)
            if restore is not None and restore.database is not None:
                restore.database.stop()
                logger.info("restored %s deleted: database stopped", db_instance_identifier)
            return result

        return delete_db_instance

    # -- a restore ----------------------------------------------------------------------------
    def _begin(self, region: str, db: Any, source_id: str, point: datetime) -> None:
        db_id = str(db.db_instance_identifier)
        db.status = "creating"
        database = None
        source_dsn = self.source_dsns.get(source_id)
        if source_dsn and self.workdir is not None:
            database = RestoredDatabase(
                # one folder per restore: a deleted one may still be cleaning its own up
                self.workdir / f"restored-{db_id}-{uuid.uuid4().hex[:8]}",
                source_dsn,
                accepting=lambda: db.status == "available",
                port=int(db.port or 5432),
            )
        restore = _Restore(db, point, database)
        with self._lock:
            self.restores[(region, db_id)] = restore
            self._epochs[(region, db_id)] = self.now()
        restore.thread = threading.Thread(
            target=self._restore,
            args=(region, restore, time.monotonic()),
            name=f"rds-restore-{db_id}",
        )
        restore.thread.daemon = True
        restore.thread.start()
        logger.info("restore of %s into %s as of %s begun", source_id, db_id, point.isoformat())

    def _current(self, region: str, restore: _Restore) -> bool:
        with self._lock:
            return self.restores.get((region, str(restore.db.db_instance_identifier))) is restore

    def _restore(self, region: str, restore: _Restore, began: float) -> None:
        """Start the database at once (its start-up hidden in the window), load the rows
        as of the restore point at the end of the window (every write up to that point
        has committed by then), then turn the instance ``available``."""
        db_id = str(restore.db.db_instance_identifier)
        status = "available"
        try:
            if restore.database is not None:
                host, _port = restore.database.start()
                if not self._current(region, restore):  # deleted meanwhile
                    restore.database.stop()
                    return
                self.endpoints.set_address(self.account_id, region, db_id, host)
                restore.database.prepare()
            remaining = self.timings.restore - (time.monotonic() - began)
            if self._stopping.wait(timeout=max(0.0, remaining)):
                return
            if restore.database is not None and self._current(region, restore):
                restore.database.load_as_of(restore.point)
        except Exception:  # noqa: BLE001 - "AWS" must not crash: the restore failed
            if not self._current(region, restore):
                logger.info("restore of %s cut short: the instance was deleted", db_id)
                if restore.database is not None:
                    restore.database.stop()  # what the start left half made
                return
            logger.exception("restored database of %s failed", db_id)
            status = "failed"  # the status AWS shows for a restore that could not finish
        with self._lock:
            if not self._current(region, restore):
                return
            restore.db.status = status
        logger.info("restored instance %s %s", db_id, status)
