"""DynamoDB point-in-time restore drill (fault ``dynamodb-restore``; the runbook's
Scenario 3, steps 2-4, side by side).

:func:`restore_table_drill` takes an on-demand backup of the source table, restores the
source with ``RestoreTableToPointInTime`` into a new table named for the run (tagged
``chaos:*``), and measures the restore: from the restore call to the API's answer, to
the table ``ACTIVE``, to its first successful read. Each creation is in the ledger with
its undo before the call; the restored table and the backup are deleted by the rollback
(:func:`delete_drill_resources`), by the max-duration switch, or by ``gameday recover``.
The source table is only read.

The restore point is the latest restorable time, or ``restore_point_age_s`` before it
(the gap test). Before restoring, the drill waits (bounded) until the restore point is
``history_s`` past its start, so that write markers older than the restore point exist
to be verified in the restored table (:func:`probes.activities.verify_restored_markers`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import chaos_tags, current_run
from chaosaws_ext.core.timeline import fault_details, mark_phase, note_fault_detail
from chaosaws_ext.dynamodbrestore import FAULT
from chaosaws_ext.dynamodbrestore.planning import build_plan
from chaosaws_ext.dynamodbrestore.tables import (
    count_items,
    error_code,
    restore_window,
    table_status,
    wait_until,
)
from chaosaws_ext.dynamodbrestore.undo import BACKUP_UNDOER, TABLE_UNDOER
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.undo import revert_faults

__all__ = ["restore_table_drill", "delete_drill_resources"]

logger = logging.getLogger(__name__)
KIND = "dynamodb-point-in-time"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _latest(client: Any, table_name: str) -> datetime:
    window = restore_window(client, table_name)
    if window.latest is None:
        raise ActivityFailed(f"{FAULT}: {table_name} reports no LatestRestorableDateTime")
    return window.latest


def _answers_reads(client: Any, table_name: str) -> bool:
    try:
        client.scan(TableName=table_name, Limit=1, ConsistentRead=True)
        return True
    except ClientError as error:
        if error_code(error) in ("ResourceNotFoundException", "ResourceInUseException"):
            return False
        raise


def _tag(client: Any, arn: str, tags: dict[str, str], poll: float, deadline: float) -> None:
    """Tag the restored table (RestoreTableToPointInTime takes no tags), retried while
    the table is not yet taggable, within the drill's deadline."""
    listed = [{"Key": k, "Value": v} for k, v in tags.items()]
    while True:
        try:
            client.tag_resource(ResourceArn=arn, Tags=listed)
            return
        except ClientError as error:
            if error_code(error) not in ("ResourceInUseException", "ResourceNotFoundException"):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(poll)


def restore_table_drill(
    table_name: str,
    restore_point_age_s: float = 0,
    history_s: float = 1.0,
    backup: bool = True,
    poll_interval_s: float = 1.0,
    timeout: float | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Back up and restore ``table_name`` side by side, measuring the restore.

    Refuses, before any change: a missing source, point-in-time recovery disabled on it,
    a restored table or backup name that exists, bad numbers. ``timeout`` bounds the
    whole drill (the wait for history, the restore, the first read; None or
    0: max_fault_seconds); ``poll_interval_s``
    is the resolution of the restore's phases."""
    run = current_run(configuration)
    plan = build_plan(
        table_name,
        run,
        restore_point_age_s,
        history_s,
        backup,
        poll_interval_s,
        timeout,
        configuration,
        secrets,
    )
    check_plan(plan, configuration, secrets)
    details = plan.details
    poll, age = float(details["poll_interval_s"]), float(details["restore_point_age_s"])
    restored = str(details["restored_table"])
    deadline = time.monotonic() + float(details["timeout_s"])
    client = aws_client("dynamodb", configuration, secrets, region=plan.region)
    started = datetime.now(UTC)
    lag = restore_window(client, table_name).lag_behind(started)
    wanted = started + timedelta(seconds=float(details["history_s"]) + age)
    try:
        wait_until(
            lambda: _latest(client, table_name) >= wanted,
            poll,
            max(0.0, deadline - time.monotonic()),
            f"latest restorable time of {table_name} past {_iso(wanted)}",
        )
    except TimeoutError as error:
        raise ActivityFailed(f"{FAULT}: {error}") from None
    if details["backup"]:
        journaled(
            fault=FAULT,
            region=plan.region,
            resource=f"{details['table_arn']}/backup/{details['backup']}",
            change=f"CreateBackup {details['backup']} of {table_name}",
            undoer=BACKUP_UNDOER,
            undo_args={"table_name": table_name, "backup_name": details["backup"]},
            undo_describe=f"DeleteBackup {details['backup']}",
            call=lambda: client.create_backup(TableName=table_name, BackupName=details["backup"]),
            configuration=configuration,
        )
    request: dict[str, Any] = {"SourceTableName": table_name, "TargetTableName": restored}
    asked_point: datetime | None = None
    if age:
        asked_point = _latest(client, table_name) - timedelta(seconds=age)
        request["RestoreDateTime"] = asked_point
    else:
        request["UseLatestRestorableTime"] = True
    # the source's items when the restore is called (the measurement subtracts what
    # the run itself wrote after the restore point: probes.dynamodb_drills)
    count_began = time.monotonic()
    source_items = count_items(client, table_name)
    count_ended = time.monotonic()
    called, called_at = time.monotonic(), datetime.now(UTC)
    answer = journaled(
        fault=FAULT,
        region=plan.region,
        resource=plan.changes[-1].resource,
        change=f"RestoreTableToPointInTime {table_name} -> {restored}",
        undoer=TABLE_UNDOER,
        undo_args={
            "table_name": restored,
            "run_id": run.run_id,
            "source_table": table_name,
            "poll_interval_s": poll,
        },
        undo_describe=f"DeleteTable {restored} (once ACTIVE), waited until gone",
        call=lambda: client.restore_table_to_point_in_time(**request),
        configuration=configuration,
    )["TableDescription"]
    accepted = time.monotonic()
    stamp_injected(FAULT)
    mark_phase("api_accepted", accepted)
    summary = answer.get("RestoreSummary") or {}
    point = summary.get("RestoreDateTime") or asked_point
    arn = str(answer.get("TableArn") or plan.changes[-1].resource)
    detail: dict[str, Any] = {
        "kind": KIND,
        "source": table_name,
        "restored": restored,
        "restore_point": _iso(point) if isinstance(point, datetime) else None,
        "drill_started": _iso(started),
        "latest_restorable_lag_s": lag,
        "phases": [{"name": "api_accepted", "at_s": round(accepted - called, 3)}],
        "verification": None,
        "deleted": False,
        "region": plan.region,
        "resolution_s": poll,
        "called_mono": called,
        "called_at": _iso(called_at),
        "source_items": source_items,
        "source_count_mono": [count_began, count_ended],
        "restored_items": None,
    }
    note_fault_detail("restore", detail)
    try:
        _tag(client, arn, chaos_tags(run, FAULT), poll, deadline)
        active = wait_until(
            lambda: table_status(client, restored) == "ACTIVE",
            poll,
            max(0.0, deadline - time.monotonic()),
            f"restored table {restored} ACTIVE",
        )
        mark_phase("active", active)
        detail["phases"].append({"name": "active", "at_s": round(active - called, 3)})
        read = wait_until(
            lambda: _answers_reads(client, restored),
            poll,
            max(0.0, deadline - time.monotonic()),
            f"first read of {restored}",
        )
    except TimeoutError as error:
        note_fault_detail("restore", detail)
        raise ActivityFailed(f"{FAULT}: {error}") from None
    mark_phase("first_read", read)
    detail["phases"].append({"name": "first_read", "at_s": round(read - called, 3)})
    detail["restored_items"] = count_items(client, restored)
    if detail["restore_point"] is None:  # the answer lacked it: the table's summary has it
        described = client.describe_table(TableName=restored)["Table"]
        moment = (described.get("RestoreSummary") or {}).get("RestoreDateTime")
        detail["restore_point"] = _iso(moment) if isinstance(moment, datetime) else None
    note_fault_detail("restore", detail)
    result = {
        "fault": FAULT,
        "source": table_name,
        "restored": restored,
        "backup": details["backup"],
        "restore_point": detail["restore_point"],
        "latest_restorable_lag_s": lag,
        "restore_rto_s": round(read - called, 3),
        "phases": detail["phases"],
        "source_items": source_items,
        "restored_items": detail["restored_items"],
    }
    logger.info("%s: %s", FAULT, result)
    return result


def delete_drill_resources(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Rollback: delete the restored table (waiting for a restore still running) and
    the backup of this run (ledger replay); records whether they are gone."""
    result = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    restore = fault_details().get("restore")
    if isinstance(restore, dict):
        client = aws_client(
            "dynamodb", configuration, secrets, region=str(restore.get("region") or "") or None
        )
        restore["deleted"] = table_status(client, str(restore["restored"])) is None
        note_fault_detail("restore", restore)
    stamp_reverted(FAULT)
    return result
