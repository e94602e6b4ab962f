"""The state of a DB instance or cluster, and the bounded wait for it to be available."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.waiting import WaitTimedOut, waiter_config
from chaosaws_ext.rds.instances import cluster_writer

__all__ = ["DbState", "read_state", "wait_available", "KINDS", "SETTLED_POLL_INTERVAL_S"]

KINDS = ("db-instance", "db-cluster")
# Polling once the failover is under way: the RDS API allows "300 requests in a burst and
# a sustained 12 requests per second" per account and Region, shared with the console,
# IaC and monitoring (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
# rds-api-throttling.html); a failover takes tens of seconds to minutes.
SETTLED_POLL_INTERVAL_S = 2.0
_NOT_FOUND = (
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterNotFoundFault",
    "DBClusterNotFound",
)


@dataclass(frozen=True)
class DbState:
    """What the control plane says now; ``writer_az`` is where writes are served."""

    status: str
    writer_az: str | None
    writer_instance: str | None = None
    secondary_az: str | None = None


def read_state(rds: Any, kind: str, db_id: str) -> DbState | None:
    """The current state, or None when the DB does not exist (any more)."""
    try:
        if kind == "db-instance":
            db = rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]
            return DbState(
                status=str(db.get("DBInstanceStatus")),
                writer_az=db.get("AvailabilityZone"),
                writer_instance=db_id,
                secondary_az=db.get("SecondaryAvailabilityZone"),
            )
        cluster = rds.describe_db_clusters(DBClusterIdentifier=db_id)["DBClusters"][0]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
            return None
        raise
    writer = cluster_writer(cluster)
    writer_az = None
    if writer:
        found = rds.describe_db_instances(DBInstanceIdentifier=writer)["DBInstances"]
        writer_az = found[0].get("AvailabilityZone") if found else None
    return DbState(status=str(cluster.get("Status")), writer_az=writer_az, writer_instance=writer)


def wait_available(
    rds: Any, kind: str, db_id: str, timeout: float, poll_interval: float = 5.0
) -> float:
    """Wait (boto3 waiter, bounded by ``timeout``) until the DB is ``available``; for a
    cluster, then until every member instance is ``available`` too (same bound).

    Returns the seconds waited. Raises :class:`WaitTimedOut` (an ActivityFailed) when
    the bound is hit and ActivityFailed when the DB failed or was deleted.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if timeout < 0 or poll_interval <= 0:
        raise ValueError("timeout must be >= 0 and poll_interval > 0")
    started = time.monotonic()
    if kind == "db-instance":
        waiter = rds.get_waiter("db_instance_available")
        params: dict[str, Any] = {"DBInstanceIdentifier": db_id}
    else:
        waiter = rds.get_waiter("db_cluster_available")
        params = {"DBClusterIdentifier": db_id}
    try:
        waiter.wait(**params, WaiterConfig=waiter_config(timeout, poll_interval))
    except WaiterError as error:
        state = read_state(rds, kind, db_id)
        if state is None:
            raise ActivityFailed(f"{kind} {db_id!r} no longer exists") from error
        if "Max attempts exceeded" in str(error):
            raise WaitTimedOut(
                f"{kind} {db_id!r} still {state.status!r} after {timeout:g}s; "
                "check it in the RDS console"
            ) from error
        raise ActivityFailed(f"{kind} {db_id!r} is {state.status!r}: {error}") from error
    if kind == "db-cluster":
        remaining = max(0.0, timeout - (time.monotonic() - started))
        _wait_members_available(rds, db_id, remaining, poll_interval)
    return time.monotonic() - started


def _member_states(rds: Any, cluster_id: str) -> dict[str, str]:
    pages = rds.get_paginator("describe_db_instances").paginate(
        Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}]
    )
    return {
        db["DBInstanceIdentifier"]: str(db.get("DBInstanceStatus"))
        for page in pages
        for db in page.get("DBInstances", [])
    }


def _wait_members_available(
    rds: Any, cluster_id: str, timeout: float, poll_interval: float
) -> None:
    """Every member instance of the cluster ``available`` too: the cluster waiter checks
    ``DBClusters[].Status`` only, while the demoted writer may still be rebooting. One
    DescribeDBInstances (filter ``db-cluster-id``) per poll covers all members."""
    if not _member_states(rds, cluster_id):
        return  # no member: the instance waiter would never match an empty list
    try:
        rds.get_waiter("db_instance_available").wait(
            Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}],
            WaiterConfig=waiter_config(timeout, poll_interval),
        )
    except WaiterError as error:
        waiting = {m: s for m, s in _member_states(rds, cluster_id).items() if s != "available"}
        named = ", ".join(f"{m} {s!r}" for m, s in sorted(waiting.items())) or "none"
        if "Max attempts exceeded" in str(error):
            raise WaitTimedOut(
                f"db-cluster {cluster_id!r} is available, its instance(s) not: {named}, "
                f"after waiting {timeout:.1f}s; check them in the RDS console"
            ) from error
        raise ActivityFailed(
            f"db-cluster {cluster_id!r}: member instance(s) not available: {named}"
        ) from error
