"""The shape of the pause in a DynamoDB table's resource-based policy.

AWS FIS's ``aws:dynamodb:global-table-pause-replication`` pauses an MREC global table's
replication to and from one replica by appending two Deny statements to that replica's
resource-based policy (AWS FIS User Guide, "Amazon DynamoDB actions",
https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#global-table-pause-replication):
one for the replication service principal (``aws:PrincipalServiceName``
``replication.dynamodb.amazonaws.com``: ``dynamodb:ReadDataForReplication`` and
``WriteDataForReplication``), one for the service-linked role
``AWSServiceRoleForDynamoDBReplication`` (its item and table actions), both under
``DateLessThan aws:CurrentTime <end>``: once the end passes they deny nothing, so the
pause ends even if nothing of ours runs again. We append the same two statements.
FIS also appends one to the table's stream policy (GetRecords, DescribeStream,
GetShardIterator); we do not (the table statements deny both directions already).

Resource-based policies carry no tags: our statements are marked by their Sid,
``ChaosawsExtPause<run id, letters and digits>`` + ``ServicePrincipal`` /
``ServiceLinkedRole``. The undo removes exactly those Sids; when the policy still reads
as we wrote it, the policy text from before (recorded in the ledger) is put back
byte-for-byte, or the policy deleted when there was none; always with
``ExpectedRevisionId`` so a concurrent change is never overwritten.

AWS limits (Amazon DynamoDB Developer Guide, "Resource-based policy considerations"):
a policy is at most 20 KB (whitespace counted); MRSC tables are paused by FIS in another
way (not supported here); legacy 2017.11.29 replicas support no resource policy.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from typing import Any

from botocore.exceptions import ClientError

from chaosaws_ext.core.clients import error_code

logger = logging.getLogger(__name__)

__all__ = [
    "SID_PREFIX",
    "REPLICATION_SERVICE",
    "MAX_POLICY_BYTES",
    "NO_POLICY",
    "sid_base",
    "pause_statements",
    "read_policy",
    "with_statements",
    "without_statements",
    "our_statements",
    "statement_expiry",
    "write_policy",
]

SID_PREFIX = "ChaosawsExtPause"
REPLICATION_SERVICE = "replication.dynamodb.amazonaws.com"
_SLR = f"role/aws-service-role/{REPLICATION_SERVICE}/AWSServiceRoleForDynamoDBReplication"
MAX_POLICY_BYTES = 20 * 1024  # "The maximum size supported [...] is 20 KB"
# "Subsequent updates to a policy for a given resource are blocked for 15 seconds after
# a successful update" (same page): a write that soon is retried, bounded by this plus
# a margin. The refusal's error code is not documented there; these are the two
# PutResourcePolicy/DeleteResourcePolicy list for a busy resource (API Reference, Errors).
POLICY_UPDATE_BLOCK_S = 15.0
BUSY_ERRORS = ("ResourceInUseException", "LimitExceededException")
NO_POLICY = "PolicyNotFoundException"
# The service-linked role's actions FIS denies (same page)
SLR_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:UpdateTable",
    "dynamodb:Scan",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:UpdateTimeToLive",
]


def sid_base(run_id: str) -> str:
    """Our Sid for ``run_id`` (a Sid holds letters and digits only)."""
    return SID_PREFIX + re.sub(r"[^A-Za-z0-9]", "", run_id)


def pause_statements(table_arn: str, run_id: str, expiry: str) -> list[dict[str, Any]]:
    """The two Deny statements of the pause of ``table_arn`` until ``expiry`` (ISO 8601
    UTC, e.g. ``2026-12-01T12:00:00Z``)."""
    account = table_arn.split(":")[4]
    base = sid_base(run_id)
    until = {"aws:CurrentTime": expiry}
    return [
        {
            "Sid": f"{base}ServicePrincipal",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": ["dynamodb:ReadDataForReplication", "dynamodb:WriteDataForReplication"],
            "Resource": table_arn,
            "Condition": {
                "StringEquals": {"aws:PrincipalServiceName": REPLICATION_SERVICE},
                "DateLessThan": dict(until),
            },
        },
        {
            "Sid": f"{base}ServiceLinkedRole",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": list(SLR_ACTIONS),
            "Resource": table_arn,
            "Condition": {
                "DateLessThan": dict(until),
                "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{account}:{_SLR}"},
            },
        },
    ]


def read_policy(client: Any, table_arn: str) -> tuple[str | None, str | None]:
    """(policy text, revision id) as GetResourcePolicy returns them; (None, None) when
    the table has no policy."""
    try:
        answer = client.get_resource_policy(ResourceArn=table_arn)
    except ClientError as error:
        if error_code(error) == NO_POLICY:
            return None, None
        raise
    return answer.get("Policy"), answer.get("RevisionId")


def write_policy(
    client: Any,
    table_arn: str,
    policy: str | None,
    revision: str | None,
    patience_s: float = POLICY_UPDATE_BLOCK_S + 5.0,
) -> dict[str, Any]:
    """PutResourcePolicy of ``policy`` (DeleteResourcePolicy when None) with
    ``ExpectedRevisionId`` ``revision``, retried while AWS answers that the resource is
    busy (the 15 s after an update), for at most ``patience_s``."""
    deadline = time.monotonic() + patience_s
    for attempt in itertools.count():
        try:
            if policy is None:
                return dict(
                    client.delete_resource_policy(
                        ResourceArn=table_arn, ExpectedRevisionId=revision
                    )
                )
            return dict(
                client.put_resource_policy(
                    ResourceArn=table_arn, Policy=policy, ExpectedRevisionId=revision
                )
            )
        except ClientError as error:
            backoff = min(2.0, 0.25 * 2**attempt)
            if error_code(error) not in BUSY_ERRORS or time.monotonic() + backoff > deadline:
                raise
            logger.info("resource policy of %s busy (%s): retrying", table_arn, error_code(error))
            time.sleep(backoff)
    raise AssertionError("unreachable")


def _statement_list(document: dict[str, Any]) -> list[Any]:
    statements = document.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"\s*")


def _skip(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _statement_span(text: str) -> tuple[int, int, Any] | None:
    """(start, end, value) of the top-level ``Statement`` value in the policy text, or
    None when the text is not an object holding one."""
    pos = _skip(text, 0)
    if text[pos : pos + 1] != "{":
        return None
    pos += 1
    while True:
        pos = _skip(text, pos)
        if text[pos : pos + 1] != '"':
            return None
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos : pos + 1] != ":":
            return None
        start = _skip(text, pos + 1)
        value, end = _DECODER.raw_decode(text, start)
        if key == "Statement":
            return start, end, value
        pos = _skip(text, end)
        if text[pos : pos + 1] != ",":
            return None
        pos += 1


def _joined(statements: list[dict[str, Any]]) -> str:
    return ", ".join(json.dumps(s) for s in statements)


def with_statements(policy: str | None, statements: list[dict[str, Any]]) -> str:
    """``policy`` (None: no policy) with ``statements`` appended; the rest of the text is
    left as it is, byte for byte (the statements are inserted into it, not re-serialised)."""
    if not policy:
        return json.dumps({"Version": "2012-10-17", "Statement": statements})
    span = _statement_span(policy)
    if span is None:  # no Statement: a policy AWS would not hold; re-serialised
        document = json.loads(policy)
        document["Statement"] = [*_statement_list(document), *statements]
        return json.dumps(document)
    start, end, value = span
    if isinstance(value, list):
        last = len(policy[: end - 1].rstrip())  # after the last statement
        separator = ", " if value else ""
        return policy[:last] + separator + _joined(statements) + policy[last:]
    return (
        policy[:start] + "[" + policy[start:end] + ", " + _joined(statements) + "]" + policy[end:]
    )


def without_statements(policy: str, sids: list[str]) -> str | None:
    """``policy`` without the statements whose Sid is in ``sids``; None when nothing is
    left (the policy is then to be deleted). The text :func:`with_statements` inserted
    is cut out again, so the rest stays byte for byte; re-serialised only when that
    does not give the same policy."""
    document = json.loads(policy)
    kept = [s for s in _statement_list(document) if not _is_one_of(s, sids)]
    if not kept:
        return None
    expected = dict(document, Statement=kept)
    text = policy
    for statement in _statement_list(document):
        if _is_one_of(statement, sids):
            text = text.replace(", " + json.dumps(statement), "", 1)
    try:
        if json.loads(text) == expected:
            return text
    except ValueError:
        pass
    return json.dumps(expected)


def _is_one_of(statement: Any, sids: list[str]) -> bool:
    return isinstance(statement, dict) and statement.get("Sid") in sids


def our_statements(policy: str | None, sids: list[str] | None = None) -> list[dict[str, Any]]:
    """Statements of ``policy`` that are ours: Sid in ``sids``, or (None) any Sid with
    our prefix."""
    if not policy:
        return []
    try:
        statements = _statement_list(json.loads(policy))
    except ValueError:
        return []
    return [
        s
        for s in statements
        if isinstance(s, dict)
        and (
            s.get("Sid") in sids
            if sids is not None
            else str(s.get("Sid", "")).startswith(SID_PREFIX)
        )
    ]


def statement_expiry(statement: dict[str, Any]) -> str | None:
    """The ``DateLessThan aws:CurrentTime`` of one of our statements."""
    value = (statement.get("Condition") or {}).get("DateLessThan", {}).get("aws:CurrentTime")
    return str(value) if value else None
