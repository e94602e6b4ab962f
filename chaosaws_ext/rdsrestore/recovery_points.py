"""The AWS Backup shapes the restore drill reads: the latest COMPLETED recovery point of
a DB instance in a backup vault (the plan's copy in the DR region's vault).

A copy keeps the source's ``ResourceArn`` (AWS Backup Developer Guide, "Creating backup
copies across AWS Regions"), so the DR vault is searched by the source instance's ARN.
For an RDS instance the recovery point ARN is the RDS snapshot's ARN
(``arn:aws:rds:<region>:<account>:snapshot:awsbackup:...``), which
``RestoreDBInstanceFromDBSnapshot`` takes as ``DBSnapshotIdentifier`` (the API reference:
"If you are restoring from a shared manual DB snapshot, the DBSnapshotIdentifier must be
the ARN"; the ARN names an own snapshot as well).
"""

from __future__ import annotations

from typing import Any

from chaosaws_ext.rdsrestore.restores import utc

__all__ = [
    "DEFAULT_BACKUP_VAULT",
    "DEFAULT_DR_REGION",
    "MAX_RECOVERY_POINT_PAGES",
    "latest_recovery_point",
]

# the DR plan's Example 7: CopyActions to arn:aws:backup:eu-west-1:...:backup-vault:
# ${EnvironmentName}-replica-vault, EnvironmentName defaulting to production
DEFAULT_BACKUP_VAULT = "production-replica-vault"
DEFAULT_DR_REGION = "eu-west-1"
MAX_RECOVERY_POINT_PAGES = 20  # 100 per page: 2000 recovery points of one instance
_COMPLETED = "COMPLETED"


def latest_recovery_point(
    backup: Any,
    vault: str,
    resource_arn: str,
    max_pages: int = MAX_RECOVERY_POINT_PAGES,
) -> dict[str, Any] | None:
    """The newest ``COMPLETED`` recovery point of ``resource_arn`` in ``vault`` (by
    ``CreationDate``), None when there is none. Filtered by the API (``ByResourceArn``,
    ``ByResourceType``) and again here: a vault holds every resource's points."""
    pages = backup.get_paginator("list_recovery_points_by_backup_vault").paginate(
        BackupVaultName=vault,
        ByResourceArn=resource_arn,
        ByResourceType="RDS",
        PaginationConfig={"PageSize": 100, "MaxItems": 100 * max_pages},
    )
    points = [
        point
        for page in pages
        for point in page.get("RecoveryPoints", [])
        if point.get("ResourceArn") == resource_arn
        and point.get("Status") == _COMPLETED
        and point.get("CreationDate")
        and str(point.get("RecoveryPointArn", "")).startswith("arn:")
    ]
    if not points:
        return None
    return max(points, key=lambda p: utc(p["CreationDate"]))
