"""RDS restore drill (fault ``rds-restore``): restore side by side, then delete.

:func:`restore_db_instance` plans (read only), passes the plan to the guardrails, then
makes one journaled call creating the tagged restored instance (its undo deletes it);
the source is only read. :func:`delete_restored_instances` is the drill's end and every
rollback: the ledger's undo of each restore of this run.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.clock import iso_utc
from chaosaws_ext.core.identity import chaos_tags, current_run
from chaosaws_ext.core.timeline import mark_phase, note_fault_detail
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.rdsrestore import FAULT
from chaosaws_ext.rdsrestore.inflight import RestoreInFlight, recall, remember
from chaosaws_ext.rdsrestore.planning import UNDO_TEXT, plan_restore
from chaosaws_ext.rdsrestore.restores import describe_or_none, tag_list, utc
from chaosaws_ext.rdsrestore.undo import UNDOER
from chaosaws_ext.undo import revert_faults

__all__ = ["restore_db_instance", "delete_restored_instances"]

logger = logging.getLogger(__name__)


def restore_db_instance(
    db_instance_identifier: str,
    restored_db_instance_identifier: str = "",
    restore_source: str = "point-in-time",
    restore_age_s: float = 0,
    db_instance_class: str = "",
    backup_vault: str = "",
    dr_region: str = "",
    dr_db_subnet_group: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Restore ``db_instance_identifier`` into a new, tagged, single-AZ, non-public
    instance in the source's subnet group and security groups.

    ``point-in-time`` (default) restores to the source's ``LatestRestorableTime`` read
    just before the call (less ``restore_age_s``, for a deliberately older point), named
    as ``RestoreTime`` so the restore point is known exactly (``UseLatestRestorableTime``
    would restore to a time nobody reads back); ``snapshot`` restores the newest
    available snapshot (the runbook's ``restore-db-instance-from-db-snapshot``);
    ``backup-copy`` restores, in ``dr_region``, the newest COMPLETED AWS Backup recovery
    point of the source copied to ``backup_vault`` there (by its ARN, with
    ``RestoreDBInstanceFromDBSnapshot``: the same call, tags and undo as a snapshot
    restore; ``StartRestoreJob`` would need ``iam:PassRole`` of a restore role and would
    name the instance through restore metadata). The restore call is the drill's start:
    phases and the restore RTO count from it.
    """
    plan = plan_restore(
        db_instance_identifier,
        restored_db_instance_identifier,
        restore_source,
        restore_age_s,
        db_instance_class,
        backup_vault,
        dr_region,
        dr_db_subnet_group,
        configuration,
        secrets,
    )
    check_plan(plan, configuration, secrets)
    details = plan.details
    source_id, restored_id = details["source"], details["restored"]
    rds = aws_client("rds", configuration, secrets, plan.region)
    tags = chaos_tags(current_run(configuration), FAULT)
    common: dict[str, Any] = {
        "DBInstanceClass": details["db_instance_class"],
        "MultiAZ": False,
        "PubliclyAccessible": False,
        "DeletionProtection": False,
        "Tags": tag_list(tags),
    }
    if details["db_subnet_group"]:
        common["DBSubnetGroupName"] = details["db_subnet_group"]
    if details["vpc_security_group_ids"]:
        common["VpcSecurityGroupIds"] = details["vpc_security_group_ids"]
    source_rds = rds
    if details["source_region"] != plan.region:
        source_rds = aws_client("rds", configuration, secrets, details["source_region"])
    source = describe_or_none(source_rds, source_id)
    if source is None:
        raise ActivityFailed(f"refusing {FAULT}: {source_id!r} disappeared before the restore")
    latest = source.get("LatestRestorableTime")
    if details["kind"] == "rds-point-in-time":
        if latest is None:
            raise ActivityFailed(f"refusing {FAULT}: {source_id!r} has no LatestRestorableTime")
        point = utc(latest) - timedelta(seconds=float(details["restore_age_s"]))
        restore_point = iso_utc(point)

        def call() -> Any:
            return rds.restore_db_instance_to_point_in_time(
                SourceDBInstanceIdentifier=source_id,
                TargetDBInstanceIdentifier=restored_id,
                RestoreTime=point,
                **common,
            )
    else:
        restore_point = str(details["restore_point"])
        snapshot_id = details["snapshot_id"]

        def call() -> Any:
            return rds.restore_db_instance_from_db_snapshot(
                DBInstanceIdentifier=restored_id, DBSnapshotIdentifier=snapshot_id, **common
            )

    started_at = datetime.now(UTC)
    drill_started = iso_utc(started_at)
    called = time.monotonic()
    lag = None if latest is None else round((started_at - utc(latest)).total_seconds(), 3)
    recovery_point = details.get("recovery_point")
    if recovery_point:
        age = (started_at - utc(datetime.fromisoformat(restore_point))).total_seconds()
        recovery_point = {**recovery_point, "age_at_drill_start_s": round(age, 3)}
    journaled(
        fault=FAULT,
        region=plan.region,
        resource=f"db-instance:{restored_id}",
        change=plan.changes[0].change,
        undoer=UNDOER,
        undo_args={"db_instance_identifier": restored_id},
        undo_describe=UNDO_TEXT,
        call=call,
        configuration=configuration,
    )
    stamp = stamp_injected(FAULT)
    mark_phase("restore_called", called)
    restore = RestoreInFlight(
        kind=details["kind"],
        source=source_id,
        restored=restored_id,
        region=plan.region,
        restore_point=restore_point,
        drill_started=drill_started,
        called_monotonic=called,
        latest_restorable_lag_s=lag,
        recovery_point=recovery_point,
    )
    restore.phase("api_accepted", stamp.monotonic)
    remember(restore)
    note_fault_detail("restore", restore.block())
    result = {"fault": FAULT, **restore.block(), "snapshot_id": details["snapshot_id"]}
    logger.info("%s: %s", FAULT, result)
    return result


def delete_restored_instances(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """End of the drill and rollback: delete every instance this run restored (the
    ledger's undo, which waits for the deletion, bounded). Idempotent."""
    result = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    restore = recall()
    if restore is not None:
        restore.deleted = (
            describe_or_none(
                aws_client("rds", configuration, secrets, restore.region), restore.restored
            )
            is None
        )
        note_fault_detail("restore", restore.block())
        result["deleted"] = restore.deleted
    if result["reverted"]:
        stamp_reverted(FAULT)
    return result
