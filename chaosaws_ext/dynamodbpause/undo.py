"""Undo of the DynamoDB replication pause: remove exactly our statements from the
replica's resource policy (idempotent; the policy before put back byte-for-byte when
nobody changed it meanwhile; ExpectedRevisionId always), and find statements of ours
left behind without a ledger (the Sid is the mark: resource policies carry no tags)."""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code
from chaosaws_ext.dynamodbpause import DECLARATION, FAULT
from chaosaws_ext.dynamodbpause.table_policy import (
    NO_POLICY,
    our_statements,
    read_policy,
    statement_expiry,
    with_statements,
    without_statements,
    write_policy,
)
from chaosaws_ext.undo import FinderSkipped, report_incomplete

__all__ = ["UNDOER", "remove_pause_statements", "find_pause_statements"]

logger = logging.getLogger(__name__)

UNDOER = DECLARATION.undoer_name("remove-statements")


def remove_pause_statements(
    table_arn: str,
    sids: list[str],
    policy_before: str | None = None,
    statements: list[dict[str, Any]] | None = None,
    revision_before: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Remove the statements ``sids`` from ``table_arn``'s resource policy.

    When the policy is exactly ``policy_before`` plus ``statements`` (what the pause put),
    ``policy_before`` goes back as it was (deleted when it was None); otherwise only the
    statements named ``sids`` are dropped from the current policy. Nothing to do when
    none is there. ExpectedRevisionId: a policy changed between our read and our write
    is refused by AWS, never overwritten. ``revision_before`` (the revision the pause
    read) is recorded for a human: the pause's own put made a new one."""
    client = aws_client("dynamodb", configuration, secrets, region=region)
    try:
        current, revision = read_policy(client, table_arn)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            logger.info("table %s gone: nothing to remove", table_arn)
            return {"table": table_arn, "removed": [], "reason": "table gone"}
        raise
    present = [str(s["Sid"]) for s in our_statements(current, sids)]
    if not present:
        return {"table": table_arn, "removed": [], "reason": "not in the policy"}
    assert current is not None  # statements were found in it
    # compared as JSON values: the ledger stores our statements with sorted keys
    exact = statements is not None and json.loads(current) == json.loads(
        with_statements(policy_before, statements)
    )
    restored = policy_before if exact else without_statements(current, sids)
    try:
        write_policy(client, table_arn, restored, revision)
    except ClientError as error:
        if error_code(error) != NO_POLICY:  # not a revision mismatch
            raise
        raise ActivityFailed(
            f"{FAULT}: the resource policy of {table_arn} changed while we removed our "
            "statements (RevisionId no longer the one read): run the recovery again"
        ) from error
    after, _ = read_policy(client, table_arn)
    if our_statements(after, sids) or (exact and after != policy_before):
        raise ActivityFailed(
            f"{FAULT}: {table_arn} still differs from the policy before after the undo"
        )
    return {
        "table": table_arn,
        "removed": present,
        "policy": "restored as before" if exact else "our statements removed",
    }


def find_pause_statements(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Statements of ours (Sid prefix) in the resource policy of the configured table
    (``table_name``) in ``region``: one undo spec per run, removing its Sids only (the
    rest of the policy is kept); its expiry is the statements' own ``aws:CurrentTime``."""
    table_name = (configuration or {}).get("table_name")
    if not table_name:
        raise FinderSkipped("no table_name configured (the experiment's GAMEDAY_TABLE)")
    client = aws_client("dynamodb", configuration, secrets, region=region)
    try:
        arn = str(client.describe_table(TableName=str(table_name))["Table"]["TableArn"])
        current, _ = read_policy(client, arn)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return []
        report_incomplete(f"table {table_name} not readable: {error_code(error)}")
        return []
    by_run: dict[str, list[dict[str, Any]]] = {}
    for statement in our_statements(current):
        sid = str(statement["Sid"])
        base = sid.removesuffix("ServicePrincipal").removesuffix("ServiceLinkedRole")
        by_run.setdefault(base, []).append(statement)
    return [
        {
            "resource": arn,
            "undoer": UNDOER,
            "args": {"table_arn": arn, "sids": [str(s["Sid"]) for s in found]},
            "describe": (
                f"remove statement(s) {', '.join(str(s['Sid']) for s in found)} from the "
                f"resource policy of {arn}"
            ),
            "expires_at": min((e for e in (statement_expiry(s) for s in found) if e), default=None),
        }
        for _, found in sorted(by_run.items())
    ]
