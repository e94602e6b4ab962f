"""Probes of the restore drill: wait for the restored instance and time its phases.

The restore RTO runs from the restore call to the first successful query through the
restored instance's *described* endpoint, in four phases (seconds after the call):
``api_accepted`` (the call returned), ``available`` (``DBInstanceStatus`` reads
``available``; resolution: ``poll_interval``), ``endpoint_resolvable`` (the endpoint's
name resolves) and ``first_query`` (``SELECT 1`` answered; resolution:
``query_interval``). The phases go to the journal's drill block and, as
``restore_<phase>``, to the timeline.
"""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.core.timeline import mark_phase, note_fault_detail
from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.rdsrestore import FAULT
from chaosaws_ext.rdsrestore.inflight import RestoreInFlight, recall
from chaosaws_ext.rdsrestore.recovery_points import (
    DEFAULT_BACKUP_VAULT,
    DEFAULT_DR_REGION,
    latest_recovery_point,
)
from chaosaws_ext.rdsrestore.restores import describe_or_none, restored_dsn, utc

__all__ = ["wait_for_restored_instance", "wait_for_restorable_markers"]

logger = logging.getLogger(__name__)

_FAILED = ("failed", "incompatible-restore", "incompatible-parameters", "storage-full")


def _phase(restore: RestoreInFlight, name: str) -> None:
    now = time.monotonic()
    restore.phase(name, now)
    mark_phase(f"restore_{name}", now)
    note_fault_detail("restore", restore.block())


def _first_query(dsn: str, timeout: float) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=max(1, round(timeout)), autocommit=True) as conn:
            conn.execute("SELECT 1").fetchone()
        return True
    except psycopg.Error as error:
        logger.debug("restored instance not answering yet: %s", error)
        return False


def wait_for_restored_instance(
    timeout: float = 3600,
    poll_interval: float = 5.0,
    query_interval: float = 0.25,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Wait (at most ``timeout`` s from the restore call) until the restored instance
    answers a query through its described endpoint; returns the phases. Fails naming
    the phase it stopped at. Connects with the credentials of ``db_dsn`` (the source's:
    a restore keeps them)."""
    where = "wait_for_restored_instance"
    timeout = checked_number(timeout, "timeout", above=True, activity=where)
    poll_interval = checked_number(poll_interval, "poll_interval", above=True, activity=where)
    query_interval = checked_number(query_interval, "query_interval", above=True, activity=where)
    restore = recall()
    if restore is None:
        raise ActivityFailed(f"{where}: no restore started in this run (restore_db_instance)")
    source_dsn = str((configuration or {}).get("db_dsn") or "")
    if not source_dsn:
        logger.warning(
            "%s: db_dsn is empty (GAMEDAY_DB_DSN): no first query, the restore RTO is not measured",
            where,
        )
    rds = aws_client("rds", configuration, secrets, restore.region)
    deadline = restore.called_monotonic + timeout

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    def described() -> dict[str, Any] | None:
        db = describe_or_none(rds, restore.restored)
        if db is None:
            raise ActivityFailed(f"{FAULT}: the restored instance {restore.restored} is gone")
        status = db.get("DBInstanceStatus")
        if status in _FAILED:
            raise ActivityFailed(f"{FAULT}: the restore of {restore.restored} ended {status!r}")
        return db if status == "available" else None

    phase = "available"
    try:
        db = wait_until(described, timeout=left(), interval=poll_interval, what=phase)
        _phase(restore, "available")
        endpoint = db.get("Endpoint") or {}
        address, port = endpoint.get("Address"), int(endpoint.get("Port") or 5432)
        phase = "endpoint_resolvable"

        def resolves() -> bool | None:
            try:
                return bool(socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)) or None
            except (OSError, UnicodeError):
                return None

        if not address:
            raise ActivityFailed(f"{FAULT}: {restore.restored} is available without an endpoint")
        note_fault_detail(
            "restore_endpoint",
            {
                "address": address,
                "port": port,
                "poll_interval_s": poll_interval,
                "query_interval_s": query_interval,
            },
        )
        wait_until(resolves, timeout=left(), interval=query_interval, what=phase)
        _phase(restore, "endpoint_resolvable")
        if source_dsn:
            phase = "first_query"
            dsn = restored_dsn(source_dsn, str(address), port)
            wait_until(
                lambda: _first_query(dsn, query_interval * 4) or None,
                timeout=left(),
                interval=query_interval,
                what=phase,
            )
            _phase(restore, "first_query")
    except WaitTimedOut as error:
        raise ActivityFailed(
            f"{FAULT}: {restore.restored} did not reach '{phase}' within {timeout:g} s of "
            "the restore call"
        ) from error
    return {
        **restore.block(),
        "endpoint": {"address": address, "port": port},
        "poll_interval_s": poll_interval,
        "query_interval_s": query_interval,
    }


def wait_for_restorable_markers(
    db_instance_identifier: str,
    timeout: float = 900,
    poll_interval: float = 5.0,
    after_s: float = 0,
    restore_source: str = "point-in-time",
    backup_vault: str = "",
    dr_region: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Before the restore: wait (bounded) until the source's ``LatestRestorableTime``
    passes the moment this probe started (plus ``after_s``: history for a deliberately
    older restore point), so the markers written since the drill began
    are partly restorable and the RPO measures the restore's real data loss (not the
    first marker's age). RDS uploads transaction logs about every five minutes.

    The restore then starts just after an upload, so the lag and the RPO a drill measures
    this way are the best case of the upload cycle; an incident at a random moment loses
    up to one upload interval more (``restore_age_s`` rehearses an older point).

    ``backup-copy``: wait instead until the DR region's vault holds a COMPLETED recovery
    point of the source created after this probe started (plus ``after_s``): the plan's
    schedule must fire and its copy complete within ``timeout`` (a daily plan: start
    the drill shortly before the backup window)."""
    where = "wait_for_restorable_markers"
    timeout = checked_number(timeout, "timeout", above=True, activity=where)
    poll_interval = checked_number(poll_interval, "poll_interval", above=True, activity=where)
    after_s = checked_number(after_s, "after_s", activity=where)
    region = region_of(configuration)
    rds = aws_client("rds", configuration, secrets, region)
    started = time.monotonic()
    first = describe_or_none(rds, db_instance_identifier)
    if first is None:
        raise ActivityFailed(f"{where}: no DB instance {db_instance_identifier!r} in {region}")
    since = datetime.now(UTC) + timedelta(seconds=after_s)
    if restore_source == "backup-copy":
        return _wait_for_backup_copy(
            first, since, started, timeout, poll_interval, backup_vault, dr_region,
            configuration, secrets,
        )  # fmt: skip
    if first.get("LatestRestorableTime") is None:
        return {"waited_s": 0.0, "latest_restorable_time": None}

    def advanced() -> Any:
        db = describe_or_none(rds, db_instance_identifier)
        latest = (db or {}).get("LatestRestorableTime")
        return latest if latest is not None and utc(latest) > since else None

    try:
        latest = wait_until(advanced, timeout=timeout, interval=poll_interval, what=where)
    except WaitTimedOut as error:
        raise ActivityFailed(
            f"{where}: LatestRestorableTime of {db_instance_identifier} did not advance in "
            f"{timeout:g} s (are automated backups running?)"
        ) from error
    return {
        "waited_s": round(time.monotonic() - started, 3),
        "latest_restorable_time": utc(latest).isoformat(),
    }


def _wait_for_backup_copy(
    source: dict[str, Any],
    since: datetime,
    started: float,
    timeout: float,
    poll_interval: float,
    backup_vault: str,
    dr_region: str,
    configuration: Configuration,
    secrets: Secrets,
) -> dict[str, Any]:
    where = "wait_for_restorable_markers"
    vault = backup_vault or DEFAULT_BACKUP_VAULT
    region = region_of(None, dr_region or DEFAULT_DR_REGION)
    backup = aws_client("backup", configuration, secrets, region)
    arn = str(source.get("DBInstanceArn") or "")

    def copied() -> dict[str, Any] | None:
        point = latest_recovery_point(backup, vault, arn)
        return point if point is not None and utc(point["CreationDate"]) > since else None

    try:
        point = wait_until(copied, timeout=timeout, interval=poll_interval, what=where)
    except WaitTimedOut as error:
        raise ActivityFailed(
            f"{where}: no recovery point of {source.get('DBInstanceIdentifier')} newer than "
            f"the drill's start reached backup vault {vault!r} in {region} within "
            f"{timeout:g} s (when does the backup plan run?)"
        ) from error
    return {
        "waited_s": round(time.monotonic() - started, 3),
        "recovery_point": str(point["RecoveryPointArn"]),
        "recovery_point_created": utc(point["CreationDate"]).isoformat(),
    }
