"""Read-only look-ups of RDS DB instances and DB clusters (the fault's targets)."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.clients import error_code
from chaosaws_ext.rds import FAULT

__all__ = [
    "FAULT",
    "describe_instance",
    "describe_cluster",
    "cluster_writer",
]

_INSTANCE_NOT_FOUND = ("DBInstanceNotFound", "DBInstanceNotFoundFault")
_CLUSTER_NOT_FOUND = ("DBClusterNotFoundFault", "DBClusterNotFound")
# RDS naming constraints (instances and clusters): 1-63 alphanumerics or hyphens, first a letter
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")


def _tags(tag_list: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tag_list or []}


# what -> (name in messages, describe operation, its parameter, result list, not-found codes)
_DESCRIBE = {
    "instance": (
        "DB instance",
        "describe_db_instances",
        "DBInstanceIdentifier",
        "DBInstances",
        _INSTANCE_NOT_FOUND,
    ),
    "cluster": (
        "DB cluster",
        "describe_db_clusters",
        "DBClusterIdentifier",
        "DBClusters",
        _CLUSTER_NOT_FOUND,
    ),
}


def _describe(rds: Any, what: str, identifier: str, region: str) -> dict[str, Any]:
    name, operation, parameter, listing, not_found = _DESCRIBE[what]
    if not isinstance(identifier, str) or not _IDENTIFIER.fullmatch(identifier):
        raise ActivityFailed(
            f"refusing {FAULT}: {identifier!r} is not a {name} identifier "
            "(1-63 letters, digits or hyphens, starting with a letter)"
        )
    try:
        found = getattr(rds, operation)(**{parameter: identifier})
    except ClientError as error:
        if error_code(error) in not_found:
            raise ActivityFailed(
                f"refusing {FAULT}: no {name} {identifier!r} in {region}"
            ) from error
        raise
    items = found.get(listing) or []
    if not items:
        raise ActivityFailed(f"refusing {FAULT}: no {name} {identifier!r} in {region}")
    return items[0]


def describe_instance(rds: Any, db_instance_identifier: str, region: str) -> dict[str, Any]:
    """The DB instance description; ActivityFailed naming the region when it is unknown."""
    return _describe(rds, "instance", db_instance_identifier, region)


def describe_cluster(rds: Any, db_cluster_identifier: str, region: str) -> dict[str, Any]:
    """The DB cluster description; ActivityFailed naming the region when it is unknown."""
    return _describe(rds, "cluster", db_cluster_identifier, region)


def cluster_writer(cluster: dict[str, Any]) -> str | None:
    """The writer instance id of a described cluster (None while it has none)."""
    for member in cluster.get("DBClusterMembers") or []:
        if member.get("IsClusterWriter"):
            return str(member["DBInstanceIdentifier"])
    return None
