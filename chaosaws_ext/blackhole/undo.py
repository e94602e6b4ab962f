"""Undo of the AZ network blackhole: the undoers ledgers name and the orphan finder.

Every undoer is idempotent and keyed by stable ids (the blackhole NACL's marker tag, the
subnet -> original NACL mapping), so a replay after a crash or a second run changes
nothing more. Ledger names: ``az-blackhole.<verb>-<object>`` (see the declaration in
:mod:`chaosaws_ext.blackhole`).
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.blackhole import DECLARATION
from chaosaws_ext.blackhole.network_acls import (
    LOOKUP_TIMEOUT_S,
    TAG_MARKER,
    TAG_ORIGINAL,
    VpcAcls,
    describe_vpc_acls,
    error_code,
    find_blackhole_acls,
    original_from_tags,
    poll_until,
    restore_subnets,
    tags_of,
)
from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import TAG_EXPIRES_AT

__all__ = [
    "undo_restore_subnets",
    "undo_entries_with_acl",
    "undo_delete_entries",
    "undo_delete_acl",
    "find_blackhole_orphans",
    "delete_acl",
]

logger = logging.getLogger(__name__)

UNDO_DELETE_ACL = DECLARATION.undoer_name("delete-acl")
UNDO_DELETE_ENTRIES = DECLARATION.undoer_name("delete-entries")  # ledgers before 2026-12
UNDO_FORGET_ENTRIES = DECLARATION.undoer_name("forget-entries")
UNDO_RESTORE_SUBNETS = DECLARATION.undoer_name("restore-subnets")
DELETE_RETRY_ERRORS = frozenset({"DependencyViolation"})  # associations not propagated yet


# --- undoers (idempotent; args come from the ledger or from tags) -------------------


def undo_restore_subnets(
    vpc_id: str,
    blackhole_acl_id: str,
    subnets: dict[str, str],
    marker: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Put each subnet that sits on the blackhole NACL back on its original NACL."""
    ec2 = aws_client("ec2", configuration, secrets, region)
    return restore_subnets(ec2, vpc_id, subnets, only_from={blackhole_acl_id})


def undo_entries_with_acl(
    vpc_id: str,
    network_acl_id: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Nothing to call: the entries go with their NACL (its delete-acl undo, older)."""
    return {"network_acl_id": network_acl_id, "entries": "deleted with the NACL"}


def undo_delete_entries(
    vpc_id: str,
    network_acl_id: str,
    entries: list[list[Any]],
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Ledgers written before the entries went with the NACL: same, nothing to call."""
    return {"network_acl_id": network_acl_id, "entries": "deleted with the NACL"}


def delete_acl(ec2: Any, acl_id: str) -> None:
    """DeleteNetworkAcl; gone already is fine; associations not propagated are retried."""

    def delete() -> None:
        try:
            ec2.delete_network_acl(NetworkAclId=acl_id)
        except ClientError as error:
            if error_code(error) == "InvalidNetworkAclID.NotFound":
                return
            if error_code(error) in DELETE_RETRY_ERRORS:
                raise _Retry(error) from error
            raise

    _, done = poll_until(lambda: _attempt(delete), bool)
    if not done:
        raise ActivityFailed(f"blackhole NACL {acl_id} still has subnets; not deleted")


class _Retry(Exception):
    pass


def _attempt(call: Any) -> bool:
    try:
        call()
    except _Retry:
        return False
    return True


def undo_delete_acl(
    vpc_id: str,
    marker: str = "",
    network_acl_id: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Delete the blackhole NACL (found by marker tag or id) after moving its subnets back.

    Subnets still on it go to the NACL recorded in its ``chaos:original-nacl`` tag (or
    the legacy ``chaos:orig:<subnet>`` tags). A subnet whose original is unrecorded or
    gone is put on the VPC's default NACL (never left blackholed) and the undo FAILS
    naming it, so ``gameday recover`` says so and exits non-zero. Nothing found: nothing
    to do.
    """
    ec2 = aws_client("ec2", configuration, secrets, region)
    if not marker and not network_acl_id:
        raise ActivityFailed("delete-acl undo needs a marker or a network_acl_id")

    def ours(state: VpcAcls) -> list[str]:
        return [
            acl_id
            for acl_id, tags in state.acls.items()
            if state.is_blackhole(acl_id)
            and (
                (marker and tags.get(TAG_MARKER) == marker)
                or (not marker and acl_id == network_acl_id)
            )
        ]

    # a NACL just created may not be listed yet: look again (bounded) before "nothing"
    state, _ = poll_until(
        lambda: describe_vpc_acls(ec2, [vpc_id])[vpc_id],
        lambda st: bool(ours(st)),
        timeout=LOOKUP_TIMEOUT_S,
    )
    acls = ours(state)
    result: dict[str, Any] = {"vpc": vpc_id, "deleted": [], "subnets": [], "on_default_nacl": []}
    for acl_id in acls:
        on_it = sorted(s for s, a in state.subnet_acl.items() if a == acl_id)
        if on_it:
            recorded = original_from_tags(state.acls[acl_id], on_it)
            wanted = {s: recorded.get(s, "") for s in on_it}
            unrecorded = sorted(s for s, o in wanted.items() if not o)
            for subnet in unrecorded:
                wanted[subnet] = state.default_acl
            restored = restore_subnets(ec2, vpc_id, wanted, only_from={acl_id})
            result["subnets"].append(restored)
            result["on_default_nacl"] += [d["message"] for d in restored["on_default_nacl"]]
            result["on_default_nacl"] += [
                f"no original NACL recorded for {s}; subnet put on the VPC default NACL "
                f"{state.default_acl}"
                for s in unrecorded
            ]
        delete_acl(ec2, acl_id)
        result["deleted"].append(acl_id)
    if acls:
        after, gone = poll_until(
            lambda: describe_vpc_acls(ec2, [vpc_id])[vpc_id], lambda st: not ours(st)
        )
        if not gone:
            raise ActivityFailed(f"blackhole NACL(s) {', '.join(ours(after))} still exist")
    if result["on_default_nacl"]:
        raise ActivityFailed(
            f"{', '.join(result['deleted'])} deleted, but NOT restored exactly: "
            + "; ".join(result["on_default_nacl"])
        )
    return result


def find_blackhole_orphans(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Our blackhole NACLs left in ``region`` (ledger lost): one delete-acl undo each."""
    ec2 = aws_client("ec2", configuration, secrets, region)
    specs = []
    for acl in find_blackhole_acls(ec2):
        tags = tags_of(acl)
        specs.append(
            {
                "resource": acl["NetworkAclId"],
                "undoer": UNDO_DELETE_ACL,
                "args": {
                    "vpc_id": acl["VpcId"],
                    "marker": tags.get(TAG_MARKER, ""),
                    "network_acl_id": acl["NetworkAclId"],
                },
                "describe": f"move subnets on {acl['NetworkAclId']} back to "
                f"{tags.get(TAG_ORIGINAL) or 'their recorded NACLs'} and delete it",
                "expires_at": tags.get(TAG_EXPIRES_AT),
            }
        )
    return specs
