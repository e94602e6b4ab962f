"""The read-only plans of a forced RDS failover.

``plan_instance_failover`` and ``plan_cluster_failover`` describe, validate and return a
:class:`~chaosaws_ext.planning.FaultPlan` without mutating anything; the actions pass
the plan to the guardrails and then fail over. ``gameday plan`` prints the same plans.
"""

from __future__ import annotations

import re
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.planning import FaultPlan, PlannedChange
from chaosaws_ext.rds import FAULT
from chaosaws_ext.rds.instances import (
    _tags,
    cluster_writer,
    describe_cluster,
    describe_instance,
)

__all__ = ["plan_instance_failover", "plan_cluster_failover", "plan_failover_if_writer_in_az"]


def plan_instance_failover(
    db_instance_identifier: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Validate a Multi-AZ DB instance for a forced failover and describe the change.

    Read-only; same arguments as ``actions.failover_db_instance``.
    """
    region = region_of(configuration)
    rds = aws_client("rds", configuration, secrets, region)
    db = describe_instance(rds, db_instance_identifier, region)
    name = f"DB instance {db_instance_identifier!r}"
    if db.get("DBClusterIdentifier"):
        raise ActivityFailed(
            f"refusing {FAULT}: {name} belongs to cluster {db['DBClusterIdentifier']!r}; "
            "use failover_db_cluster"
        )
    if not db.get("MultiAZ"):
        raise ActivityFailed(
            f"refusing {FAULT}: {name} is single-AZ (a reboot would be an outage, not a "
            "failover); enable Multi-AZ first"
        )
    status = db.get("DBInstanceStatus")
    if status != "available":
        raise ActivityFailed(
            f"refusing {FAULT}: {name} is {status!r}, not 'available'; retry when it is"
        )
    primary = db.get("AvailabilityZone")
    secondary = db.get("SecondaryAvailabilityZone")
    arrow = f"{primary} -> {secondary}" if secondary else f"{primary} -> its standby AZ"
    return FaultPlan(
        fault=FAULT,
        region=region,
        target=f"rds:{db_instance_identifier}",
        changes=[
            PlannedChange(
                resource=db_instance_identifier,
                change=f"forced failover (reboot with ForceFailover): primary {arrow}",
                undo="nothing to undo; wait until the instance is available again",
                resource_tags=_tags(db.get("TagList")),
                kind="db-instance",
            )
        ],
        details={
            "kind": "db-instance",
            "db_instance_identifier": db_instance_identifier,
            "engine": db.get("Engine"),
            "writer_az_before": primary,
            "secondary_az_before": secondary,
            "status_before": status,
        },
    )


def plan_cluster_failover(
    db_cluster_identifier: str,
    target_db_instance_identifier: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Validate a DB cluster failover; without a target, choose a reader explicitly.

    The chosen reader is the available one with the best (lowest) promotion tier,
    preferring a reader in another AZ than the writer, then by id, as Aurora would.
    Read-only; same arguments as ``actions.failover_db_cluster``.
    """
    region = region_of(configuration)
    rds = aws_client("rds", configuration, secrets, region)
    cluster = describe_cluster(rds, db_cluster_identifier, region)
    name = f"DB cluster {db_cluster_identifier!r}"
    status = cluster.get("Status")
    if status != "available":
        raise ActivityFailed(
            f"refusing {FAULT}: {name} is {status!r}, not 'available'; retry when it is"
        )
    writer = cluster_writer(cluster)
    members = cluster.get("DBClusterMembers") or []
    instances = {
        db["DBInstanceIdentifier"]: db
        for db in rds.describe_db_instances(
            Filters=[{"Name": "db-cluster-id", "Values": [db_cluster_identifier]}]
        ).get("DBInstances", [])
    }
    writer_az = instances.get(writer, {}).get("AvailabilityZone") if writer else None
    readers = [m for m in members if not m.get("IsClusterWriter")]
    if not readers:
        raise ActivityFailed(
            f"refusing {FAULT}: {name} has no reader instance to fail over to; add a reader"
        )
    if target_db_instance_identifier:
        target = target_db_instance_identifier
        if target == writer:
            raise ActivityFailed(
                f"refusing {FAULT}: {target!r} is already the writer of {name}; "
                "name a reader or leave the target empty"
            )
        if target not in {m["DBInstanceIdentifier"] for m in readers}:
            raise ActivityFailed(
                f"refusing {FAULT}: {target!r} is not a reader of {name} (readers: "
                + ", ".join(sorted(m["DBInstanceIdentifier"] for m in readers))
                + ")"
            )
        target_status = instances.get(target, {}).get("DBInstanceStatus")
        if target_status != "available":
            raise ActivityFailed(
                f"refusing {FAULT}: target reader {target!r} is {target_status!r}, not 'available'"
            )
    else:
        candidates = [
            m
            for m in readers
            if instances.get(m["DBInstanceIdentifier"], {}).get("DBInstanceStatus") == "available"
        ]
        if not candidates:
            raise ActivityFailed(
                f"refusing {FAULT}: {name} has no available reader to fail over to"
            )

        def rank(member: dict[str, Any]) -> tuple[int, int, str]:
            az = instances[member["DBInstanceIdentifier"]].get("AvailabilityZone")
            return (
                int(member.get("PromotionTier", 1)),
                0 if az != writer_az else 1,
                str(member["DBInstanceIdentifier"]),
            )

        target = str(min(candidates, key=rank)["DBInstanceIdentifier"])
    target_az = instances.get(target, {}).get("AvailabilityZone")
    return FaultPlan(
        fault=FAULT,
        region=region,
        target=f"rds:{db_cluster_identifier}",
        changes=[
            PlannedChange(
                resource=db_cluster_identifier,
                change=f"cluster failover: writer {writer} ({writer_az}) -> {target} ({target_az})",
                undo="nothing to undo; wait until the cluster is available again",
                resource_tags=_tags(cluster.get("TagList")),
                kind="db-cluster",
            )
        ],
        details={
            "kind": "db-cluster",
            "db_cluster_identifier": db_cluster_identifier,
            "engine": cluster.get("Engine"),
            "writer_instance_before": writer,
            "writer_az_before": writer_az,
            "target_db_instance_identifier": target,
            "target_az": target_az,
            "target_chosen": not target_db_instance_identifier,
            "status_before": status,
        },
    )


# Availability Zone names: the Region's name and a letter (eu-south-1a); Local Zones add
# a suffix (us-west-2-lax-1a)
_AZ_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+(-[a-z0-9]+)*[a-z]")


def _writer_az(rds: Any, kind: str, db: dict[str, Any]) -> str | None:
    """The AZ of the writer of a described instance or cluster."""
    if kind == "db-instance":
        return db.get("AvailabilityZone")
    writer = cluster_writer(db)
    if writer is None:
        return None
    found = rds.describe_db_instances(DBInstanceIdentifier=writer).get("DBInstances") or [{}]
    return found[0].get("AvailabilityZone")


def _tagged(rds: Any, tag_key: str, tag_value: str) -> list[tuple[str, dict[str, Any]]]:
    """DB clusters and stand-alone DB instances carrying ``tag_key=tag_value``."""
    wanted = (tag_key, tag_value)
    found: list[tuple[str, dict[str, Any]]] = []
    for page in rds.get_paginator("describe_db_clusters").paginate():
        for cluster in page.get("DBClusters") or []:
            if wanted in _tags(cluster.get("TagList")).items():
                found.append(("db-cluster", cluster))
    for page in rds.get_paginator("describe_db_instances").paginate():
        for db in page.get("DBInstances") or []:
            if db.get("DBClusterIdentifier"):
                continue  # a cluster member: the cluster is the target
            if wanted in _tags(db.get("TagList")).items():
                found.append(("db-instance", db))
    return found


def _identifier(kind: str, db: dict[str, Any]) -> str:
    return str(db["DBInstanceIdentifier" if kind == "db-instance" else "DBClusterIdentifier"])


def plan_failover_if_writer_in_az(
    availability_zone: str,
    db_instance_identifier: str = "",
    db_cluster_identifier: str = "",
    tag_key: str = "",
    tag_value: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """The failover of the DB whose writer is in ``availability_zone`` (the zonal
    power interruption's RDS step), or a plan that is ``skipped`` with the reason when
    the writer is elsewhere or nothing carries the tag (AWS FIS skips an action without
    targets). Select by identifier (instance or cluster) or by tag. Read-only.
    """
    az = str(availability_zone or "")
    if not _AZ_NAME.fullmatch(az):
        raise ActivityFailed(
            f"refusing {FAULT}: availability_zone {availability_zone!r} is not an "
            "Availability Zone name (e.g. eu-south-1a)"
        )
    selectors = [bool(db_instance_identifier), bool(db_cluster_identifier), bool(tag_key)]
    if sum(selectors) != 1:
        raise ActivityFailed(
            f"refusing {FAULT}: name exactly one of db_instance_identifier, "
            "db_cluster_identifier or tag_key (with tag_value)"
        )
    region = region_of(configuration)
    rds = aws_client("rds", configuration, secrets, region)
    if db_instance_identifier:
        candidates = [("db-instance", describe_instance(rds, db_instance_identifier, region))]
        selected_by = f"DB instance {db_instance_identifier!r}"
    elif db_cluster_identifier:
        candidates = [("db-cluster", describe_cluster(rds, db_cluster_identifier, region))]
        selected_by = f"DB cluster {db_cluster_identifier!r}"
    else:
        candidates = _tagged(rds, tag_key, tag_value)
        selected_by = f"tag {tag_key}={tag_value}"
    writers = [(kind, _identifier(kind, db), _writer_az(rds, kind, db)) for kind, db in candidates]
    in_az = [(kind, name) for kind, name, where in writers if where == az]
    details: dict[str, Any] = {
        "availability_zone": az,
        "selected_by": selected_by,
        "writers": {name: where for _kind, name, where in writers},
    }
    if not in_az:
        if not writers:
            reason = f"no DB instance or cluster with {selected_by} in {region}"
        else:
            elsewhere = ", ".join(f"{name} in {where}" for _kind, name, where in writers)
            reason = f"no writer in {az} ({selected_by}: writer {elsewhere})"
        return FaultPlan(
            fault=FAULT, region=region, target=f"rds:{az}", details=details, skipped=reason
        )
    if len(in_az) > 1:
        raise ActivityFailed(
            f"refusing {FAULT}: {selected_by} selects {len(in_az)} databases with their "
            f"writer in {az} ({', '.join(name for _kind, name in in_az)}); name one"
        )
    kind, name = in_az[0]
    if kind == "db-instance":
        plan = plan_instance_failover(name, configuration, secrets)
    else:
        plan = plan_cluster_failover(name, None, configuration, secrets)
    plan.details.update(details)
    return plan
