"""Undo of a restore drill: delete the restored instance (no final snapshot), wait until
it is gone (bounded); idempotent (an instance already gone is done). Without the ledger,
``find_restored_instances`` finds ours by their ``chaos:*`` tags."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code, region_of
from chaosaws_ext.core.identity import MANAGED_BY, TAG_EXPIRES_AT, TAG_FAULT, TAG_MANAGED
from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.rdsrestore import DECLARATION, FAULT
from chaosaws_ext.rdsrestore.recovery_points import DEFAULT_DR_REGION
from chaosaws_ext.rdsrestore.restores import describe_or_none, tags_of

__all__ = ["UNDOER", "delete_restored_instance", "find_restored_instances"]

logger = logging.getLogger(__name__)

UNDOER = DECLARATION.undoer_name("delete-instance")
# Deleting a DB instance takes minutes on AWS (no published figure); an hour is the bound
DELETE_TIMEOUT_S = 3600.0
DELETE_POLL_INTERVAL_S = 10.0  # nothing is measured here: spare the shared RDS API budget
MAX_DESCRIBE_PAGES = 20


def _ours(db: dict[str, Any]) -> bool:
    tags = tags_of(db)
    return tags.get(TAG_MANAGED) == MANAGED_BY and tags.get(TAG_FAULT) == FAULT


def delete_restored_instance(
    db_instance_identifier: str,
    timeout: float = DELETE_TIMEOUT_S,
    poll_interval: float = DELETE_POLL_INTERVAL_S,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Delete the restored instance we created and wait (at most ``timeout``) until it
    is gone. Refuses an instance without our tags (never a stranger's, never the
    source). Gone already: nothing to do."""
    rds = aws_client("rds", configuration, secrets, region)
    db = describe_or_none(rds, db_instance_identifier)
    if db is None:
        return {"db": db_instance_identifier, "deleted": True, "already_gone": True}
    if not _ours(db):
        raise ActivityFailed(
            f"{FAULT}: {db_instance_identifier} does not carry our chaos:* tags: not deleted"
        )

    def gone() -> bool | None:
        """Gone: True; else ask for the deletion again unless it is under way (an
        instance still ``creating`` or ``modifying`` may refuse it: retried)."""
        current = describe_or_none(rds, db_instance_identifier)
        if current is None:
            return True
        if current.get("DBInstanceStatus") != "deleting":
            try:
                rds.delete_db_instance(
                    DBInstanceIdentifier=db_instance_identifier,
                    SkipFinalSnapshot=True,
                    DeleteAutomatedBackups=True,
                )
            except ClientError as error:
                if error_code(error) in ("DBInstanceNotFound", "DBInstanceNotFoundFault"):
                    return True
                if error_code(error) != "InvalidDBInstanceState":
                    raise
                logger.info("%s not deletable yet: %s", db_instance_identifier, error)
                return None
            # gone at once where the delete is synchronous; else next poll
            return describe_or_none(rds, db_instance_identifier) is None or None
        return None

    try:
        wait_until(
            gone,
            timeout=float(timeout),
            interval=float(poll_interval),
            what=f"DB instance {db_instance_identifier} to be deleted",
        )
    except WaitTimedOut as error:
        raise ActivityFailed(
            f"{FAULT}: {db_instance_identifier} still exists {timeout:g} s after its deletion; "
            "check it in the RDS console"
        ) from error
    return {"db": db_instance_identifier, "deleted": True, "already_gone": False}


def find_restored_instances(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Our restored instances (ledger lost): one delete undo each, by tag. Searched in
    ``region`` and, from the source's region, also in the DR region (configuration
    ``dr_region``, default eu-west-1), where a backup-copy drill restores."""
    searched = region_of(configuration, region)
    specs = _find_in(configuration, secrets, searched)
    dr_region = str((configuration or {}).get("dr_region") or DEFAULT_DR_REGION)
    if searched == region_of(configuration) and dr_region != searched:
        specs.extend(
            {**spec, "region": dr_region} for spec in _find_in(configuration, secrets, dr_region)
        )
    return specs


def _find_in(configuration: Configuration, secrets: Secrets, region: str) -> list[dict[str, Any]]:
    rds = aws_client("rds", configuration, secrets, region)
    pages = rds.get_paginator("describe_db_instances").paginate(
        PaginationConfig={"PageSize": 100, "MaxItems": 100 * MAX_DESCRIBE_PAGES}
    )
    specs: list[dict[str, Any]] = []
    for page in pages:
        for db in page.get("DBInstances", []):
            if not _ours(db):
                continue
            db_id = db["DBInstanceIdentifier"]
            specs.append(
                {
                    "resource": f"db-instance:{db_id}",
                    "undoer": UNDOER,
                    "args": {"db_instance_identifier": db_id},
                    "describe": f"delete restored DB instance {db_id} in {region} "
                    "(no final snapshot)",
                    "expires_at": tags_of(db).get(TAG_EXPIRES_AT),
                }
            )
    return specs
