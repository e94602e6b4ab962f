"""AWS Backup recovery points as the twin makes them: the model, without moto.

The DR plan's Example 7 backs the analytics DB up into ``production-primary-vault``
(the primary region) on the rule ``DailyBackups`` (``cron(0 3 * * ? *)``: once a day)
and copies each recovery point to ``production-replica-vault`` in eu-west-1
(``CopyActions``). The model:

- a backup job every :data:`BACKUP_INTERVAL_S` (the daily schedule, 86 400 s), the
  first when the twin starts; its recovery point is ``COMPLETED`` at once, created at
  the job's time (an RDS snapshot's content is the instance as of the snapshot; the
  snapshot's own duration is not emulated);
- its copy ``COMPLETED`` in the copy vault :data:`COPY_DURATION_S` later. AWS publishes
  no duration for a cross-Region copy (AWS Backup Developer Guide, "Creating backup
  copies across AWS Regions", gives none; it depends on the snapshot's size and the
  Regions): 1800 s is an assumption on the long side for the plan's 100 GiB instance.
  The copy keeps the source's ``ResourceArn`` and ``CreationDate`` (the data's time;
  ``CompletionDate`` is the copy's end) and names its source in
  ``SourceBackupVaultArn``.

Both durations are multiplied by ``time_scale``. :mod:`sandbox.backup.moto_patch` serves
the points through moto (``ListRecoveryPointsByBackupVault``, ``DescribeRecoveryPoint``)
and makes their RDS snapshots.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "BACKUP_INTERVAL_S",
    "COPY_DURATION_S",
    "BackupTimings",
    "RecoveryPoint",
    "RecoveryPointBook",
    "job_times",
]

BACKUP_INTERVAL_S = 86400.0  # Example 7, DailyBackups: cron(0 3 * * ? *)
COPY_DURATION_S = 1800.0  # no published figure (module docstring)


@dataclass(frozen=True)
class BackupTimings:
    """The backup interval and the copy's duration, in (scaled) seconds."""

    interval: float
    copy: float

    @classmethod
    def scaled(
        cls,
        backup_interval_seconds: float = BACKUP_INTERVAL_S,
        copy_duration_seconds: float = COPY_DURATION_S,
        time_scale: float = 1.0,
    ) -> BackupTimings:
        if not (time_scale > 0 and math.isfinite(time_scale)):
            raise ValueError(f"time_scale must be a positive number, got {time_scale!r}")
        if not backup_interval_seconds > 0 or not copy_duration_seconds >= 0:
            raise ValueError("backup_interval_seconds must be > 0, copy_duration_seconds >= 0")
        return cls(backup_interval_seconds * time_scale, copy_duration_seconds * time_scale)


def job_times(epoch: datetime, now: datetime, interval: float, done: int = 0) -> list[datetime]:
    """The backup jobs due by ``now`` (at ``epoch`` and every ``interval`` s after), the
    first ``done`` of them left out (already taken: a tick builds only the new ones)."""
    if now < epoch:
        return []
    count = math.floor((now - epoch).total_seconds() / interval) + 1
    return [epoch + timedelta(seconds=n * interval) for n in range(done, count)]


@dataclass
class RecoveryPoint:
    """One recovery point in one vault (an RDS snapshot for an RDS instance)."""

    arn: str  # the RDS snapshot's ARN
    vault: str
    vault_arn: str
    region: str
    resource_arn: str
    resource_type: str
    created: datetime  # the data's time (kept by a copy)
    completed: datetime
    snapshot_id: str
    source_vault_arn: str | None = None
    status: str = "COMPLETED"
    size_bytes: int = 0

    def described(self) -> dict[str, Any]:
        """The API's RecoveryPointByBackupVault / DescribeRecoveryPoint fields."""
        found: dict[str, Any] = {
            "RecoveryPointArn": self.arn,
            "BackupVaultName": self.vault,
            "BackupVaultArn": self.vault_arn,
            "ResourceArn": self.resource_arn,
            "ResourceType": self.resource_type,
            "ResourceName": self.resource_arn.rsplit(":", 1)[-1],
            "Status": self.status,
            "CreationDate": self.created.timestamp(),
            "CompletionDate": self.completed.timestamp(),
            "BackupSizeInBytes": self.size_bytes,
            "IsEncrypted": False,
            "StorageClass": "WARM",
            "VaultType": "BACKUP_VAULT",
        }
        if self.source_vault_arn:
            found["SourceBackupVaultArn"] = self.source_vault_arn
        return found


class RecoveryPointBook:
    """Every recovery point of the twin, by (region, vault); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._points: dict[tuple[str, str], list[RecoveryPoint]] = {}

    def add(self, point: RecoveryPoint) -> None:
        with self._lock:
            self._points.setdefault((point.region, point.vault), []).append(point)

    def listed(
        self,
        region: str,
        vault: str,
        resource_arn: str | None = None,
        resource_type: str | None = None,
    ) -> list[RecoveryPoint]:
        """The vault's points, newest first (as the console lists them), filtered as
        ``ByResourceArn`` / ``ByResourceType`` filter."""
        with self._lock:
            points = list(self._points.get((region, vault), []))
        return sorted(
            (
                p
                for p in points
                if (not resource_arn or p.resource_arn == resource_arn)
                and (not resource_type or p.resource_type == resource_type)
            ),
            key=lambda p: p.created,
            reverse=True,
        )

    def find(self, region: str, vault: str, arn: str) -> RecoveryPoint | None:
        return next((p for p in self.listed(region, vault) if p.arn == arn), None)

    def clear(self) -> None:
        with self._lock:
            self._points.clear()
