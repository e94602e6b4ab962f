"""The RDS shapes the restore drill reads: the source instance, its latest restorable
time and latest snapshot, the restored instance's endpoint as a DSN, our tags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chaosaws_ext.core.clients import error_code

__all__ = [
    "KINDS",
    "describe_or_none",
    "latest_snapshot",
    "restored_dsn",
    "tag_list",
    "tags_of",
    "utc",
]

# the drill block's ``kind`` per restore source (the shape shared with the DynamoDB drill)
KINDS = {
    "point-in-time": "rds-point-in-time",
    "snapshot": "rds-snapshot",
    "backup-copy": "rds-backup-copy",
}
_NOT_FOUND = ("DBInstanceNotFound", "DBInstanceNotFoundFault")


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (botocore may parse a zone-less time as local)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def describe_or_none(rds: Any, db_instance_identifier: str) -> dict[str, Any] | None:
    """The DB instance's description, None when there is none of that name."""
    try:
        found = rds.describe_db_instances(DBInstanceIdentifier=db_instance_identifier)
    except ClientError as error:
        if error_code(error) in _NOT_FOUND:
            return None
        raise
    items = found.get("DBInstances") or []
    return items[0] if items else None


def latest_snapshot(rds: Any, db_instance_identifier: str, max_pages: int = 10) -> dict | None:
    """The source's newest ``available`` snapshot (automated or manual), as the
    runbook picks it (``reverse(sort_by(DBSnapshots, &SnapshotCreateTime))[0]``)."""
    pages = rds.get_paginator("describe_db_snapshots").paginate(
        DBInstanceIdentifier=db_instance_identifier,
        PaginationConfig={"PageSize": 100, "MaxItems": 100 * max_pages},
    )
    snapshots = [
        s
        for page in pages
        for s in page.get("DBSnapshots", [])
        if s.get("Status") == "available" and s.get("SnapshotCreateTime")
    ]
    if not snapshots:
        return None
    return max(snapshots, key=lambda s: utc(s["SnapshotCreateTime"]))


def restored_dsn(source_dsn: str, address: str, port: int) -> str:
    """The source's DSN (user, password, database) pointed at the restored instance's
    described endpoint: a restore keeps the master credentials and databases."""
    import psycopg.conninfo

    params = psycopg.conninfo.conninfo_to_dict(source_dsn)
    params.update(host=address, port=str(port))
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v})


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def tags_of(db: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in db.get("TagList") or []}
