"""AWS Backup's recovery points of the plan's backup job, added to moto.

moto 5.2.5's Backup holds vaults and plans and runs no job. :class:`BackupEmulator`
runs the plan's job of one RDS instance (:mod:`sandbox.backup.recovery_points`): each
backup is an RDS snapshot ``awsbackup:job-<id>`` (``SnapshotType`` ``awsbackup``) in the
source's region and a recovery point in the primary vault; each copy an RDS snapshot
``awsbackup:copyjob-<id>`` in the copy vault's region (``OriginalSnapshotCreateTime``
the backup's time, as a copied snapshot keeps it) and a recovery point in the copy
vault. The recovery point ARN is the snapshot's ARN, as AWS Backup names RDS points.
It serves ``ListRecoveryPointsByBackupVault`` (``ByResourceArn``, ``ByResourceType``,
``MaxResults``/``NextToken``) and ``DescribeRecoveryPoint``, and lets
``RestoreDBInstanceFromDBSnapshot`` find an ``awsbackup`` snapshot named by its ARN or
id (moto's lookup knows automated and manual snapshots only; AWS restores Backup's).

The content a restore of one holds is the source's as of the snapshot's time
(:class:`sandbox.rds.restore_patch.RdsRestoreEmulator` reads
``OriginalSnapshotCreateTime``). Not emulated: the job's own duration, lifecycle
(cold storage, deletion after 7 days), the weekly and monthly rules, encryption keys,
vault events and notifications, ``StartBackupJob``/``StartRestoreJob``.

This module is "AWS": it imports nothing from chaosaws_ext, probes or gameday.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from moto.backends import get_backend
from moto.backup import urls as backup_urls
from moto.backup.exceptions import InvalidParameterValueException, ResourceNotFoundException
from moto.backup.models import backup_backends
from moto.backup.responses import BackupResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.models import DBSnapshot

from sandbox.backup.recovery_points import (
    BACKUP_INTERVAL_S,
    COPY_DURATION_S,
    BackupTimings,
    RecoveryPoint,
    RecoveryPointBook,
    job_times,
)
from sandbox.lifecycle import Lifecycle
from sandbox.moto_patching import patch, restore

__all__ = ["BackupEmulator", "register_routes"]

logger = logging.getLogger(__name__)

_MISSING = object()
_STOP_JOIN_S = 10.0
_MAX_RESULTS = 1000  # the API's MaxResults maximum (ListRecoveryPointsByBackupVault)
_ROUTES = {
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$": BackupResponse.dispatch,
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>.+)$": BackupResponse.dispatch,
}
_restoring = threading.local()  # set while RestoreDBInstanceFromDBSnapshot runs


def register_routes() -> None:
    """Add the recovery-point paths to moto's Backup URLs (idempotent, process-wide).
    A moto server builds its Backup routes at its first Backup request: call this before
    that one (the sandbox: before seeding). Without an emulator installed the paths
    answer moto's "not implemented"."""
    for path, handler in _ROUTES.items():
        backup_urls.url_paths.setdefault(path, handler)


class BackupEmulator(Lifecycle):
    """The plan's backup job of ``db_instance_id`` (in ``source_region``) into
    ``primary_vault`` there, each point copied to ``copy_vault`` in ``copy_region``.
    The vaults must exist (seeded); a missing one is created."""

    _active: BackupEmulator | None = None
    _class_lock = threading.Lock()

    def __init__(
        self,
        db_instance_id: str,
        source_region: str,
        primary_vault: str,
        copy_region: str,
        copy_vault: str,
        backup_interval_seconds: float = BACKUP_INTERVAL_S,
        copy_duration_seconds: float = COPY_DURATION_S,
        time_scale: float = 1.0,
        account_id: str = DEFAULT_ACCOUNT_ID,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.timings = BackupTimings.scaled(
            backup_interval_seconds, copy_duration_seconds, time_scale
        )
        self.db_instance_id = db_instance_id
        self.source_region = source_region
        self.primary_vault = primary_vault
        self.copy_region = copy_region
        self.copy_vault = copy_vault
        self.account_id = account_id
        self.now = now
        self.book = RecoveryPointBook()
        self.epoch: datetime | None = None
        self._jobs_done = 0
        self._copies_due: list[tuple[datetime, RecoveryPoint]] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._originals: dict[tuple[type, str], Any] = {}
        self._rds_saved: dict[str, dict[str, Any]] = {}
        register_routes()

    # -- install / uninstall ---------------------------------------------------------------
    def start(self) -> None:
        with type(self)._class_lock:
            if type(self)._active not in (None, self):
                raise RuntimeError("another BackupEmulator is installed in this process")
            type(self)._active = self
        with self._lock:
            if self._thread is not None:
                return
            self._stopping.clear()
            for region, vault in (
                (self.source_region, self.primary_vault),
                (self.copy_region, self.copy_vault),
            ):
                backend = backup_backends[self.account_id][region]
                if vault not in backend.vaults:
                    backend.create_backup_vault(vault, {}, "", "")
            patch(self._originals, BackupResponse, "list_recovery_points_by_backup_vault",
                  lambda _o: _list_recovery_points)  # fmt: skip
            patch(self._originals, BackupResponse, "describe_recovery_point",
                  lambda _o: _describe_recovery_point)  # fmt: skip
            for region in {self.source_region, self.copy_region}:
                self._wrap_rds(region)
            self.epoch = self.now()
            self._thread = threading.Thread(target=self._run, name="backup-jobs", daemon=True)
            self._thread.start()
        logger.info(
            "AWS Backup emulation on: %s backed up every %.2fs, copied to %s/%s in %.2fs",
            self.db_instance_id,
            self.timings.interval,
            self.copy_region,
            self.copy_vault,
            self.timings.copy,
        )

    def stop(self) -> None:
        """Stop the job thread and restore moto (idempotent)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=_STOP_JOIN_S)
        with self._lock:
            restore(self._originals)
            for region, saved in self._rds_saved.items():
                backend = get_backend("rds")[self.account_id][region]
                for name, value in saved.items():
                    if value is _MISSING:
                        backend.__dict__.pop(name, None)
                    else:
                        setattr(backend, name, value)
            self._rds_saved.clear()
            self.book.clear()
            self._copies_due.clear()
            self._jobs_done = 0
        with type(self)._class_lock:
            if type(self)._active is self:
                type(self)._active = None

    def _wrap_rds(self, region: str) -> None:
        """An ``awsbackup`` snapshot is found by its id while a restore names it."""
        backend = get_backend("rds")[self.account_id][region]
        names = ("describe_db_snapshots", "restore_db_instance_from_db_snapshot")
        self._rds_saved[region] = {n: backend.__dict__.get(n, _MISSING) for n in names}
        describe = backend.describe_db_snapshots
        restore_from = backend.restore_db_instance_from_db_snapshot

        def describe_db_snapshots(
            db_instance_identifier: Any, db_snapshot_identifier: Any = None, *args: Any, **kw: Any
        ) -> Any:
            if db_snapshot_identifier and getattr(_restoring, "active", False):
                snapshot = backend.database_snapshots.get(db_snapshot_identifier)
                if snapshot is not None and _is_backup(snapshot):
                    return [snapshot]
            return describe(db_instance_identifier, db_snapshot_identifier, *args, **kw)

        def restore_db_instance_from_db_snapshot(*args: Any, **kw: Any) -> Any:
            _restoring.active = True
            try:
                return restore_from(*args, **kw)
            finally:
                _restoring.active = False

        wrappers = {names[0]: describe_db_snapshots, names[1]: restore_db_instance_from_db_snapshot}
        for name, wrapper in wrappers.items():
            setattr(backend, name, wrapper)

    # -- the job ------------------------------------------------------------------------------
    def _run(self) -> None:
        """Take each backup when due and each copy when done, until stopped."""
        while not self._stopping.is_set():
            try:
                wait = self.tick()
            except Exception:  # noqa: BLE001 - "AWS" must not crash: the job failed
                logger.exception("backup job of %s failed", self.db_instance_id)
                wait = self.timings.interval
            self._stopping.wait(timeout=max(0.01, min(wait, 60.0)))

    def tick(self) -> float:
        """Run what is due now; seconds until the next event."""
        now = self.now()
        assert self.epoch is not None, "start() first"
        with self._lock:
            for created in job_times(self.epoch, now, self.timings.interval, self._jobs_done):
                point = self._backup(created)
                self._jobs_done += 1
                if point is not None:
                    self._copies_due.append((created + timedelta(seconds=self.timings.copy), point))
            ready = [(at, p) for at, p in self._copies_due if at <= now]
            self._copies_due = [(at, p) for at, p in self._copies_due if at > now]
            for at, point in ready:
                self._copy(point, at)
            events = [self.epoch + timedelta(seconds=self._jobs_done * self.timings.interval)]
            events += [at for at, _ in self._copies_due]
        return max(0.0, (min(events) - self.now()).total_seconds())

    def _snapshot(self, region: str, database: Any, name: str, created: datetime) -> DBSnapshot:
        backend = get_backend("rds")[self.account_id][region]
        snapshot = DBSnapshot(
            backend, database, name, snapshot_type="awsbackup", original_created_at=created
        )
        backend.database_snapshots[name] = snapshot
        return snapshot

    def _vault_arn(self, region: str, vault: str) -> str:
        found = backup_backends[self.account_id][region].vaults.get(vault)
        if found is not None:
            return str(found.backup_vault_arn)
        return f"arn:aws:backup:{region}:{self.account_id}:backup-vault:{vault}"

    def _count(self, region: str, vault: str) -> None:
        found = backup_backends[self.account_id][region].vaults.get(vault)
        if found is not None:
            found.num_of_recovery_points += 1

    def _backup(self, created: datetime) -> RecoveryPoint | None:
        backend = get_backend("rds")[self.account_id][self.source_region]
        database = backend.databases.get(self.db_instance_id)
        if database is None:
            logger.info("backup job: no %s to back up", self.db_instance_id)
            return None
        name = f"awsbackup:job-{uuid.uuid4()}"
        snapshot = self._snapshot(self.source_region, database, name, created)
        point = RecoveryPoint(
            arn=str(snapshot.arn),
            vault=self.primary_vault,
            vault_arn=self._vault_arn(self.source_region, self.primary_vault),
            region=self.source_region,
            resource_arn=str(database.db_instance_arn),
            resource_type="RDS",
            created=created,
            completed=created,
            snapshot_id=name,
            size_bytes=int(database.allocated_storage or 0) * 2**30,
        )
        self.book.add(point)
        self._count(self.source_region, self.primary_vault)
        logger.info("backup job of %s: %s", self.db_instance_id, point.arn)
        return point

    def _copy(self, source: RecoveryPoint, completed: datetime) -> None:
        backend = get_backend("rds")[self.account_id][self.source_region]
        original = backend.database_snapshots.get(source.snapshot_id)
        if original is None:
            logger.info("copy job: the recovery point %s is gone", source.arn)
            return
        name = f"awsbackup:copyjob-{uuid.uuid4()}"
        snapshot = self._snapshot(self.copy_region, original.database, name, source.created)
        point = RecoveryPoint(
            arn=str(snapshot.arn),
            vault=self.copy_vault,
            vault_arn=self._vault_arn(self.copy_region, self.copy_vault),
            region=self.copy_region,
            resource_arn=source.resource_arn,
            resource_type=source.resource_type,
            created=source.created,
            completed=completed,
            snapshot_id=name,
            source_vault_arn=source.vault_arn,
            size_bytes=source.size_bytes,
        )
        self.book.add(point)
        self._count(self.copy_region, self.copy_vault)
        logger.info("copy job of %s to %s: %s", source.arn, self.copy_region, point.arn)

    # -- the API --------------------------------------------------------------------------------
    @classmethod
    def active(cls) -> BackupEmulator | None:
        with cls._class_lock:
            return cls._active


def _is_backup(snapshot: Any) -> bool:
    return getattr(snapshot, "snapshot_type", "") == "awsbackup"


def _vault_or_fail(response: BackupResponse, vault: str) -> None:
    if vault not in backup_backends[response.current_account][response.region].vaults:
        raise ResourceNotFoundException(f"Backup vault {vault} does not exist")


def _path_parts(response: BackupResponse) -> list[str]:
    path = response.path.split("?", 1)[0]
    return [unquote(part) for part in path.split("/")]


def _list_recovery_points(self: BackupResponse) -> str:
    parts = _path_parts(self)
    vault = parts[parts.index("backup-vaults") + 1]
    _vault_or_fail(self, vault)
    query = self.querystring
    resource_arn = (query.get("resourceArn") or [None])[0]
    resource_type = (query.get("resourceType") or [None])[0]
    try:
        size = int((query.get("maxResults") or [_MAX_RESULTS])[0])
        start = int((query.get("nextToken") or ["0"])[0])
    except ValueError as error:
        raise InvalidParameterValueException(f"Invalid pagination parameter: {error}") from error
    if not 1 <= size <= _MAX_RESULTS:
        raise InvalidParameterValueException(f"MaxResults must be 1 to {_MAX_RESULTS}")
    emulator = BackupEmulator.active()
    points = (
        []
        if emulator is None
        else emulator.book.listed(self.region, vault, resource_arn, resource_type)
    )
    page = points[start : start + size]
    body: dict[str, Any] = {"RecoveryPoints": [p.described() for p in page]}
    if start + size < len(points):
        body["NextToken"] = str(start + size)
    return json.dumps(body)


def _describe_recovery_point(self: BackupResponse) -> str:
    parts = _path_parts(self)
    at = parts.index("recovery-points")
    vault, arn = parts[at - 1], "/".join(parts[at + 1 :])
    _vault_or_fail(self, vault)
    emulator = BackupEmulator.active()
    point = None if emulator is None else emulator.book.find(self.region, vault, arn)
    if point is None:
        raise ResourceNotFoundException(f"Recovery point {arn} not found in vault {vault}")
    return json.dumps(point.described())
