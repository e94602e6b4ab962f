"""Probes of the DynamoDB replica write-conflict fault: replicas present, convergence."""

from __future__ import annotations

import logging
import time
from itertools import pairwise
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.core.identity import current_run
from chaosaws_ext.core.numbers import checked_integer, checked_number
from chaosaws_ext.core.timeline import mark_phase, note_fault_detail
from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.dynamodb.conflict import (
    CONFLICT_ERROR,
    FAULT,
    SEQ_ATTRIBUTE,
    WRITER_ATTRIBUTE,
    ConflictBatch,
    analyse_key,
    describe_global_table,
    last_batch,
)

__all__ = ["table_has_active_replicas", "wait_for_convergence"]

logger = logging.getLogger("chaosaws_ext")

MAX_SEEN_PER_KEY = 50
Value = tuple[str, int] | None  # (writer region, seq) or absent


def table_has_active_replicas(
    table_name: str,
    min_replicas: int = 2,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when the table is ACTIVE in at least ``min_replicas`` regions (itself included)."""
    min_replicas = checked_integer(
        min_replicas, "min_replicas", minimum=1, activity="table_has_active_replicas"
    )
    try:
        facts = describe_global_table(table_name, region_of(configuration), configuration, secrets)
    except ActivityFailed as error:
        logger.warning("%s", error)
        return False
    logger.info(
        "%s replicas: active %s, not active %s", table_name, facts.replica_regions, facts.inactive
    )
    return len(facts.replica_regions) >= int(min_replicas)


def _read(client: Any, batch: ConflictBatch, key: dict[str, Any]) -> Value:
    item = client.get_item(
        TableName=batch.table,
        Key=key,
        ConsistentRead=True,
        ProjectionExpression="#w, #s",
        ExpressionAttributeNames={"#w": WRITER_ATTRIBUTE, "#s": SEQ_ATTRIBUTE},
    ).get("Item")
    if not item or WRITER_ATTRIBUTE not in item:
        return None
    return item[WRITER_ATTRIBUTE]["S"], int(item[SEQ_ATTRIBUTE]["N"])


def wait_for_convergence(
    timeout: float = 60,
    interval: float = 0.1,
    settle_polls: int = 2,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Poll every region (strongly consistent reads) until all hold the same version of
    each key written by this run's ``write_conflicting_items``; at most ``timeout`` s.

    Per key: the values seen per region over time (``[t_s, region, writer, seq]``,
    t from the injection, changes only), converged or not and after how long, the
    winner and whether it is the last writer, and the acknowledged writes silently
    lost. On a multi-region strongly consistent table, lost is not applicable and the
    ``ReplicatedWriteConflictException`` count is the figure.
    """
    where = "wait_for_convergence"
    timeout = checked_number(timeout, "timeout", above=True, activity=where)
    interval = checked_number(interval, "interval", above=True, activity=where)
    settle_polls = checked_integer(settle_polls, "settle_polls", minimum=1, activity=where)
    run = current_run(configuration)
    batch = last_batch(run.run_id)
    if batch is None or batch.t0 is None:
        raise ActivityFailed(
            f"{FAULT}: no conflicting writes of run {run.run_id} in this process; "
            "run write_conflicting_items first"
        )
    timeout, interval = float(timeout), max(0.01, float(interval))
    settle = max(1, int(settle_polls))
    clients = {r: aws_client("dynamodb", configuration, secrets, region=r) for r in batch.regions}
    current: dict[tuple[int, str], Value] = {}
    seen: dict[int, list[list[Any]]] = {i: [] for i in range(len(batch.keys))}
    agreed_since: dict[int, float | None] = {i: None for i in range(len(batch.keys))}
    agreed_polls = dict.fromkeys(range(len(batch.keys)), 0)
    errors: dict[str, int] = {}
    rounds: list[float] = []

    def poll() -> bool:
        rounds.append(time.monotonic())
        for index, key in enumerate(batch.keys):
            values = []
            for region, client in clients.items():
                try:
                    value = _read(client, batch, key)
                except (ClientError, BotoCoreError) as error:
                    code = type(error).__name__
                    if isinstance(error, ClientError):
                        code = str(error.response.get("Error", {}).get("Code"))
                    errors[code] = errors.get(code, 0) + 1
                    value = ("?", -1)
                at = round(time.monotonic() - batch.t0, 3)  # type: ignore[operator]
                if (index, region) not in current or current[(index, region)] != value:
                    current[(index, region)] = value
                    if len(seen[index]) < MAX_SEEN_PER_KEY and value != ("?", -1):
                        seen[index].append([at, region, *(value or (None, None))])
                values.append(value)
            same = values[0] is not None and values[0] != ("?", -1) and len(set(values)) == 1
            if same:
                if agreed_polls[index] == 0:
                    agreed_since[index] = time.monotonic() - batch.t0  # type: ignore[operator]
                agreed_polls[index] += 1
            else:
                agreed_polls[index], agreed_since[index] = 0, None
        return all(n >= settle for n in agreed_polls.values())

    converged = True
    try:
        wait_until(poll, timeout=timeout, interval=interval, what=f"{FAULT} convergence")
    except WaitTimedOut:
        converged = False
    reports = []
    for index in range(len(batch.keys)):
        done = agreed_polls[index] >= settle
        final = current.get((index, batch.regions[0])) if done else None
        reports.append(
            analyse_key(
                batch,
                index,
                final,
                max(0.0, agreed_since[index]) if done and agreed_since[index] is not None else None,
                seen[index],
            )
        )
    times = [r["converged_after_s"] for r in reports if r["converged_after_s"] is not None]
    lost = [r["lost"] for r in reports]
    result = {
        "fault": FAULT,
        "table": batch.table,
        "regions": batch.regions,
        "mode": "STRONG" if batch.strong else "EVENTUAL",
        "converged": converged and all(r["converged"] for r in reports),
        "time_to_converge_s": max(times) if times and len(times) == len(reports) else None,
        "timeout_s": timeout,
        # a convergence time is known to within the longest gap between two poll rounds
        "resolution_s": round(max((b - a for a, b in pairwise(rounds)), default=0.0), 3),
        "poll_rounds": len(rounds),
        "writes": len(batch.writes),
        "acknowledged": sum(1 for w in batch.writes if w.acked is not None),
        "replicated_write_conflicts": sum(1 for w in batch.writes if w.error == CONFLICT_ERROR),
        "lost": None if batch.strong or None in lost else sum(lost),
        "winner_is_last_writer": all(r["winner_is_last_writer"] for r in reports),
        "lww_consistent": all(r["lww_consistent"] for r in reports),
        "burst_s": batch.burst_s,
        "read_errors": errors,
        "keys": reports,
    }
    if result["converged"] and result["time_to_converge_s"] is not None:
        mark_phase("conflict_converged", monotonic=batch.t0 + result["time_to_converge_s"])
    note_fault_detail("conflict", {k: v for k, v in result.items() if k != "keys"})
    logger.info(
        "%s: converged=%s in %ss, lost=%s, conflicts=%s",
        FAULT,
        result["converged"],
        result["time_to_converge_s"],
        result["lost"],
        result["replicated_write_conflicts"],
    )
    return result
