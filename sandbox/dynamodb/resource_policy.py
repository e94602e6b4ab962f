"""Whether a DynamoDB table's resource-based policy denies global-table replication now.

AWS: replication of an MREC global table runs as the replication service principal
``replication.dynamodb.amazonaws.com`` (actions ``dynamodb:ReadDataForReplication`` /
``dynamodb:WriteDataForReplication``) and, for same-account replicas, as the
service-linked role ``AWSServiceRoleForDynamoDBReplication`` (its item actions). "If you
deny required SLR permissions, replication to and from affected replicas will stop"
(Amazon DynamoDB Developer Guide, "DynamoDB global tables security"). AWS FIS's
``aws:dynamodb:global-table-pause-replication`` appends such Deny statements with a
``DateLessThan aws:CurrentTime`` condition (AWS FIS User Guide, "Amazon DynamoDB
actions"), so the pause ends by itself.

This evaluates only what those statements use: Effect Deny, Principal ``*`` /
``{"AWS": "*"}`` / the service / the role, Action (wildcards), and the condition
operators ``DateLessThan``/``DateGreaterThan`` on ``aws:CurrentTime``,
``StringEquals``/``StringLike`` on ``aws:PrincipalServiceName`` and
``ArnEquals``/``ArnLike`` on ``aws:PrincipalArn``. A statement with any other condition
is not in force here (logged), which errs towards replicating.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "REPLICATION_SERVICE",
    "INBOUND_ACTIONS",
    "OUTBOUND_ACTIONS",
    "replication_denied",
    "denial_ends_at",
]

logger = logging.getLogger(__name__)

REPLICATION_SERVICE = "replication.dynamodb.amazonaws.com"
_SLR_PATH = f"role/aws-service-role/{REPLICATION_SERVICE}/AWSServiceRoleForDynamoDBReplication"
# Writes arriving at the replica (the service principal's action; the SLR's item writes)
INBOUND_ACTIONS = (
    "dynamodb:WriteDataForReplication",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
# Changes leaving the replica (the service principal's action; the SLR's stream reads)
OUTBOUND_ACTIONS = ("dynamodb:ReadDataForReplication", "dynamodb:GetRecords")


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _principal_matches(principal: Any, slr_arn: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if any(p in ("*", slr_arn) for p in _listed(principal.get("AWS"))):
        return True
    return REPLICATION_SERVICE in _listed(principal.get("Service"))


def _condition_holds(condition: dict[str, Any], slr_arn: str, now: datetime) -> bool | None:
    """True/False when every condition is one we evaluate; None when one is unknown."""
    for operator, keys in condition.items():
        if not isinstance(keys, dict):
            return None
        for key, expected in keys.items():
            values = _listed(expected)
            if key.lower() == "aws:currenttime" and operator in ("DateLessThan", "DateGreaterThan"):
                moments = [_parse_time(v) for v in values]
                if any(m is None for m in moments):
                    return None
                if operator == "DateLessThan" and not any(now < m for m in moments if m):
                    return False
                if operator == "DateGreaterThan" and not any(now > m for m in moments if m):
                    return False
            elif key.lower() == "aws:principalservicename" and operator in (
                "StringEquals",
                "StringLike",
            ):
                if not any(fnmatch.fnmatchcase(REPLICATION_SERVICE, v) for v in values):
                    return False
            elif key.lower() == "aws:principalarn" and operator in ("ArnEquals", "ArnLike"):
                if not any(fnmatch.fnmatchcase(slr_arn, v) for v in values):
                    return False
            else:
                return None
    return True


def _statements(policy_doc: str | None) -> list[dict[str, Any]]:
    if not policy_doc:
        return []
    try:
        statements = json.loads(policy_doc).get("Statement", [])
    except (ValueError, AttributeError):
        logger.warning("resource policy is not a JSON object: ignored")
        return []
    return _listed_dicts(statements)


def _listed_dicts(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def _denying(
    policy_doc: str | None, actions: tuple[str, ...], account_id: str, now: datetime
) -> list[dict[str, Any]]:
    slr_arn = f"arn:aws:iam::{account_id}:{_SLR_PATH}"
    found = []
    for statement in _statements(policy_doc):
        if statement.get("Effect") != "Deny" or "NotAction" in statement:
            continue
        if not _principal_matches(statement.get("Principal"), slr_arn):
            continue
        patterns = _listed(statement.get("Action"))
        if not any(fnmatch.fnmatchcase(a, p) for a in actions for p in patterns):
            continue
        holds = _condition_holds(statement.get("Condition") or {}, slr_arn, now)
        if holds is None:
            logger.warning(
                "statement %s of a resource policy has a condition the sandbox does not "
                "evaluate: not in force",
                statement.get("Sid", "?"),
            )
            continue
        if holds:
            found.append(statement)
    return found


def replication_denied(
    policy_doc: str | None, actions: tuple[str, ...], account_id: str, now: datetime
) -> bool:
    """Whether ``policy_doc`` denies one of ``actions`` to global-table replication at
    ``now`` (a timezone-aware datetime)."""
    return bool(_denying(policy_doc, actions, account_id, now))


def denial_ends_at(
    policy_doc: str | None, actions: tuple[str, ...], account_id: str, now: datetime
) -> datetime | None:
    """When the denial in force at ``now`` ends by its own ``DateLessThan`` condition (the
    latest such end); None when it is not in force or has no end."""
    ends: list[datetime] = []
    for statement in _denying(policy_doc, actions, account_id, now):
        times = (statement.get("Condition") or {}).get("DateLessThan", {})
        moments = [
            _parse_time(value)
            for key, values in times.items()
            if key.lower() == "aws:currenttime"
            for value in _listed(values)
        ]
        if not moments:
            return None
        ends.extend(m for m in moments if m)
    return max(ends) if ends else None
