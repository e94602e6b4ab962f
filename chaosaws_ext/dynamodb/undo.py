"""Undo of the replica write conflict: delete exactly our items (conditional on our run
id attribute) in the regions written, and find leftovers by key prefix when the ledger is
lost (a bounded scan that says when it was truncated)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import expiry_after
from chaosaws_ext.dynamodb import DECLARATION
from chaosaws_ext.dynamodb.conflict import (
    CLIENT_TS_ATTRIBUTE,
    CONFLICT_ERROR,
    FAULT,
    KEY_PREFIX,
    RUN_ID_ATTRIBUTE,
    UNDO_CONFLICT_ATTEMPTS,
    UNDO_CONFLICT_WAIT_S,
    describe_global_table,
)
from chaosaws_ext.undo import (
    FinderSkipped,
    report_incomplete,
)

__all__ = ["delete_items", "find_conflict_items", "scan_bound"]

logger = logging.getLogger(__name__)

UNDOER = DECLARATION.undoer_name("delete-items")
# Scan bound of the orphan search (configuration orphan_scan_pages / orphan_scan_page_size).
# Limit counts items EVALUATED before the filter, so 20 x 500 examines 10,000 items of a
# big table; past that the search says "truncated" (AWS-FIDELITY #16).
ORPHAN_SCAN_PAGES = 20
ORPHAN_SCAN_PAGE_SIZE = 500


def _delete_ours(client: Any, table_name: str, key: dict[str, Any], run_id: str) -> None:
    """One conditional delete. A strongly consistent table refuses a write while another
    region's write to the item is in flight (ReplicatedWriteConflictException, which the
    undo can meet right after the burst): retried with back-off, bounded in time."""
    deadline = time.monotonic() + UNDO_CONFLICT_WAIT_S
    for attempt in range(UNDO_CONFLICT_ATTEMPTS):
        try:
            client.delete_item(
                TableName=table_name,
                Key=key,
                ConditionExpression="#run = :run",
                ExpressionAttributeNames={"#run": RUN_ID_ATTRIBUTE},
                ExpressionAttributeValues={":run": {"S": run_id}},
            )
            return
        except ClientError as error:
            backoff = min(2.0, 0.2 * 2**attempt)
            if (
                error.response.get("Error", {}).get("Code") != CONFLICT_ERROR
                or time.monotonic() + backoff > deadline
            ):
                raise
            time.sleep(backoff)


def delete_items(
    table_name: str,
    regions: list[str],
    keys: list[dict[str, Any]],
    run_id: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Idempotent: delete exactly ``keys`` in every region, only if they carry ``run_id``.

    A key whose partition key is not ``chaos-<run_id>-...`` is never ours: it is skipped.
    (The ledger stores keys with sorted attribute names, so the partition key is found by
    its value, not by its position.)
    """
    ours = f"{KEY_PREFIX}{run_id}-"
    deleted: dict[str, int] = {}
    for name in regions or [region]:
        client = aws_client("dynamodb", configuration, secrets, region=name)
        count = 0
        for key in keys:
            if not any(str(value.get("S", "")).startswith(ours) for value in key.values()):
                logger.warning("%s is not a key of run %s: refusing to delete it", key, run_id)
                continue
            try:
                # absent already (deleted, or a strongly consistent table deleted it
                # everywhere with the first region): a delete would only risk a conflict
                if "Item" not in client.get_item(
                    TableName=table_name,
                    Key=key,
                    ConsistentRead=True,
                    ProjectionExpression="#run",
                    ExpressionAttributeNames={"#run": RUN_ID_ATTRIBUTE},
                ):
                    continue
                _delete_ours(client, table_name, key, run_id)
                count += 1
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code == "ResourceNotFoundException":
                    logger.info("table %s gone in %s: nothing to delete", table_name, name)
                    break
                if code == "ConditionalCheckFailedException":
                    logger.warning("%s in %s is not from run %s: kept", key, name, run_id)
                    continue
                raise
        deleted[name] = count
    return {"table": table_name, "deleted": deleted}


def scan_bound(configuration: Configuration | None) -> tuple[int, int]:
    """(pages, page size) of the orphan scans, from configuration or the defaults."""
    configuration = configuration or {}
    pages = int(configuration.get("orphan_scan_pages") or ORPHAN_SCAN_PAGES)
    size = int(configuration.get("orphan_scan_page_size") or ORPHAN_SCAN_PAGE_SIZE)
    return max(1, pages), max(1, size)


def find_conflict_items(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Our items left behind, found without the ledger.

    Bounded: only the table named by configuration ``table_name`` (a full-account scan
    would read every table), at most ``orphan_scan_pages`` pages of
    ``orphan_scan_page_size`` items evaluated (reported "truncated" when hit), keys
    starting with ``chaos-`` AND carrying a ``chaos_run_id`` attribute. One undo spec per
    run id, deleting in ``region`` only; its expiry is its last write + max_fault_seconds.
    """
    table_name = (configuration or {}).get("table_name")
    if not table_name:
        raise FinderSkipped("no table_name configured (the experiment's GAMEDAY_TABLE)")
    client = aws_client("dynamodb", configuration, secrets, region=region)
    try:
        client.describe_table(TableName=str(table_name))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []  # no table in this region: none of its items can be left
        report_incomplete(f"table {table_name} not readable: {error}")
        return []
    try:
        facts = describe_global_table(str(table_name), str(region), configuration, secrets)
    except ActivityFailed as error:
        report_incomplete(f"table {table_name} not readable: {error}")
        return []
    if facts.schema.problem():
        report_incomplete(f"table {table_name}: {facts.schema.problem()}")
        return []
    key_names = [facts.schema.hash_name] + (
        [facts.schema.range_name] if facts.schema.range_name else []
    )
    names = {f"#k{i}": name for i, name in enumerate(key_names)}
    names["#run"] = RUN_ID_ATTRIBUTE
    names["#ts"] = CLIENT_TS_ATTRIBUTE
    pages, page_size = scan_bound(configuration)
    request: dict[str, Any] = {
        "TableName": table_name,
        "FilterExpression": "begins_with(#k0, :prefix) AND attribute_exists(#run)",
        "ProjectionExpression": ", ".join(list(names)),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":prefix": {"S": KEY_PREFIX}},
        "Limit": page_size,
    }
    by_run: dict[str, list[dict[str, Any]]] = {}
    last_write: dict[str, float] = {}
    for page_number in range(1, pages + 1):
        try:
            page = client.scan(**request)
        except (ClientError, BotoCoreError) as error:
            report_incomplete(f"scan of {table_name} failed: {error}")
            break
        for item in page.get("Items", []):
            run_id = item[RUN_ID_ATTRIBUTE]["S"]
            by_run.setdefault(run_id, []).append({k: item[k] for k in key_names})
            written = float(item.get(CLIENT_TS_ATTRIBUTE, {}).get("N") or 0)
            last_write[run_id] = max(last_write.get(run_id, 0.0), written)
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if page_number == pages:
            report_incomplete(
                f"scan of {table_name} truncated after {pages} page(s) of {page_size} "
                "items evaluated; raise orphan_scan_pages to search the rest"
            )
    return [
        {
            "resource": f"{FAULT}:{table_name}@{region}",
            "undoer": UNDOER,
            "args": {
                "table_name": table_name,
                "regions": [region],
                "keys": found,
                "run_id": run_id,
            },
            "describe": (
                f"DeleteItem {len(found)} item(s) of run {run_id} from {table_name} in {region}"
            ),
            "expires_at": expiry_after(
                datetime.fromtimestamp(last_write.get(run_id, 0.0), UTC),
                configuration,
            ),
        }
        for run_id, found in sorted(by_run.items())
    ]
