"""Undo of the S3 replication pause: put back exactly the recorded configuration
(idempotent: nothing to do when it is already in place; refuses to overwrite a
configuration someone changed since), and find buckets left paused without a ledger."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code
from chaosaws_ext.mutation import stamp_reverted
from chaosaws_ext.s3replication import DECLARATION, FAULT
from chaosaws_ext.s3replication.bucket_replication import (
    enabled_rule_ids,
    paused_copy,
    read_replication,
    same_configuration,
)
from chaosaws_ext.undo import FinderSkipped, report_incomplete

__all__ = ["UNDOER", "restore_replication_configuration", "find_paused_buckets"]

logger = logging.getLogger(__name__)

UNDOER = DECLARATION.undoer_name("restore-replication")


def restore_replication_configuration(
    bucket_name: str,
    original: dict[str, Any],
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Put ``original`` back when the bucket holds our paused copy of it; nothing when
    ``original`` is in place already. Any other configuration was changed by someone
    else: refused (it is not ours to overwrite), naming the bucket."""
    client = aws_client("s3", configuration, secrets, region=region)
    try:
        current = read_replication(client, bucket_name)
    except ClientError as error:
        if error_code(error) == "NoSuchBucket":
            logger.info("bucket %s gone: nothing to restore", bucket_name)
            return {"bucket": bucket_name, "restored": False, "reason": "bucket gone"}
        raise
    if same_configuration(current, original):
        return {"bucket": bucket_name, "restored": False, "reason": "already in place"}
    if not same_configuration(current, paused_copy(original)):
        raise ActivityFailed(
            f"{FAULT}: the replication configuration of {bucket_name} changed during the "
            "pause (neither ours nor the original): not overwritten; compare it with the "
            "ledger's recorded configuration and restore by hand"
        )
    client.put_bucket_replication(Bucket=bucket_name, ReplicationConfiguration=original)
    # the end of the pause is this call's return (as t0 is the pausing call's): the
    # measured failover moment, before the check and the ledger's bookkeeping
    stamp_reverted(FAULT)
    after = read_replication(client, bucket_name)
    if not same_configuration(after, original):
        raise ActivityFailed(
            f"{FAULT}: {bucket_name} still differs from the recorded configuration after "
            "PutBucketReplication"
        )
    return {"bucket": bucket_name, "restored": True, "rules": enabled_rule_ids(original)}


def find_paused_buckets(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Without the ledger the original configuration is unknown: the configured bucket
    (``bucket_name``) with every rule disabled is reported as incomplete (named, for a
    human to check), never "restored" by guess. Returns no undo spec."""
    bucket = (configuration or {}).get("bucket_name")
    if not bucket:
        raise FinderSkipped("no bucket_name configured (the experiment's GAMEDAY_BUCKET)")
    client = aws_client("s3", configuration, secrets, region=region)
    try:
        current = read_replication(client, str(bucket))
    except ClientError as error:
        if error_code(error) in ("NoSuchBucket", "AccessDenied"):
            return []
        report_incomplete(f"bucket {bucket} not readable: {error}")
        return []
    rules = (current or {}).get("Rules", [])
    if rules and not enabled_rule_ids(current):
        report_incomplete(
            f"bucket {bucket} has every replication rule disabled; if a pause of ours was "
            "cut short, its original configuration is in the run's ledger "
            "(gameday recover --ledger ...)"
        )
    return []
