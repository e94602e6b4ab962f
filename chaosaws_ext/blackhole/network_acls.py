"""Network ACL reads and moves shared by the blackhole plan, inject, undo and probes.

Subnet -> NACL is always matched client-side from a listing of the VPC's NACLs (moto's
``association.subnet-id`` filter with several values is wrong, and one listing per VPC
is cheaper than one call per subnet anyway). Whether a NACL exists is read from the
same listing (moto lacks the ``network-acl-id`` filter and answers a missing id with
the wrong error code). Moves run concurrently on a bounded thread pool.

The EC2 API is eventually consistent
(https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html): a NACL just
created can be unknown for a moment (``InvalidNetworkAclID.NotFound``), an association
just replaced can still be listed under its old id, and a describe right after a change
can return the previous state. So those errors are retried (bounded, see
:func:`retry_propagation`) and every verification polls (bounded, :func:`poll_until`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.blackhole import FAULT
from chaosaws_ext.core.clients import error_code
from chaosaws_ext.core.identity import (
    TAG_BLACKHOLE_ID,
    TAG_FAULT,
    TAG_MANAGED,
    TAG_ORIGINAL_NACL,
    TAG_ORIGINAL_PREFIX,
)
from chaosaws_ext.core.zones import tags_of

__all__ = [
    "FAULT",
    "TAG_FAULT",
    "TAG_MARKER",
    "TAG_ORIGINAL_PREFIX",
    "TAG_ORIGINAL",
    "PROPAGATION_ERRORS",
    "retry_propagation",
    "poll_until",
    "read_seeing",
    "MAX_TAGS",
    "WORKERS",
    "VpcAcls",
    "describe_vpc_acls",
    "find_blackhole_acls",
    "run_concurrently",
    "move_subnets",
    "restore_subnets",
    "original_from_tags",
    "tags_of",
    "error_code",
]

logger = logging.getLogger("chaosaws_ext")

TAG_MARKER = TAG_BLACKHOLE_ID  # unique per created NACL: the undo key known before creation
# One blackhole NACL per original NACL: every subnet on it came from this one NACL, so
# one tag records the subnet -> original mapping for any number of subnets.
TAG_ORIGINAL = TAG_ORIGINAL_NACL
MAX_TAGS = 50  # AWS limit of tags per resource
WORKERS = 8  # bounded concurrency of independent calls
SWAP_ATTEMPTS = 3  # per subnet move, after transient failures only
# Errors the EC2 eventual-consistency guide documents as propagation delays of a resource
# that does exist (read-after-write); retried with backoff within PROPAGATION_BUDGET_S.
PROPAGATION_ERRORS = frozenset(
    {
        "InvalidNetworkAclID.NotFound",
        "InvalidAssociationID.NotFound",
        "InvalidSubnetID.NotFound",
    }
)
PROPAGATION_ATTEMPTS = 8
PROPAGATION_BUDGET_S = 30.0
VERIFY_TIMEOUT_S = 60.0  # how long a verification polls before it declares a failure
LOOKUP_TIMEOUT_S = 5.0  # how long a read waits for a NACL we created to become visible

T = TypeVar("T")


@dataclass
class VpcAcls:
    """The NACLs of one VPC and which subnet sits on which."""

    vpc_id: str
    default_acl: str = ""
    acls: dict[str, dict[str, str]] = field(default_factory=dict)  # acl id -> tags
    subnet_acl: dict[str, str] = field(default_factory=dict)  # subnet id -> acl id
    subnet_association: dict[str, str] = field(default_factory=dict)  # subnet -> assoc id
    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # acl -> entries

    def is_blackhole(self, acl_id: str) -> bool:
        tags = self.acls.get(acl_id) or {}
        return tags.get(TAG_FAULT) == FAULT and TAG_MANAGED in tags


def describe_vpc_acls(ec2: Any, vpc_ids: Iterable[str]) -> dict[str, VpcAcls]:
    """One paginated listing of the VPCs' NACLs, folded per VPC."""
    vpc_ids = sorted(set(vpc_ids))
    found = {vpc: VpcAcls(vpc_id=vpc) for vpc in vpc_ids}
    if not vpc_ids:
        return found
    paginator = ec2.get_paginator("describe_network_acls")
    for page in paginator.paginate(Filters=[{"Name": "vpc-id", "Values": vpc_ids}]):
        for acl in page.get("NetworkAcls", []):
            vpc = found.setdefault(acl["VpcId"], VpcAcls(vpc_id=acl["VpcId"]))
            acl_id = acl["NetworkAclId"]
            vpc.acls[acl_id] = tags_of(acl)
            vpc.entries[acl_id] = list(acl.get("Entries") or [])
            if acl.get("IsDefault"):
                vpc.default_acl = acl_id
            for association in acl.get("Associations") or []:
                subnet = association.get("SubnetId")
                if subnet:
                    vpc.subnet_acl[subnet] = acl_id
                    vpc.subnet_association[subnet] = association["NetworkAclAssociationId"]
    return found


def find_blackhole_acls(
    ec2: Any, extra_filters: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Our blackhole NACLs (tagged managed-by chaosaws-ext and fault az-blackhole)."""
    filters = [
        {"Name": f"tag:{TAG_MANAGED}", "Values": ["chaosaws-ext"]},
        {"Name": f"tag:{TAG_FAULT}", "Values": [FAULT]},
        *(extra_filters or []),
    ]
    acls: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_network_acls").paginate(Filters=filters):
        acls.extend(page.get("NetworkAcls", []))
    return acls


def original_from_tags(tags: dict[str, str], subnets: Iterable[str] = ()) -> dict[str, str]:
    """``{subnet: original NACL}`` recorded on a blackhole NACL's tags.

    ``chaos:original-nacl`` names the one original of every subnet on the NACL (given as
    ``subnets``); the legacy ``chaos:orig:<subnet>`` tags name one subnet each.
    """
    found = {
        key[len(TAG_ORIGINAL_PREFIX) :]: value
        for key, value in tags.items()
        if key.startswith(TAG_ORIGINAL_PREFIX)
    }
    if tags.get(TAG_ORIGINAL):
        found.update({subnet: tags[TAG_ORIGINAL] for subnet in subnets})
    return found


def retry_propagation(call: Callable[[], T], what: str) -> T:
    """``call()``, retried while it fails with a documented propagation error (bounded).

    Backoff 0.1 s doubling up to 4 s, at most PROPAGATION_ATTEMPTS tries and
    PROPAGATION_BUDGET_S seconds; the last error is raised.
    """
    deadline = time.monotonic() + PROPAGATION_BUDGET_S
    delay = 0.1
    for attempt in range(1, PROPAGATION_ATTEMPTS + 1):
        try:
            return call()
        except ClientError as error:
            if error_code(error) not in PROPAGATION_ERRORS:
                raise
            if attempt == PROPAGATION_ATTEMPTS or time.monotonic() + delay > deadline:
                raise
            logger.info("%s: %s, not propagated yet; retrying", what, error_code(error))
        time.sleep(delay)
        delay = min(delay * 2, 4.0)
    raise AssertionError("unreachable")  # pragma: no cover


def poll_until(
    read: Callable[[], T], done: Callable[[T], bool], timeout: float | None = None
) -> tuple[T, bool]:
    """Read until ``done(value)`` or the timeout (VERIFY_TIMEOUT_S); returns (last, done).

    The first read is immediate; then 0.2 s doubling up to 5 s between reads.
    """
    deadline = time.monotonic() + (VERIFY_TIMEOUT_S if timeout is None else timeout)
    delay = 0.2
    while True:
        value = read()
        if done(value):
            return value, True
        if time.monotonic() + delay > deadline:
            return value, False
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def run_concurrently(calls: list[Callable[[], T]], workers: int | None = None) -> list[T]:
    """Run independent calls on a bounded pool; every call runs, the first error is raised.

    ``workers`` defaults to the module's ``WORKERS`` (read at call time).
    """
    workers = max(1, workers or WORKERS)
    if not calls:
        return []
    if workers == 1 or len(calls) == 1:
        outcomes = [_outcome(call) for call in calls]
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(calls))) as pool:
            outcomes = list(pool.map(_outcome, calls))
    errors = [error for _, error in outcomes if error is not None]
    if errors:
        if len(errors) > 1:
            logger.error("%d of %d calls failed; first: %s", len(errors), len(calls), errors[0])
        raise errors[0]
    return [value for value, _ in outcomes]  # type: ignore[misc]


def _outcome(call: Callable[[], T]) -> tuple[T | None, BaseException | None]:
    try:
        return call(), None
    except Exception as error:  # noqa: BLE001 - re-raised by run_concurrently
        return None, error


def _transient(error: Exception) -> bool:
    """A failure after which the call may be tried again (5xx, unparseable answer)."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(error) == "InvalidAssociationID.NotFound" or int(status or 0) >= 500
    return isinstance(error, ResponseParserError)


class LeftAlone(Exception):
    """The subnet sits on a NACL the move may not take it from (someone moved it)."""


def _replace(
    ec2: Any,
    vpc_id: str,
    subnet: str,
    association: str,
    acl_id: str,
    only_from: set[str] | None = None,
    fresh: bool = False,
) -> str:
    """Move ``subnet`` onto ``acl_id`` and return the new association id.

    With ``fresh`` (the target was just created), a target not propagated yet
    (``InvalidNetworkAclID.NotFound``) is retried by :func:`retry_propagation`; an old
    target answering that is gone, and fails at once. After a transient failure (stale
    association id, 5xx, garbled answer; moto answers concurrent swaps out of one NACL
    with an HTML 500 now and then) the subnet's state is read again: done if it already
    sits on ``acl_id``; :class:`LeftAlone` if ``only_from`` is given and it sits on none of
    those; else retried with the fresh association id, at most ``SWAP_ATTEMPTS`` times.
    """
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:

            def swap(a: str = association) -> Any:
                return ec2.replace_network_acl_association(AssociationId=a, NetworkAclId=acl_id)

            answer = retry_propagation(swap, f"moving {subnet} onto {acl_id}") if fresh else swap()
            return str(answer["NewAssociationId"])
        except (ClientError, ResponseParserError) as error:
            if not _transient(error) or attempt == SWAP_ATTEMPTS:
                raise
            logger.warning("moving %s onto %s failed (%s); checking again", subnet, acl_id, error)
        time.sleep(0.05 * attempt)
        state = describe_vpc_acls(ec2, [vpc_id])[vpc_id]
        if state.subnet_acl.get(subnet) == acl_id:
            return state.subnet_association[subnet]
        if only_from is not None and state.subnet_acl.get(subnet) not in only_from:
            raise LeftAlone(state.subnet_acl.get(subnet) or "no NACL")
        fresh = state.subnet_association.get(subnet)
        if not fresh:
            raise ActivityFailed(f"subnet {subnet} has no network ACL association in {vpc_id}")
        association = fresh
    raise AssertionError("unreachable")  # pragma: no cover


def move_subnets(
    ec2: Any,
    vpc_id: str,
    moves: dict[str, tuple[str, str]],
    workers: int | None = None,
    only_from: set[str] | None = None,
    fresh: bool = False,
) -> dict[str, str]:
    """Move each ``subnet: (association id, target acl)``; returns the new association ids
    (:class:`LeftAlone` raised for a subnet found on none of ``only_from``; ``fresh``:
    the targets were just created, see :func:`_replace`)."""
    items = sorted(moves.items())
    results = run_concurrently(
        [
            (lambda s=subnet, a=assoc, t=target: _replace(ec2, vpc_id, s, a, t, only_from, fresh))
            for subnet, (assoc, target) in items
        ],
        workers,
    )
    return {subnet: new for (subnet, _), new in zip(items, results, strict=True)}


def read_seeing(ec2: Any, vpc_id: str, acl_ids: set[str]) -> VpcAcls:
    """The VPC's NACLs, read again (bounded, LOOKUP_TIMEOUT_S) until one of ``acl_ids``
    (NACLs we created) is in the listing; the last read when none shows up (deleted)."""
    state, _ = poll_until(
        lambda: describe_vpc_acls(ec2, [vpc_id])[vpc_id],
        lambda st: bool(acl_ids & set(st.acls)),
        timeout=LOOKUP_TIMEOUT_S,
    )
    return state


def restore_subnets(
    ec2: Any,
    vpc_id: str,
    originals: dict[str, str],
    only_from: set[str] | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Put each subnet back on its original NACL; idempotent; verifies the result.

    A subnet already on its original is left alone. With ``only_from``, a subnet is only
    moved when it currently sits on one of those NACLs (our blackhole): a subnet someone
    moved elsewhere meanwhile is reported, not clobbered. When the original NACL no longer
    exists the subnet goes to the VPC's default NACL (never to none), and the result says
    so. Raises ActivityFailed when a move did not land.
    """
    state = describe_vpc_acls(ec2, [vpc_id])[vpc_id]
    moves: dict[str, tuple[str, str]] = {}
    result: dict[str, Any] = {
        "vpc": vpc_id,
        "restored": [],
        "already": [],
        "on_default_nacl": [],
        "left_alone": [],
        "missing": [],
    }
    if only_from and any(state.subnet_acl.get(s) == o for s, o in originals.items()):
        # a stale read can show a subnet on its original before the blackhole (and the
        # swap onto it) is visible: read again, until it is, before deciding "already"
        state = read_seeing(ec2, vpc_id, only_from)
    for subnet, original in sorted(originals.items()):
        current = state.subnet_acl.get(subnet)
        if current is None:
            result["missing"].append(subnet)
            logger.warning(
                "subnet %s is gone (or has no NACL association); nothing to restore", subnet
            )
            continue
        if current == original:
            result["already"].append(subnet)
            continue
        if only_from is not None and current not in only_from:
            result["left_alone"].append({"subnet": subnet, "nacl": current, "original": original})
            logger.warning(
                "subnet %s is on %s, neither the blackhole nor its original %s; left alone",
                subnet,
                current,
                original,
            )
            continue
        target = original
        if original not in state.acls:
            if not state.default_acl:
                raise ActivityFailed(
                    f"original NACL {original} of {subnet} is gone and {vpc_id} has no default "
                    "NACL; move the subnet by hand"
                )
            target = state.default_acl
            message = (
                f"original NACL {original} of {subnet} no longer exists; subnet put on the "
                f"VPC default NACL {target} instead"
            )
            logger.warning(message)
            result["on_default_nacl"].append(
                {"subnet": subnet, "original": original, "nacl": target, "message": message}
            )
        moves[subnet] = (state.subnet_association[subnet], target)
    if moves:
        move_subnets(ec2, vpc_id, moves, workers)
        after, _ = poll_until(
            lambda: describe_vpc_acls(ec2, [vpc_id])[vpc_id],
            lambda a: all(a.subnet_acl.get(s) == t for s, (_, t) in moves.items()),
        )
        wrong = {
            subnet: after.subnet_acl.get(subnet)
            for subnet, (_, target) in moves.items()
            if after.subnet_acl.get(subnet) != target
        }
        if wrong:
            raise ActivityFailed(
                "restore did not land: "
                + ", ".join(f"{s} on {a or 'no NACL'}" for s, a in sorted(wrong.items()))
            )
        result["restored"] = sorted(moves)
    return result
