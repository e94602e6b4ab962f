"""RDS restores as the twin times them: the model, without moto.

- the restore duration (:data:`RESTORE_SECONDS`): AWS publishes no figure for how long
  ``RestoreDBInstanceToPointInTime`` or ``RestoreDBInstanceFromDBSnapshot`` takes (it
  depends on the storage size and, for a point-in-time restore, on the transaction log
  to replay). The default, 600 s, is an assumption chosen on the long side for the
  plan's 100 GiB gp3 instance (a new instance is provisioned, then the data loaded);
  ``time_scale`` multiplies it as every emulated timing;
- ``LatestRestorableTime``: "RDS uploads transaction logs for DB instances to Amazon S3
  every five minutes" and the latest restorable time "is typically within the last five
  minutes" (Amazon RDS User Guide, "Restoring a DB instance to a specified time",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html). The model:
  uploads every :data:`LOG_UPLOAD_INTERVAL_S` since the instance's creation, and the
  latest restorable time is the last upload (:func:`latest_restorable_time`), so it lags
  the present by 0 to 300 s, sawtooth;
- the restore time a request may name: not after the latest restorable time, not before
  the earliest one (creation, within the backup retention), as the API refuses
  (:func:`restore_time_problem`).

:mod:`sandbox.rds.restore_patch` applies this to moto; :mod:`sandbox.rds.restored_db`
serves the restored database's content as of the restore point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "LOG_UPLOAD_INTERVAL_S",
    "RESTORE_SECONDS",
    "RestoreTimings",
    "latest_restorable_time",
    "restore_time_problem",
]

LOG_UPLOAD_INTERVAL_S = 300.0
RESTORE_SECONDS = 600.0


@dataclass(frozen=True)
class RestoreTimings:
    """The restore window and the log upload interval, in (scaled) seconds."""

    restore: float
    log_upload: float

    @classmethod
    def scaled(
        cls,
        restore_seconds: float = RESTORE_SECONDS,
        log_upload_seconds: float = LOG_UPLOAD_INTERVAL_S,
        time_scale: float = 1.0,
    ) -> RestoreTimings:
        if not (time_scale > 0 and math.isfinite(time_scale)):
            raise ValueError(f"time_scale must be a positive number, got {time_scale!r}")
        if restore_seconds < 0 or log_upload_seconds <= 0:
            raise ValueError("restore_seconds must be >= 0 and log_upload_seconds > 0")
        return cls(restore_seconds * time_scale, log_upload_seconds * time_scale)


def latest_restorable_time(epoch: datetime, now: datetime, upload_interval: float) -> datetime:
    """The last transaction-log upload at or before ``now``, uploads every
    ``upload_interval`` seconds since ``epoch`` (the instance's creation)."""
    elapsed = (now - epoch).total_seconds()
    if elapsed <= 0:
        return epoch
    uploads = math.floor(elapsed / upload_interval)
    return epoch + timedelta(seconds=uploads * upload_interval)


def restore_time_problem(
    restore_time: datetime, earliest: datetime, latest: datetime
) -> str | None:
    """Why the API refuses ``restore_time`` (None: it accepts it)."""
    if restore_time > latest:
        return (
            f"The restore time {restore_time.isoformat()} is after the latest restorable "
            f"time {latest.isoformat()}."
        )
    if restore_time < earliest:
        return (
            f"The restore time {restore_time.isoformat()} is before the earliest restorable "
            f"time {earliest.isoformat()}."
        )
    return None
