"""Undo of the DynamoDB restore drill: delete the restored table (once it is ACTIVE:
DynamoDB refuses to delete a table still being created) and wait until it is gone, and
delete the run's on-demand backup; find both by tag and by name when the ledger is lost.
Bounded in time and pages; idempotent (keyed by the names, which carry the run id)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import (
    MANAGED_BY,
    TAG_EXPIRES_AT,
    TAG_MANAGED,
    TAG_RUN_ID,
    expiry_after,
)
from chaosaws_ext.dynamodbrestore import DECLARATION, FAULT
from chaosaws_ext.dynamodbrestore.tables import (
    BACKUP_PREFIX,
    RESTORED_PREFIX,
    error_code,
    restored_table_name,
    run_of_name,
    safe_name,
    table_status,
)
from chaosaws_ext.undo import FinderSkipped, report_incomplete

__all__ = [
    "TABLE_UNDOER",
    "BACKUP_UNDOER",
    "delete_restored_table",
    "delete_drill_backup",
    "find_drill_resources",
]

logger = logging.getLogger(__name__)

TABLE_UNDOER = DECLARATION.undoer_name("delete-table")
BACKUP_UNDOER = DECLARATION.undoer_name("delete-backup")
# How long the undo waits for a restore still running to finish, then for the deletion.
# AWS publishes no restore duration (it depends on the table's size): an hour, or the
# configuration's drill_delete_wait_s.
DELETE_WAIT_S = 3600.0
POLL_S = 1.0
LIST_PAGES = 50  # ListTables / ListBackups pages searched by the finder


def _wait_s(configuration: Configuration | None) -> float:
    return float((configuration or {}).get("drill_delete_wait_s") or DELETE_WAIT_S)


def delete_restored_table(
    table_name: str,
    run_id: str,
    source_table: str = "",
    poll_interval_s: float = POLL_S,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Delete the drill's restored table ``table_name`` and wait until it is gone.

    Refuses a name that is not the run's restored table (never a source table). A table
    still CREATING (the restore running) is waited for, then deleted; absent: done."""
    if source_table and table_name != restored_table_name(run_id, source_table):
        raise ValueError(f"{table_name} is not the restored table of run {run_id}: kept")
    if not table_name.startswith(f"{RESTORED_PREFIX}{safe_name(run_id)}-"):
        raise ValueError(f"{table_name} is not a drill's restored table: kept")
    client = aws_client("dynamodb", configuration, secrets, region=region)
    deadline = time.monotonic() + _wait_s(configuration)
    asked = False
    while True:
        status = table_status(client, table_name)
        if status is None:
            return {"table": table_name, "deleted": asked, "gone": True}
        if status == "ACTIVE":
            try:
                client.delete_table(TableName=table_name)
                asked = True
            except ClientError as error:
                if error_code(error) not in ("ResourceInUseException", "ResourceNotFoundException"):
                    raise
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"table {table_name} still {status} after {_wait_s(configuration):g}s; "
                "run gameday recover again"
            )
        time.sleep(max(0.01, float(poll_interval_s)))


def delete_drill_backup(
    table_name: str,
    backup_name: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Delete every backup of ``table_name`` named ``backup_name`` (ours: the name
    carries the run id); none left: done."""
    if not backup_name.startswith(BACKUP_PREFIX):
        raise ValueError(f"{backup_name} is not a drill's backup: kept")
    client = aws_client("dynamodb", configuration, secrets, region=region)
    deleted = 0
    for summary in _backups(client, table_name):
        if summary.get("BackupName") != backup_name:
            continue
        try:
            client.delete_backup(BackupArn=summary["BackupArn"])
            deleted += 1
        except ClientError as error:
            if error_code(error) not in ("BackupNotFoundException", "ResourceNotFoundException"):
                raise
    return {"backup": backup_name, "deleted": deleted}


def _backups(client: Any, table_name: str | None) -> list[dict[str, Any]]:
    request: dict[str, Any] = {"BackupType": "USER"}
    if table_name:
        request["TableName"] = table_name
    found: list[dict[str, Any]] = []
    for _ in range(LIST_PAGES):
        page = client.list_backups(**request)
        found.extend(page.get("BackupSummaries", []))
        if not page.get("LastEvaluatedBackupArn"):
            return found
        request["ExclusiveStartBackupArn"] = page["LastEvaluatedBackupArn"]
    report_incomplete(f"ListBackups truncated after {LIST_PAGES} pages")
    return found


def _drill_tables(client: Any) -> list[str]:
    request: dict[str, Any] = {}
    names: list[str] = []
    for _ in range(LIST_PAGES):
        page = client.list_tables(**request)
        names.extend(n for n in page.get("TableNames", []) if n.startswith(RESTORED_PREFIX))
        if not page.get("LastEvaluatedTableName"):
            return names
        request["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]
    report_incomplete(f"ListTables truncated after {LIST_PAGES} pages")
    return names


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def find_drill_resources(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Restored tables and backups a crashed drill left, found without the ledger: a
    table named ``chaos-drill-<run id>-...`` that is a restore (``RestoreSummary``) and,
    once tagged, carries ``chaos:managed-by``; a user backup named ``chaos-drill-<run
    id>``. Expiry: the table's ``chaos:expires-at``, else creation + max_fault_seconds."""
    if not region:
        raise FinderSkipped("no region")
    client = aws_client("dynamodb", configuration, secrets, region=region)
    found: list[dict[str, Any]] = []
    try:
        names = _drill_tables(client)
        backups = [b for b in _backups(client, None) if run_of_name(b.get("BackupName", ""))]
    except (ClientError, BotoCoreError) as error:
        report_incomplete(f"dynamodb drill resources in {region} not listed: {error}")
        return []
    for name in names:
        try:
            table = client.describe_table(TableName=name)["Table"]
            tags = {
                t["Key"]: t["Value"]
                for t in client.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
            }
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                continue
            report_incomplete(f"table {name} not readable: {error}")
            continue
        restored = "RestoreSummary" in table
        # tagged: the tag says whose; not yet tagged (killed right after the call): the name
        run_id = tags.get(TAG_RUN_ID) or run_of_name(name)
        if run_id is None or not restored or tags.get(TAG_MANAGED, MANAGED_BY) != MANAGED_BY:
            continue
        expires = tags.get(TAG_EXPIRES_AT) or expiry_after(
            _when(table.get("CreationDateTime")), configuration
        )
        found.append(
            {
                "resource": table["TableArn"],
                "undoer": TABLE_UNDOER,
                "args": {"table_name": name, "run_id": run_id},
                "describe": f"DeleteTable {name} (restored by drill run {run_id})",
                "expires_at": expires,
            }
        )
    for summary in backups:
        label = str(summary["BackupName"])
        found.append(
            {
                "resource": summary["BackupArn"],
                "undoer": BACKUP_UNDOER,
                "args": {"table_name": summary.get("TableName", ""), "backup_name": label},
                "describe": f"DeleteBackup {label} of {summary.get('TableName', '?')}",
                "expires_at": expiry_after(
                    _when(summary.get("BackupCreationDateTime")), configuration
                ),
            }
        )
    logger.info("%s: %d drill resource(s) left in %s", FAULT, len(found), region)
    return found
