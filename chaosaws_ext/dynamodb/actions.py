"""DynamoDB global-table replica write conflict (fault ``dynamodb-conflict``).

:func:`write_conflicting_items` writes the same item(s) from two or more replica regions
at the same moment, as two active-active application stacks would. With the default
multi-region eventual consistency DynamoDB resolves the conflict by "last writer wins",
so some acknowledged writes silently disappear; with multi-region strong consistency
the concurrent write fails with ``ReplicatedWriteConflictException`` instead. The
convergence probe (:func:`chaosaws_ext.dynamodb.probes.wait_for_convergence`) measures
which.

Only items of our own are touched: partition key ``chaos-<run id>-<n>`` (sort key, if
any, ``chaos-conflict`` or ``0``) carrying a ``chaos_run_id`` attribute. Each region's
keys are in the ledger before its first write; the undo deletes exactly those keys in
the regions written, from which the deletes replicate (:func:`delete_conflict_items`).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import current_run, expiry_after
from chaosaws_ext.dynamodb.conflict import (
    CLIENT_TS_ATTRIBUTE,
    CONFLICT_ERROR,
    FAULT,
    KEY_PREFIX,
    RUN_ID_ATTRIBUTE,
    UNDO_CONFLICT_ATTEMPTS,
    UNDO_CONFLICT_WAIT_S,
    ConflictBatch,
    KeySchema,
    build_plan,
    describe_global_table,
    remember_batch,
    run_writers,
)
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.planning import FaultPlan
from chaosaws_ext.undo import (
    FinderSkipped,
    orphan_finder,
    report_incomplete,
    revert_faults,
    undoer,
)

__all__ = ["write_conflicting_items", "delete_conflict_items"]

logger = logging.getLogger("chaosaws_ext")

UNDOER = "dynamodb-delete-conflict-items"
# Scan bound of the orphan search (configuration orphan_scan_pages / orphan_scan_page_size).
# Limit counts items EVALUATED before the filter, so 20 x 500 examines 10,000 items of a
# big table; past that the search says "truncated" (AWS-FIDELITY #16).
ORPHAN_SCAN_PAGES = 20
ORPHAN_SCAN_PAGE_SIZE = 500


def write_conflicting_items(
    table_name: str,
    regions: list[str] | str | None = None,
    keys: int = 1,
    writes_per_region: int = 10,
    timeout: float = 60,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Write ``writes_per_region`` conflicting versions of ``keys`` item(s) from each
    of ``regions`` at once. Default: two replicas, this region and configuration
    ``other_region`` (else the first other active replica); ``"all"``: every active
    replica. The undo deletes in the regions written only.

    Refuses, before any write, an unknown table, a table with fewer than two active
    replicas, a region that is not a replica, and absurd counts (keys 1..25,
    writes_per_region 1..1000). ``timeout`` bounds the whole write burst.
    """
    run = current_run(configuration)
    plan = build_plan(
        table_name, run, regions, keys, writes_per_region, timeout, configuration, secrets
    )
    check_plan(plan, configuration, secrets)
    details = plan.details
    wanted: list[str] = details["regions"]
    per_region = int(details["writes_per_region"])
    schema = KeySchema(*details["key_schema"]["hash"], *details["key_schema"]["range"])
    batch = ConflictBatch(
        run_id=run.run_id,
        table=table_name,
        regions=wanted,
        schema=schema,
        keys=details["keys"],
        strong=details["mode"] == "STRONG",
    )
    remember_batch(batch)
    labels = [schema.label(k) for k in batch.keys]
    deadline = time.monotonic() + float(details["timeout_s"])
    barrier = threading.Barrier(len(wanted))

    def one_region(region: str) -> list[Any]:
        try:
            return _journaled_writes(region)
        except BaseException:
            barrier.abort()  # the other regions must not wait for this one
            raise

    def _journaled_writes(region: str) -> list[Any]:
        return journaled(
            fault=FAULT,
            region=region,
            resource=f"{FAULT}:{table_name}@{region}",
            change=f"{per_region} conflicting PutItem per key on {', '.join(labels)}",
            undoer=UNDOER,
            # only the regions written: each delete is later than every write, so it
            # replicates to the other replicas too (last writer wins; MRSC deletes
            # everywhere at once), and no further region's access is needed
            undo_args={
                "table_name": table_name,
                "regions": wanted,
                "keys": batch.keys,
                "run_id": run.run_id,
            },
            undo_describe=(f"DeleteItem {', '.join(labels)} in {', '.join(wanted)}"),
            call=lambda: run_writers(
                batch, region, per_region, barrier, deadline, configuration, secrets
            ),
            configuration=configuration,
        )

    started = time.monotonic()
    with ThreadPoolExecutor(
        max_workers=len(wanted), thread_name_prefix="dynamodb-conflict"
    ) as pool:
        futures = [pool.submit(one_region, region) for region in wanted]
        failures = []
        for future in futures:
            try:
                batch.writes.extend(
                    future.result(timeout=max(1.0, deadline - time.monotonic() + 30))
                )
            except threading.BrokenBarrierError:
                failures.append("the regions' writers could not start together")
            except Exception as error:  # noqa: BLE001 - reported below, undo stays in the ledger
                failures.append(str(error) or type(error).__name__)
    batch.burst_s = round(time.monotonic() - started, 3)
    acked = [w for w in batch.writes if w.acked is not None]
    if failures and not acked:  # nothing was written: no injection to stamp
        raise ActivityFailed(f"{FAULT} on {table_name}: " + "; ".join(sorted(set(failures))))
    stamp = stamp_injected(FAULT)
    batch.t0 = stamp.monotonic
    if failures:
        raise ActivityFailed(f"{FAULT} on {table_name}: " + "; ".join(sorted(set(failures))))
    errors: dict[str, int] = {}
    for write in batch.writes:
        if write.error:
            errors[write.error] = errors.get(write.error, 0) + 1
    result = {
        "fault": FAULT,
        "table": table_name,
        "regions": wanted,
        "mode": details["mode"],
        "run_id": run.run_id,
        "keys": labels,
        "writes": len(batch.writes),
        "acknowledged": len(acked),
        "failed": len(batch.writes) - len(acked),
        "errors": errors,
        "replicated_write_conflicts": errors.get(CONFLICT_ERROR, 0),
        "burst_s": batch.burst_s,
        "injected_at": stamp.wall,
    }
    logger.info("%s: %s", FAULT, result)
    return result


def plan_conflicting_writes(
    table_name: str,
    regions: list[str] | str | None = None,
    keys: int = 1,
    writes_per_region: int = 10,
    timeout: float = 60,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of :func:`write_conflicting_items` (same arguments), for
    ``gameday plan``; raises ActivityFailed with the refusal, changes nothing."""
    return build_plan(
        table_name,
        current_run(configuration),
        regions,
        keys,
        writes_per_region,
        timeout,
        configuration,
        secrets,
    )


def delete_conflict_items(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Rollback: delete this run's conflict items in the regions written (ledger replay)."""
    result = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    stamp_reverted(FAULT)
    return result


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


@undoer(UNDOER)
def _delete_items(
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


@orphan_finder(FAULT)
def _find_conflict_items(
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
