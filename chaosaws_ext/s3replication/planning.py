"""The read-only plan of the S3 replication pause: the bucket's configuration as it is,
the rules that will be disabled, and the refusals (no bucket, no replication, nothing
enabled, protection tag), for the inject and for ``gameday plan``."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code, region_of
from chaosaws_ext.core.identity import current_run
from chaosaws_ext.planning import FaultPlan, PlannedChange
from chaosaws_ext.s3replication import FAULT
from chaosaws_ext.s3replication.bucket_replication import (
    bucket_tags,
    enabled_rule_ids,
    read_replication,
)

__all__ = ["plan_bucket_replication_pause"]


def _refuse(reason: str) -> ActivityFailed:
    return ActivityFailed(f"refusing {FAULT}: {reason}")


def plan_bucket_replication_pause(
    bucket_name: str,
    duration: float = 60,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of :func:`~chaosaws_ext.s3replication.actions.pause_bucket_replication`
    (same arguments); ActivityFailed with one line when refused, changes nothing."""
    home = region_of(configuration)
    run = current_run(configuration)
    try:
        seconds = float(duration)
    except (TypeError, ValueError):
        seconds = -1.0
    if not bucket_name:
        raise _refuse("bucket_name is empty")
    if not 0 < seconds <= run.max_fault_seconds:
        raise _refuse(f"duration must be in (0, {run.max_fault_seconds:g}] s, got {duration!r}")
    client = aws_client("s3", configuration, secrets, region=home)
    try:
        replication = read_replication(client, bucket_name)
        tags = bucket_tags(client, bucket_name)
    except ClientError as error:
        if error_code(error) in ("NoSuchBucket", "404"):
            raise _refuse(f"bucket {bucket_name} does not exist") from None
        raise _refuse(f"bucket {bucket_name} not readable: {error_code(error)}") from None
    if replication is None:
        raise _refuse(f"bucket {bucket_name} has no replication configuration")
    enabled = enabled_rule_ids(replication)
    if not enabled:
        raise _refuse(f"bucket {bucket_name} has no enabled replication rule to pause")
    destinations = sorted(
        {str(r.get("Destination", {}).get("Bucket", "")) for r in replication.get("Rules", [])}
    )
    details: dict[str, Any] = {
        "bucket": bucket_name,
        "duration_s": seconds,
        "rules_paused": enabled,
        "destinations": destinations,
        "replication_configuration": replication,
    }
    return FaultPlan(
        fault=FAULT,
        region=home,
        target=f"{FAULT}:{bucket_name}",
        changes=[
            PlannedChange(
                resource=f"arn:aws:s3:::{bucket_name}",
                change=(
                    f"PutBucketReplication with rule(s) {', '.join(enabled)} Disabled for "
                    f"{seconds:g} s (objects written meanwhile are not replicated later)"
                ),
                undo="PutBucketReplication of the recorded configuration, deep-compared after",
                resource_tags=tags,
                kind="bucket",
            )
        ],
        details=details,
    )
