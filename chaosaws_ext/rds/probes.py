"""Probes of the ``rds-failover`` fault: steady state and completion of the failover."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.core.clock import iso_utc
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.core.timeline import mark_phase
from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.rds import FAULT
from chaosaws_ext.rds.availability import (
    SETTLED_POLL_INTERVAL_S,
    DbState,
    read_state,
    wait_available,
)
from chaosaws_ext.rds.injections import recall, recall_all
from chaosaws_ext.rds.instances import describe_instance

__all__ = [
    "db_instance_multi_az_available",
    "wait_for_failover_completion",
    "wait_for_failovers_of_run",
]

logger = logging.getLogger("chaosaws_ext")

TRANSITION_TIMEOUT_S = 60.0  # real AWS may still say "available" right after the call
MAX_EVENT_PAGES = 5


def db_instance_multi_az_available(
    db_instance_identifier: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when the DB instance is ``available`` and Multi-AZ (a failover is possible)."""
    region = region_of(configuration)
    rds = aws_client("rds", configuration, secrets, region)
    try:
        db = describe_instance(rds, db_instance_identifier, region)
    except ActivityFailed:
        return False
    return db.get("DBInstanceStatus") == "available" and bool(db.get("MultiAZ"))


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return iso_utc(moment)


def _events(rds: Any, kind: str, db_id: str, since: datetime) -> list[dict[str, str]]:
    """RDS events of the DB since ``since`` as small dicts (bounded number of pages)."""
    found: list[dict[str, str]] = []
    pages = rds.get_paginator("describe_events").paginate(
        SourceIdentifier=db_id,
        SourceType=kind,
        StartTime=since,
        PaginationConfig={"PageSize": 100, "MaxItems": 100 * MAX_EVENT_PAGES},
    )
    for page in pages:
        for event in page.get("Events", []):
            moment = event.get("Date")
            if moment is None or moment < since:  # not every endpoint honours StartTime
                continue
            found.append({"time": _iso(moment), "message": str(event.get("Message", ""))})
    found.sort(key=lambda e: e["time"])
    return found


def wait_for_failover_completion(
    db_instance_identifier: str | None = None,
    db_cluster_identifier: str | None = None,
    timeout: float = 600,
    writer_az_before: str | None = None,
    writer_instance_before: str | None = None,
    injected_at: str | None = None,
    poll_interval: float = 1.0,
    transition_timeout: float = TRANSITION_TIMEOUT_S,
    settled_poll_interval: float = SETTLED_POLL_INTERVAL_S,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Wait (bounded) until the failover is over and report what the control plane saw.

    Name one DB. The before-values come from the arguments or from the inject action
    of this process. First waits (at most ``transition_timeout``) to see the DB leave
    ``available`` or its writer move (on AWS the status may still read ``available``
    just after the call), polling every ``poll_interval``; then waits for ``available``
    (a cluster: and every member instance), polling every ``settled_poll_interval``
    (the RDS API budget is shared: see SETTLED_POLL_INTERVAL_S), at most ``timeout`` in
    all. The control-plane duration's resolution is therefore ``settled_poll_interval``.
    Reports writer AZ (and writer instance) before/after, ``changed``, the
    control-plane duration in seconds (monotonic, from the injection when known) and
    the RDS events since the injection.
    """
    where = "wait_for_failover_completion"
    timeout = checked_number(timeout, "timeout", above=True, activity=where)
    poll_interval = checked_number(poll_interval, "poll_interval", above=True, activity=where)
    transition_timeout = checked_number(
        transition_timeout, "transition_timeout", above=True, activity=where
    )
    settled_poll_interval = checked_number(
        settled_poll_interval, "settled_poll_interval", above=True, activity=where
    )
    if bool(db_instance_identifier) == bool(db_cluster_identifier):
        raise ActivityFailed("name exactly one of db_instance_identifier or db_cluster_identifier")
    kind, db_id = (
        ("db-instance", str(db_instance_identifier))
        if db_instance_identifier
        else ("db-cluster", str(db_cluster_identifier))
    )
    region = region_of(configuration)
    rds = aws_client("rds", configuration, secrets, region)
    started = time.monotonic()
    injection = recall(kind, db_id)
    t0 = injection.injected_monotonic if injection else started
    az_before = writer_az_before or (injection.writer_az_before if injection else None)
    writer_before = writer_instance_before or (
        injection.writer_instance_before if injection else None
    )
    # events from just before the mutating call ("failover started" may precede its return)
    since = _parse_time(injected_at) or _parse_time(injection.called_at if injection else None)

    first = read_state(rds, kind, db_id)
    if first is None:
        raise ActivityFailed(f"no {kind} {db_id!r} in {region}")
    if az_before is None and writer_before is None:
        logger.warning("no before-values for %s: 'changed' compares with now", db_id)
        az_before, writer_before = first.writer_az, first.writer_instance
    if since is None:  # no injection known: events from now on
        since = datetime.now(UTC)

    def moved(state: DbState) -> bool:
        if kind == "db-cluster" and writer_before:
            return state.writer_instance != writer_before
        return state.writer_az != az_before

    def transition() -> DbState | None:
        state = read_state(rds, kind, db_id)
        if state is None:
            raise ActivityFailed(f"{kind} {db_id!r} disappeared during the failover")
        return state if state.status != "available" or moved(state) else None

    left_available = first.status != "available"
    if not left_available and not moved(first):
        try:
            seen = wait_until(
                transition,
                timeout=min(transition_timeout, timeout),
                interval=poll_interval,
                what=f"{db_id} to start failing over",
            )
            left_available = seen.status != "available"
        except WaitTimedOut:
            logger.warning("%s never left 'available' nor moved its writer", db_id)
    settled = float(settled_poll_interval)
    if settled <= 0:
        raise ActivityFailed(f"settled_poll_interval must be > 0 s, got {settled_poll_interval!r}")
    remaining = max(0.0, timeout - (time.monotonic() - started))
    try:
        wait_available(rds, kind, db_id, timeout=remaining, poll_interval=settled)
    except WaitTimedOut as error:
        state = read_state(rds, kind, db_id)
        status = state.status if state else "gone"
        if status == "available":  # a cluster whose members are not: say which
            raise
        raise WaitTimedOut(
            f"{kind} {db_id!r} still {status!r} after {timeout:g}s; check it in the RDS console"
        ) from error
    mark_phase("control_plane", fault=FAULT)
    duration = time.monotonic() - t0
    after = read_state(rds, kind, db_id)
    assert after is not None  # wait_available raised otherwise
    if moved(after):
        mark_phase("az_changed", fault=FAULT)
    result: dict[str, Any] = {
        "kind": kind,
        "db": db_id,
        "status": after.status,
        "writer_az_before": az_before,
        "writer_az_after": after.writer_az,
        "changed": moved(after),
        "left_available": left_available,
        "control_plane_s": round(duration, 3),
        "resolution_s": settled,
        "transition_poll_s": poll_interval,
        "events": _events(rds, kind, db_id, since),
    }
    if kind == "db-cluster":
        result["writer_instance_before"] = writer_before
        result["writer_instance_after"] = after.writer_instance
    else:
        result["secondary_az_after"] = after.secondary_az
    return result


def wait_for_failovers_of_run(
    timeout: float = 600,
    poll_interval: float = 1.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """:func:`wait_for_failover_completion` for every failover this process injected
    (a scenario whose RDS step may have been skipped: then ``{"skipped": true}`` at
    once, nothing waited for). Same phases (``control_plane``, ``az_changed``)."""
    where = "wait_for_failovers_of_run"
    timeout = checked_number(timeout, "timeout", above=True, activity=where)
    poll_interval = checked_number(poll_interval, "poll_interval", above=True, activity=where)
    injections = recall_all()
    if not injections:
        return {"skipped": True, "reason": "no failover was injected in this run", "waited": []}
    started = time.monotonic()
    waited = []
    for injection in injections:
        remaining = max(poll_interval, timeout - (time.monotonic() - started))
        instance = injection.db_id if injection.kind == "db-instance" else None
        cluster = injection.db_id if injection.kind == "db-cluster" else None
        waited.append(
            wait_for_failover_completion(
                db_instance_identifier=instance,
                db_cluster_identifier=cluster,
                timeout=remaining,
                poll_interval=poll_interval,
                configuration=configuration,
                secrets=secrets,
            )
        )
    return {"skipped": False, "waited": waited}
