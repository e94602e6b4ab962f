"""The read-only plan of the DynamoDB restore drill: the source's restore window, the
table and backup that would be created (with their undo), and the refusals."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.core.identity import RunContext, current_run
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.dynamodbrestore import FAULT
from chaosaws_ext.dynamodbrestore.tables import (
    backup_name,
    error_code,
    restore_window,
    restored_table_name,
    table_status,
)
from chaosaws_ext.planning import FaultPlan, PlannedChange

__all__ = ["plan_table_restore", "build_plan"]


def _number(value: Any, name: str, above: bool = False) -> float:
    return checked_number(value, name, above=above, activity=f"refusing {FAULT}")


def build_plan(
    table_name: str,
    run: RunContext,
    restore_point_age_s: float = 0,
    history_s: float = 1.0,
    backup: bool = True,
    poll_interval_s: float = 1.0,
    timeout: float | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of :func:`~chaosaws_ext.dynamodbrestore.actions.restore_table_drill`;
    ActivityFailed (one line naming every problem) when refused."""
    region = region_of(configuration)
    age = _number(restore_point_age_s, "restore_point_age_s")
    history = _number(history_s, "history_s")
    poll = _number(poll_interval_s, "poll_interval_s", above=True)
    # None, "" or 0: the drill may take as long as the run may keep its fault
    asked = 0.0 if timeout in (None, "") else _number(timeout, "timeout")
    bound = asked or run.max_fault_seconds
    problems = []
    if not table_name:
        problems.append("table_name is empty")
    if age < 0:
        problems.append(f"restore_point_age_s must be >= 0, got {age:g}")
    if history < 0:
        problems.append(f"history_s must be >= 0, got {history:g}")
    if not 0 < poll <= 60:
        problems.append(f"poll_interval_s must be in (0, 60], got {poll:g}")
    if not 0 < bound <= run.max_fault_seconds:
        problems.append(f"timeout must be in (0, {run.max_fault_seconds:g}] s, got {bound:g}")
    if problems:
        raise ActivityFailed(f"refusing {FAULT}: " + "; ".join(problems))
    client = aws_client("dynamodb", configuration, secrets, region=region)
    try:
        source = client.describe_table(TableName=table_name)["Table"]
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise ActivityFailed(
                f"refusing {FAULT}: table {table_name} not found in {region}"
            ) from None
        raise
    window = restore_window(client, table_name)
    if not window.enabled:
        problems.append(
            f"point-in-time recovery is not enabled on {table_name} (the drill never "
            "changes the source: enable it there first)"
        )
    restored = restored_table_name(run.run_id, table_name)
    if table_status(client, restored) is not None:
        problems.append(f"table {restored} already exists: refusing to restore over it")
    backup = bool(backup) and str(backup).lower() not in ("false", "0", "no")
    backup_label = backup_name(run.run_id)
    if backup and any(
        b.get("BackupName") == backup_label
        for b in client.list_backups(TableName=table_name).get("BackupSummaries", [])
    ):
        problems.append(f"backup {backup_label} of {table_name} already exists")
    if problems:
        raise ActivityFailed(f"refusing {FAULT}: " + "; ".join(problems))
    billing = (source.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    indexes = [i["IndexName"] for i in source.get("GlobalSecondaryIndexes") or []]
    arn = str(source["TableArn"])
    restored_arn = arn.rsplit("/", 1)[0] + f"/{restored}"
    point = "the latest restorable time" + (f" - {age:g}s" if age else "")
    changes = [
        PlannedChange(
            resource=restored_arn,
            change=(
                f"RestoreTableToPointInTime of {table_name} as of {point} into the new table "
                f"{restored} (billing {billing}, {source.get('ItemCount', 0)} items, "
                f"{source.get('TableSizeBytes', 0)} bytes, indexes {', '.join(indexes) or 'none'}),"
                " tagged chaos:*"
            ),
            undo=f"DeleteTable {restored} (after it is ACTIVE), waited until gone",
            resource_tags={},
            kind="table",
        )
    ]
    if backup:
        changes.insert(
            0,
            PlannedChange(
                resource=f"{arn}/backup/{backup_label}",
                change=f"CreateBackup {backup_label} of {table_name} (on-demand)",
                undo=f"DeleteBackup {backup_label}",
                resource_tags={},
                kind="backup",
            ),
        )
    return FaultPlan(
        fault=FAULT,
        region=region,
        target=f"{FAULT}:{table_name}",
        changes=changes,
        details={
            "table": table_name,
            "table_arn": arn,
            "restored_table": restored,
            "backup": backup_label if backup else None,
            "billing_mode": billing,
            "restore_point_age_s": age,
            "history_s": history,
            "poll_interval_s": poll,
            "timeout_s": bound,
            "earliest_restorable": window.earliest.isoformat() if window.earliest else None,
            "latest_restorable": window.latest.isoformat() if window.latest else None,
        },
    )


def plan_table_restore(
    table_name: str,
    restore_point_age_s: float = 0,
    history_s: float = 1.0,
    backup: bool = True,
    poll_interval_s: float = 1.0,
    timeout: float | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of ``restore_table_drill`` (same arguments), for ``gameday plan``;
    raises ActivityFailed with the refusal, changes nothing."""
    return build_plan(
        table_name,
        current_run(configuration),
        restore_point_age_s,
        history_s,
        backup,
        poll_interval_s,
        timeout,
        configuration,
        secrets,
    )
