"""One run at a time per target: a DynamoDB conditional-write lock.

The lock item is ``{lock_key: <plan.target>, run_id, expires_at (epoch s)}`` in the
table named by configuration ``lock_table`` (env ``GAMEDAY_LOCK_TABLE``), created on
first use (on-demand billing, tagged). A lock whose ``expires_at`` passed is free, so a
killed run cannot block a target for longer than its maximum fault duration.
Acquisition goes through the ledger; its undo releases the lock.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import MANAGED_BY, TAG_MANAGED, TAG_PURPOSE, current_run
from chaosaws_ext.faults import LOCK_DECLARATION
from chaosaws_ext.mutation import journaled
from chaosaws_ext.undo import FinderSkipped, report_incomplete

__all__ = ["lock_table_name", "acquire_target_lock", "release_target_lock"]

logger = logging.getLogger(__name__)
LOCK_FAULT = LOCK_DECLARATION.id  # "target-lock"
LOCK_UNDOER = LOCK_DECLARATION.undoer_name("release-lock")
LOCK_SCAN_PAGES = 20  # a lock table holds one item per target: tens, not thousands


def lock_table_name(configuration: Configuration | None) -> str | None:
    """The lock table (``lock_table`` or ``GAMEDAY_LOCK_TABLE``); None: no locking."""
    name = (configuration or {}).get("lock_table") or os.environ.get("GAMEDAY_LOCK_TABLE")
    return str(name) if name else None


def _ensure_table(client, table: str) -> None:
    try:
        client.describe_table(TableName=table)
        return
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    logger.info("creating lock table %s", table)
    try:
        client.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "lock_key", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "lock_key", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=[
                {"Key": TAG_MANAGED, "Value": MANAGED_BY},
                {"Key": TAG_PURPOSE, "Value": "target-locks"},
            ],
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(
        TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )


def acquire_target_lock(
    target: str, region: str, configuration: Configuration = None, secrets: Secrets = None
) -> bool:
    """Take the lock on ``target`` for this run; refuse when another live run holds it.

    Returns False when locking is not configured.
    """
    table = lock_table_name(configuration)
    if not table:
        return False
    run = current_run(configuration)
    client = aws_client("dynamodb", configuration, secrets, region)
    _ensure_table(client, table)
    now = int(time.time())
    expires = now + int(run.max_fault_seconds) + 600

    def put() -> None:
        client.put_item(
            TableName=table,
            Item={
                "lock_key": {"S": target},
                "run_id": {"S": run.run_id},
                "experiment": {"S": run.experiment[:200]},
                "expires_at": {"N": str(expires)},
            },
            ConditionExpression="attribute_not_exists(lock_key) OR expires_at < :now "
            "OR run_id = :me",
            ExpressionAttributeValues={":now": {"N": str(now)}, ":me": {"S": run.run_id}},
        )

    try:
        journaled(
            fault=LOCK_FAULT,
            region=region,
            resource=f"lock {table}/{target}",
            change=f"lock taken by {run.run_id}",
            undoer=LOCK_UNDOER,
            undo_args={"table": table, "target": target, "run_id": run.run_id},
            undo_describe="delete the lock item if this run still holds it",
            call=put,
            configuration=configuration,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        holder = client.get_item(TableName=table, Key={"lock_key": {"S": target}}).get("Item", {})
        raise ActivityFailed(
            f"target {target} is locked by run {holder.get('run_id', {}).get('S', '?')} "
            f"(experiment {holder.get('experiment', {}).get('S', '?')}); wait for it to end "
            f"or run `gameday recover`"
        ) from error
    return True


def release_target_lock(
    table: str,
    target: str,
    run_id: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> str:
    """Delete the lock item if ``run_id`` still holds it (idempotent)."""
    client = aws_client("dynamodb", configuration, secrets, region)
    try:
        client.delete_item(
            TableName=table,
            Key={"lock_key": {"S": target}},
            ConditionExpression="attribute_not_exists(lock_key) OR run_id = :me",
            ExpressionAttributeValues={":me": {"S": run_id}},
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ConditionalCheckFailedException":
            return "held by another run; left alone"
        if code == "ResourceNotFoundException":
            return "lock table gone"
        raise
    return "released"


def find_lock_items(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Every lock item of the lock table, as an undo spec releasing it; its expiry is the
    item's ``expires_at``, so a lock of a live run is left alone (unless forced) and an
    expired one is released. Locking off (configured empty): nothing to find."""
    table = lock_table_name(configuration)
    if not table:
        if (configuration or {}).get("chaos_recovery_configured"):
            return []  # the experiments' configuration says: no locking
        raise FinderSkipped("no lock table configured (lock_table / GAMEDAY_LOCK_TABLE)")
    client = aws_client("dynamodb", configuration, secrets, region)
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    found: list[dict[str, Any]] = []
    for page_number in range(1, LOCK_SCAN_PAGES + 1):
        try:
            page = client.scan(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return found  # never created in this region: no lock to release
            raise
        for item in page.get("Items", []):
            target = item["lock_key"]["S"]
            run_id = item.get("run_id", {}).get("S", "")
            expires = int(float(item.get("expires_at", {}).get("N") or 0))
            found.append(
                {
                    "resource": f"lock {table}/{target}",
                    "undoer": LOCK_UNDOER,
                    "args": {"table": table, "target": target, "run_id": run_id},
                    "describe": f"release the lock on {target} held by run {run_id}",
                    "expires_at": datetime.fromtimestamp(expires, UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                }
            )
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if page_number == LOCK_SCAN_PAGES:
            report_incomplete(f"scan of lock table {table} truncated at {page_number} pages")
    return found
