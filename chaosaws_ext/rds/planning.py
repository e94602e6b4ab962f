"""The read-only plans of a forced RDS failover.

``plan_instance_failover`` and ``plan_cluster_failover`` describe, validate and return a
:class:`~chaosaws_ext.planning.FaultPlan` without mutating anything; the actions pass
the plan to the guardrails and then fail over. ``gameday plan`` prints the same plans.
"""

from __future__ import annotations

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

__all__ = ["plan_instance_failover", "plan_cluster_failover"]


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
