"""The read-only plan of an RDS restore drill: the source, the restore point and the
instance that would be created, with its undo. ``gameday plan`` prints it; the action
passes it to the guardrails, then restores."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code, region_of
from chaosaws_ext.core.clock import iso_utc
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.planning import FaultPlan, PlannedChange
from chaosaws_ext.rdsrestore import FAULT
from chaosaws_ext.rdsrestore.recovery_points import (
    DEFAULT_BACKUP_VAULT,
    DEFAULT_DR_REGION,
    latest_recovery_point,
)
from chaosaws_ext.rdsrestore.restores import KINDS, describe_or_none, latest_snapshot, utc

__all__ = ["plan_restore", "restored_name"]

# RDS naming constraints: 1-63 letters, digits or hyphens, first a letter, no "--", no
# trailing hyphen (RDS User Guide, "Naming constraints in Amazon RDS")
_IDENTIFIER = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)")
# "Backup vaults are identified by names [...] pattern: ^[a-zA-Z0-9\-\_]{2,50}$" (AWS
# Backup API reference, StartCopyJob, SourceBackupVaultName)
_VAULT = re.compile(r"[a-zA-Z0-9_-]{2,50}")
UNDO_TEXT = "delete-db-instance --skip-final-snapshot --delete-automated-backups, wait deleted"


def restored_name(source: str, restored: str | None) -> str:
    """The restored instance's id: as given, else the runbook's ``<source>-restore``."""
    return restored or f"{source}-restore"[:63].rstrip("-")


def _identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ActivityFailed(
            f"refusing {FAULT}: {what} {value!r} is not a DB instance identifier (1-63 "
            "letters, digits or hyphens, starting with a letter)"
        )
    return value


def plan_restore(
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
) -> FaultPlan:
    """Validate a restore drill of ``db_instance_identifier`` and describe what it would
    create; read-only, same arguments as ``actions.restore_db_instance``.

    ``restore_source``: ``point-in-time`` (to the latest restorable time, less
    ``restore_age_s``), ``snapshot`` (the newest available snapshot, the runbook's
    command) or ``backup-copy`` (the newest COMPLETED AWS Backup recovery point of the
    source in ``backup_vault`` of ``dr_region``, restored there, into
    ``dr_db_subnet_group``: default the source's subnet group name). Refuses an unknown
    source, an instance without automated backups (point in time), a source without a
    snapshot or recovery point, and a restored name that already exists where it would
    be created.
    """
    where = "restore_db_instance"
    restore_age_s = checked_number(restore_age_s, "restore_age_s", activity=where)
    if restore_source not in KINDS:
        raise ActivityFailed(
            f"refusing {FAULT}: restore_source {restore_source!r} is not one of "
            + ", ".join(sorted(KINDS))
        )
    source_id = _identifier(db_instance_identifier, "db_instance_identifier")
    restored_id = _identifier(
        restored_name(source_id, restored_db_instance_identifier or None),
        "restored_db_instance_identifier",
    )
    if restored_id == source_id:
        raise ActivityFailed(f"refusing {FAULT}: the restored instance must not be the source")
    source_region = region_of(configuration)
    region = source_region
    vault = ""
    if restore_source == "backup-copy":
        vault = backup_vault or DEFAULT_BACKUP_VAULT
        if not isinstance(vault, str) or not _VAULT.fullmatch(vault):
            raise ActivityFailed(
                f"refusing {FAULT}: backup_vault {vault!r} is not a backup vault name (2-50 "
                "letters, digits, hyphens or underscores)"
            )
        region = region_of(None, dr_region or DEFAULT_DR_REGION)
    rds = aws_client("rds", configuration, secrets, source_region)
    source = describe_or_none(rds, source_id)
    if source is None:
        raise ActivityFailed(f"refusing {FAULT}: no DB instance {source_id!r} in {source_region}")
    target_rds = (
        rds if region == source_region else aws_client("rds", configuration, secrets, region)
    )
    if describe_or_none(target_rds, restored_id) is not None:
        raise ActivityFailed(
            f"refusing {FAULT}: a DB instance named {restored_id!r} already exists in {region} "
            "(a drill left behind? gameday recover); or name another "
            "restored_db_instance_identifier"
        )
    details: dict[str, Any] = {
        "kind": KINDS[restore_source],
        "source": source_id,
        "restored": restored_id,
        "engine": source.get("Engine"),
        "engine_version": source.get("EngineVersion"),
        "db_instance_class": db_instance_class or source.get("DBInstanceClass"),
        "allocated_storage_gib": source.get("AllocatedStorage"),
        "storage_type": source.get("StorageType"),
        "multi_az": False,
        "db_subnet_group": (source.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
        "vpc_security_group_ids": [
            g["VpcSecurityGroupId"] for g in source.get("VpcSecurityGroups") or []
        ],
        "port": (source.get("Endpoint") or {}).get("Port"),
        "snapshot_id": None,
        "recovery_point": None,
        "source_region": source_region,
        "region": region,
        "latest_restorable_time": None,
        "restore_age_s": restore_age_s,
        "planned_at": iso_utc(),
    }
    if restore_source == "point-in-time":
        latest = source.get("LatestRestorableTime")
        if not source.get("BackupRetentionPeriod") or latest is None:
            raise ActivityFailed(
                f"refusing {FAULT}: {source_id!r} has no automated backups (backup retention "
                "0): no point-in-time restore is possible; use restore_source: snapshot"
            )
        point = utc(latest) - timedelta(seconds=restore_age_s)
        details["latest_restorable_time"] = iso_utc(utc(latest))
        what = f"point-in-time restore of {source_id} to {iso_utc(point)}"
        if restore_age_s:
            what += f" (latest restorable time less {restore_age_s:g} s)"
    elif restore_source == "backup-copy":
        point, what = _plan_backup_copy(
            details, source, vault, region, dr_db_subnet_group, configuration, secrets
        )
    else:
        snapshot = latest_snapshot(rds, source_id)
        if snapshot is None:
            raise ActivityFailed(f"refusing {FAULT}: {source_id!r} has no available snapshot")
        point = utc(snapshot["SnapshotCreateTime"])
        details["snapshot_id"] = snapshot["DBSnapshotIdentifier"]
        what = f"restore of snapshot {snapshot['DBSnapshotIdentifier']} ({iso_utc(point)})"
    details["restore_point"] = iso_utc(point)
    lag = (datetime.now(UTC) - point).total_seconds()
    return FaultPlan(
        fault=FAULT,
        region=region,
        target=f"rds:{restored_id}",
        changes=[
            PlannedChange(
                resource=restored_id,
                change=(
                    f"create DB instance {restored_id} ({details['engine']}, "
                    f"{details['db_instance_class']}, {details['allocated_storage_gib']} GiB "
                    f"{details['storage_type'] or ''}, single-AZ, not public, {_network(details)}"
                    f"): {what}, {lag:.0f} s ago"
                ),
                undo=UNDO_TEXT,
                kind="db-instance",
            )
        ],
        details=details,
    )


def _network(details: dict[str, Any]) -> str:
    if details["kind"] == KINDS["backup-copy"]:
        group = details["db_subnet_group"]
        where = f"subnet group {group}" if group else "the default subnet group"
        return f"in {details['region']}, {where} and its VPC's default security group"
    return "the source's subnet group and security groups"


def _plan_backup_copy(
    details: dict[str, Any],
    source: dict[str, Any],
    vault: str,
    region: str,
    dr_db_subnet_group: str,
    configuration: Configuration,
    secrets: Secrets,
) -> tuple[datetime, str]:
    """The newest COMPLETED recovery point of the source in the DR vault; fills
    ``details`` (the restored instance goes to the DR region's subnet group of the
    source's name unless named: security group ids are per VPC, so none is carried)."""
    source_arn = str(source.get("DBInstanceArn") or "")
    backup = aws_client("backup", configuration, secrets, region)
    try:
        found = latest_recovery_point(backup, vault, source_arn)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        raise ActivityFailed(
            f"refusing {FAULT}: no backup vault {vault!r} in {region} (backup_vault, dr_region)"
        ) from error
    if found is None:
        raise ActivityFailed(
            f"refusing {FAULT}: no COMPLETED recovery point of {details['source']!r} in "
            f"backup vault {vault!r} of {region} (has the backup plan's copy to {region} run?)"
        )
    point = utc(found["CreationDate"])
    arn = str(found["RecoveryPointArn"])
    details["recovery_point"] = {
        "arn": arn,
        "vault": vault,
        "region": region,
        "created": iso_utc(point),
        "completed": iso_utc(utc(found["CompletionDate"])) if found.get("CompletionDate") else None,
    }
    details["snapshot_id"] = arn
    details["db_subnet_group"] = dr_db_subnet_group or details["db_subnet_group"]
    details["vpc_security_group_ids"] = []
    return point, f"restore of AWS Backup recovery point {arn} ({iso_utc(point)}) from {vault}"
