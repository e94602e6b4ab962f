"""S3 replication pause (fault ``s3-replication-pause``).

:func:`pause_bucket_replication` records the bucket's whole replication configuration
in the ledger (fsync'd), then puts the same configuration back with every rule
``Disabled``; :func:`resume_bucket_replication` (and every rollback) restores exactly the
recorded configuration. See :mod:`chaosaws_ext.s3replication.bucket_replication` for
what a pause stops and what it does not.
"""

from __future__ import annotations

import logging
from typing import Any

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.s3replication import FAULT
from chaosaws_ext.s3replication.bucket_replication import paused_copy
from chaosaws_ext.s3replication.planning import (
    plan_bucket_replication_pause,
)
from chaosaws_ext.s3replication.undo import UNDOER
from chaosaws_ext.undo import revert_faults

__all__ = ["pause_bucket_replication", "resume_bucket_replication"]

logger = logging.getLogger(__name__)


def pause_bucket_replication(
    bucket_name: str,
    duration: float = 60,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Disable every replication rule of ``bucket_name`` (``duration`` bounds the pause
    for the safety control's max_fault_seconds; the experiment ends it with
    :func:`resume_bucket_replication`). Refuses, before any change, a missing bucket, a
    bucket without replication or without an enabled rule, a protected bucket."""
    duration = checked_number(duration, "duration", above=True, activity="pause_bucket_replication")
    plan = plan_bucket_replication_pause(bucket_name, duration, configuration, secrets)
    check_plan(plan, configuration, secrets)
    original = plan.details["replication_configuration"]
    client = aws_client("s3", configuration, secrets, region=plan.region)
    journaled(
        fault=FAULT,
        region=plan.region,
        resource=f"arn:aws:s3:::{bucket_name}",
        change=plan.changes[0].change,
        undoer=UNDOER,
        undo_args={"bucket_name": bucket_name, "original": original},
        undo_describe=f"PutBucketReplication of {bucket_name}'s recorded configuration",
        call=lambda: client.put_bucket_replication(
            Bucket=bucket_name, ReplicationConfiguration=paused_copy(original)
        ),
        configuration=configuration,
    )
    stamp = stamp_injected(FAULT)
    result = {
        "fault": FAULT,
        "bucket": bucket_name,
        "rules_paused": plan.details["rules_paused"],
        "destinations": plan.details["destinations"],
        "duration_s": plan.details["duration_s"],
        "injected_at": stamp.wall,
    }
    logger.info("%s: %s", FAULT, result)
    return result


def resume_bucket_replication(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """End of the pause and rollback: restore the recorded configuration (ledger replay)."""
    result = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    stamp_reverted(FAULT)
    return result
