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
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.identity import current_run
from chaosaws_ext.dynamodb.conflict import (
    CONFLICT_ERROR,
    FAULT,
    ConflictBatch,
    KeySchema,
    remember_batch,
    run_writers,
)
from chaosaws_ext.dynamodb.planning import (
    build_plan,
    plan_conflicting_writes,  # noqa: F401 - moved there
)
from chaosaws_ext.dynamodb.undo import UNDOER
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.undo import (
    revert_faults,
)

__all__ = ["write_conflicting_items", "delete_conflict_items"]

logger = logging.getLogger("chaosaws_ext")


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


def delete_conflict_items(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Rollback: delete this run's conflict items in the regions written (ledger replay)."""
    result = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    stamp_reverted(FAULT)
    return result
