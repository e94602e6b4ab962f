"""DynamoDB global table replication pause (fault ``dynamodb-replication-pause``).

:func:`pause_table_replication` records the replica's resource policy as it is (text and
RevisionId) and our two statements in the ledger (fsync'd), then puts the policy with
the statements appended (ExpectedRevisionId of the read: a concurrent change fails the
inject instead of being overwritten); :func:`resume_table_replication` (and every
rollback) removes exactly them. The statements expire by themselves at ``duration``
(``aws:CurrentTime``): see :mod:`chaosaws_ext.dynamodbpause.table_policy`.
"""

from __future__ import annotations

import logging
from typing import Any

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.dynamodbpause import FAULT
from chaosaws_ext.dynamodbpause.planning import plan_table_replication_pause
from chaosaws_ext.dynamodbpause.table_policy import with_statements, write_policy
from chaosaws_ext.dynamodbpause.undo import UNDOER
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.undo import revert_faults

__all__ = ["pause_table_replication", "resume_table_replication"]

logger = logging.getLogger(__name__)
# PutResourcePolicy's ExpectedRevisionId when the table has no policy yet: the put then
# fails if one appeared meanwhile (DynamoDB API Reference, PutResourcePolicy)
NO_POLICY_REVISION = "NO_POLICY"


def pause_table_replication(
    table_name: str,
    duration: float = 60,
    replica_region: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Deny global-table replication to and from the replica of ``table_name`` in
    ``replica_region`` (default: configuration ``other_region``) until ``duration``
    seconds from now. Refuses, before any change, a missing table, a table that is not
    an MREC 2019.11.21 global table, a protected replica, a replica already paused."""
    duration = checked_number(duration, "duration", above=True, activity="pause_table_replication")
    plan = plan_table_replication_pause(
        table_name, duration, replica_region, configuration, secrets
    )
    check_plan(plan, configuration, secrets)
    details = plan.details
    arn, before, revision = (
        details["replica_arn"],
        details["policy_before"],
        details["revision_before"],
    )
    statements = details["statements"]
    paused = with_statements(before, statements)
    region = str(details["replica_region"])
    client = aws_client("dynamodb", configuration, secrets, region=region)
    answer = journaled(
        fault=FAULT,
        region=region,
        resource=arn,
        change=plan.changes[0].change,
        undoer=UNDOER,
        undo_args={
            "table_arn": arn,
            "sids": [s["Sid"] for s in statements],
            "policy_before": before,
            "revision_before": revision,
            "statements": statements,
        },
        undo_describe=f"remove our statements from the resource policy of {arn}",
        call=lambda: write_policy(client, arn, paused, revision or NO_POLICY_REVISION),
        configuration=configuration,
    )
    stamp = stamp_injected(FAULT)
    result = {
        "fault": FAULT,
        "table": table_name,
        "replica_region": region,
        "replica_arn": arn,
        "sids": [s["Sid"] for s in statements],
        "expires_at": details["expires_at"],
        "duration_s": details["duration_s"],
        "revision_id": answer.get("RevisionId"),
        "injected_at": stamp.wall,
    }
    logger.info("%s: %s", FAULT, result)
    return result


def resume_table_replication(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """End of the pause and rollback: remove our statements (ledger replay)."""
    result = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    stamp_reverted(FAULT)
    return result
