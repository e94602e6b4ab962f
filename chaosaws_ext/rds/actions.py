"""Forced RDS failover (fault ``rds-failover``) and its "undo": wait until available.

A failover cannot be taken back (failing back would be a second outage), so the
ledger's undo for it is a no-op that verifies the DB is available again, bounded and
idempotent. ``gameday recover`` therefore waits for availability instead of failing.

Both inject actions are split into a read-only plan (:mod:`chaosaws_ext.rds.planning`),
the guardrail check, and one journaled mutating call.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.core.clock import iso_utc
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted, stamp_skipped
from chaosaws_ext.planning import FaultPlan
from chaosaws_ext.rds import FAULT
from chaosaws_ext.rds.availability import SETTLED_POLL_INTERVAL_S, read_state, wait_available
from chaosaws_ext.rds.injections import Injection, remember
from chaosaws_ext.rds.planning import (
    plan_cluster_failover,
    plan_failover_if_writer_in_az,
    plan_instance_failover,
)
from chaosaws_ext.rds.undo import failover_entry
from chaosaws_ext.undo import revert_faults

__all__ = [
    "failover_db_instance",
    "failover_db_cluster",
    "failover_if_writer_in_az",
    "wait_for_db_available",
]

logger = logging.getLogger("chaosaws_ext")


def _now() -> str:
    return iso_utc()


def _inject(
    plan_details: dict[str, Any],
    kind: str,
    db_id: str,
    region: str,
    change: str,
    call: Any,
    target: str | None,
    configuration: Configuration,
) -> dict[str, Any]:
    called_at = _now()
    journaled(
        fault=FAULT,
        region=region,
        **failover_entry(kind, db_id, change),
        call=call,
        configuration=configuration,
    )
    stamp = stamp_injected(FAULT)
    injection = Injection(
        db_id=db_id,
        kind=kind,
        region=region,
        writer_az_before=plan_details.get("writer_az_before"),
        writer_instance_before=plan_details.get("writer_instance_before"),
        target_instance=target,
        called_at=called_at,
        injected_at=stamp.wall,
        injected_monotonic=stamp.monotonic,
    )
    remember(injection)
    return {
        "fault": FAULT,
        "kind": kind,
        "db": db_id,
        "region": region,
        "writer_az_before": injection.writer_az_before,
        "writer_instance_before": injection.writer_instance_before,
        "target_instance": target,
        "called_at": called_at,
        "injected_at": stamp.wall,
    }


def failover_db_instance(
    db_instance_identifier: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Force a Multi-AZ DB instance to fail over to its standby (reboot, ForceFailover).

    Refuses, before any mutation, an unknown instance, a single-AZ one (that would be a
    plain reboot), a cluster member and an instance that is not ``available``. Returns
    the primary AZ before and the injection time; the completion probe reports after.
    """
    plan = plan_instance_failover(db_instance_identifier, configuration, secrets)
    check_plan(plan, configuration, secrets)
    return _execute(plan, configuration, secrets)


def failover_db_cluster(
    db_cluster_identifier: str,
    target_db_instance_identifier: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Fail an Aurora or Multi-AZ DB cluster over to a reader.

    Without ``target_db_instance_identifier`` a reader is chosen explicitly (best
    promotion tier, another AZ than the writer first). Refuses an unknown cluster, one
    that is not ``available`` and one without an available reader, before mutating.
    """
    plan = plan_cluster_failover(
        db_cluster_identifier, target_db_instance_identifier, configuration, secrets
    )
    check_plan(plan, configuration, secrets)
    return _execute(plan, configuration, secrets)


def _execute(plan: FaultPlan, configuration: Configuration, secrets: Secrets) -> dict[str, Any]:
    """Fail over the DB of a checked plan (instance: ForceFailover; cluster: its reader)."""
    region = plan.region
    rds = aws_client("rds", configuration, secrets, region)
    if plan.details["kind"] == "db-instance":
        db_id = str(plan.details["db_instance_identifier"])
        return _inject(
            plan.details,
            "db-instance",
            db_id,
            region,
            plan.changes[0].change,
            lambda: rds.reboot_db_instance(DBInstanceIdentifier=db_id, ForceFailover=True),
            None,
            configuration,
        )
    db_id = str(plan.details["db_cluster_identifier"])
    target = str(plan.details["target_db_instance_identifier"])
    return _inject(
        plan.details,
        "db-cluster",
        db_id,
        region,
        plan.changes[0].change,
        lambda: rds.failover_db_cluster(
            DBClusterIdentifier=db_id, TargetDBInstanceIdentifier=target
        ),
        target,
        configuration,
    )


def failover_if_writer_in_az(
    availability_zone: str,
    db_instance_identifier: str = "",
    db_cluster_identifier: str = "",
    tag_key: str = "",
    tag_value: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Fail the database over only if its writer is in ``availability_zone`` (the RDS
    step of an AZ power interruption, as AWS FIS's scenario: Multi-AZ instance, reboot
    with ForceFailover; Aurora or Multi-AZ cluster, failover to a reader).

    Select by ``db_instance_identifier``, ``db_cluster_identifier`` or ``tag_key`` /
    ``tag_value``. With the writer elsewhere (or nothing tagged) nothing is changed and
    the result is ``{"skipped": true, "reason": ...}``, stamped on the run's timeline;
    otherwise the same checks, ledger entry, undo and t0 as the failover actions.
    """
    plan = plan_failover_if_writer_in_az(
        availability_zone,
        db_instance_identifier,
        db_cluster_identifier,
        tag_key,
        tag_value,
        configuration,
        secrets,
    )
    if plan.skipped:
        logger.info("%s skipped: %s", FAULT, plan.skipped)
        stamp = stamp_skipped(FAULT, plan.skipped)
        return {
            "fault": FAULT,
            "skipped": True,
            "reason": plan.skipped,
            "availability_zone": availability_zone,
            "writers": plan.details.get("writers"),
            "skipped_at": stamp.wall,
        }
    check_plan(plan, configuration, secrets)
    result = _execute(plan, configuration, secrets)
    return {**result, "skipped": False, "availability_zone": availability_zone}


def wait_for_db_available(
    db_instance_identifier: str | None = None,
    db_cluster_identifier: str | None = None,
    timeout: float = 600,
    poll_interval: float = SETTLED_POLL_INTERVAL_S,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Rollback of ``rds-failover``: wait until every failed-over DB is available again.

    Replays this run's unreverted ``rds-failover`` ledger entries (each waits for its
    DB, then is marked reverted), then waits for the named DB, if any, at most
    ``timeout`` seconds. Idempotent.
    """
    timeout = checked_number(timeout, "timeout", above=True, activity="wait_for_db_available")
    poll_interval = checked_number(
        poll_interval, "poll_interval", above=True, activity="wait_for_db_available"
    )
    if db_instance_identifier and db_cluster_identifier:
        raise ActivityFailed("name db_instance_identifier or db_cluster_identifier, not both")
    started = time.monotonic()
    replayed = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    result: dict[str, Any] = {"reverted": replayed["reverted"], "db": None, "status": None}
    kind, db_id = (
        ("db-instance", db_instance_identifier)
        if db_instance_identifier
        else ("db-cluster", db_cluster_identifier)
    )
    if db_id:
        region = region_of(configuration)
        rds = aws_client("rds", configuration, secrets, region)
        state = read_state(rds, kind, db_id)
        if state is None:
            raise ActivityFailed(f"no {kind} {db_id!r} in {region}")
        remaining = max(0.0, timeout - (time.monotonic() - started))
        wait_available(rds, kind, db_id, timeout=remaining, poll_interval=poll_interval)
        result.update(db=db_id, status="available")
    if replayed["reverted"]:
        stamp_reverted(FAULT)
    result["waited_s"] = round(time.monotonic() - started, 3)
    return result
