"""Inject and undo the AZ network blackhole (fault ``az-blackhole``).

Inject: plan (read-only) -> guardrails -> per VPC and per original NACL of the selected
subnets, create ONE blackhole NACL (``ClientToken`` = its marker; tagged with the run's
chaos tags, a unique ``chaos:blackhole-id`` and ``chaos:original-nacl`` = the original
NACL, which is the by-tag undo record of every subnet on it, whatever their number),
add its entries (scope ``availability-zone``: the denies, then a copy of the original's
entries; scope ``all``: none, a new NACL denies everything), swap the subnets onto it
concurrently, then verify by polling that every swap is visible. Every mutating call is
journaled first with its exact undo, keyed by stable ids:

- create NACL      -> ``az-blackhole.delete-acl`` (by VPC + marker tag: the id is not
  known before the call); moves any subnet still on it back, then deletes it
- add entries      -> ``az-blackhole.entries-go-with-acl`` (nothing to call:
  ``DeleteNetworkAcl`` removes a NACL's entries)
- swap a batch     -> ``az-blackhole.restore-subnets`` (subnet -> original NACL id)

Undo puts each subnet back on its recorded NACL, or on the VPC's default NACL when the
original vanished meanwhile (and says so); all undoers are idempotent.
``restore_availability_zone`` undoes this run's entries in one pass (the association ids
the inject got back, no describe before the moves, one polled describe per VPC after);
any surprise falls back to the per-entry replay. (``ReplaceNetworkAclAssociation`` is
atomic in AWS: a move to a deleted original fails and changes nothing; moto's is not,
the sandbox makes it so.)

Limits of the fault (VPC user guide, network ACLs): a NACL cannot block DNS to and from
the Route 53 Resolver, the instance metadata service, or traffic inside one subnet; a
change takes effect after a short period, so t0 (the API's answer) precedes the
data-plane effect.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.blackhole import DECLARATION
from chaosaws_ext.blackhole.network_acls import (
    FAULT,
    TAG_MARKER,
    TAG_ORIGINAL,
    VpcAcls,
    describe_vpc_acls,
    move_subnets,
    poll_until,
    read_seeing,
    retry_propagation,
    run_concurrently,
)
from chaosaws_ext.blackhole.planning import (
    DEFAULT_MAX_SUBNETS,
    plan_availability_zone_blackhole,
)
from chaosaws_ext.blackhole.undo import (
    UNDO_DELETE_ACL,
    UNDO_FORGET_ENTRIES,
    UNDO_RESTORE_SUBNETS,
    delete_acl,
)
from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import (
    TAG_RUN_ID,
    RunContext,
    chaos_tags,
    current_run,
)
from chaosaws_ext.core.numbers import checked_integer
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.ledger import Ledger, LedgerEntry
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.planning import FaultPlan
from chaosaws_ext.undo import replay, revert_faults, undo_failures

__all__ = ["blackhole_availability_zone", "restore_availability_zone"]

logger = logging.getLogger("chaosaws_ext")

# what the one-pass undo handles: every name of the four undoers, the old ones too
FAST_UNDOERS = frozenset().union(
    *(
        DECLARATION.names_for(v)
        for v in ("restore-subnets", "delete-acl", "forget-entries", "delete-entries")
    )
)
SWAP_BATCH = 100  # subnets per ledger entry (keeps one ledger line small)

# What this process's inject got back, so its undo needs no describe before the moves:
# (region, subnet) -> (blackhole NACL id, association id on it). A stale id (someone moved
# the subnet) fails the move, which then reads the subnet's state (see _replace).
_swapped: dict[tuple[str, str], tuple[str, str]] = {}
_swapped_lock = threading.Lock()


def blackhole_availability_zone(
    availability_zone: str,
    vpc_id: str = "",
    vpc_tag: str = "",
    subnet_tag: str = "",
    scope: str = "all",
    allow_all_azs: bool = False,
    max_subnets: int = DEFAULT_MAX_SUBNETS,
    refuse_if_protected: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Cut the subnets of one AZ off the network by swapping them onto blackhole NACLs.

    ``availability_zone``: zone name (eu-south-1a) or zone id (eus1-az1). VPC: ``vpc_id``
    or ``vpc_tag`` (``Key=Value``). ``subnet_tag`` (``Key=Value``) narrows the subnets.
    ``scope``: ``all`` denies every IPv4/IPv6 packet both ways; ``availability-zone``
    denies traffic to and from the VPC's subnets in the other AZs and keeps every rule
    of the subnet's own NACL (as AWS FIS). Subnets with the protection tag set to a true
    value (true/yes/1/on) are left out and listed in ``excluded``; with
    ``refuse_if_protected`` the fault refuses instead. Refuses (one line, nothing
    changed) an unknown zone, nothing left to blackhole, every AZ of a VPC unless
    ``allow_all_azs``, more than ``max_subnets`` subnets, a NACL over its rules quota.
    Undo with ``restore_availability_zone`` (or ``gameday recover``).
    """
    max_subnets = checked_integer(
        max_subnets, "max_subnets", minimum=1, activity="blackhole_availability_zone"
    )
    plan = plan_availability_zone_blackhole(
        availability_zone,
        vpc_id=vpc_id,
        vpc_tag=vpc_tag,
        subnet_tag=subnet_tag,
        scope=scope,
        allow_all_azs=allow_all_azs,
        max_subnets=max_subnets,
        refuse_if_protected=refuse_if_protected,
        configuration=configuration,
        secrets=secrets,
    )
    check_plan(plan, configuration, secrets)
    for excluded in plan.details["excluded"]:
        logger.warning("%s: %s left out, %s", FAULT, excluded["subnet"], excluded["reason"])
    run = current_run(configuration)
    ledger = Ledger(run.ledger_path)
    known = {entry.id for entry in ledger.entries()}
    ec2 = aws_client("ec2", configuration, secrets, plan.region)
    blackholes: dict[str, dict[str, str]] = {}  # vpc -> original -> blackhole
    original: dict[str, str] = {}
    stamp = None
    try:
        for vpc in sorted(plan.details["vpcs"]):
            facts = plan.details["vpcs"][vpc]
            blackholes[vpc] = {
                acl: _blackhole_group(ec2, plan, vpc, acl, run, configuration)
                for acl in sorted(facts["blackholes"])
            }
            original.update({s: v["nacl"] for s, v in facts["subnets"].items()})
        # t0 is the last mutating call's answer; the verification below only reads
        stamp = stamp_injected(FAULT)
        _verify_injected(ec2, plan, blackholes)
    except Exception as error:
        logger.error("%s inject failed half-way (%s); undoing what was done", FAULT, error)
        problems = undo_failures(
            replay(ledger, configuration, secrets, run_id=run.run_id, fault=FAULT, skip=known)
        )
        if stamp is not None and not problems:
            stamp_reverted(FAULT)
        if problems:
            raise ActivityFailed(
                f"{FAULT} inject failed ({error}) and its undo failed too: {'; '.join(problems)} "
                f"(run `gameday recover --ledger {ledger.path}` once fixed)"
            ) from error
        raise ActivityFailed(f"{FAULT} inject failed and was undone: {error}") from error
    ids = [acl for vpc in sorted(blackholes) for acl in blackholes[vpc].values()]
    return {
        "fault": FAULT,
        "vpc": ",".join(sorted(blackholes)),
        "zone": plan.details["zone"],
        "zone_id": plan.details["zone_id"],
        "scope": plan.details["scope"],
        "subnets_moved": len(original),
        "subnets": sorted(original),
        "excluded": plan.details["excluded"],
        "blackhole_nacl_id": ",".join(ids),
        "blackhole_nacl_ids": blackholes,
        "original": original,
        "injected_at": stamp.wall,
        "ledger": str(run.ledger_path),
    }


def _verify_injected(ec2: Any, plan: FaultPlan, blackholes: dict[str, dict[str, str]]) -> None:
    """Poll (bounded) until every swap is visible: one describe per VPC when consistent."""
    for vpc in sorted(blackholes):
        wanted = {
            subnet: blackholes[vpc][facts["nacl"]]
            for subnet, facts in plan.details["vpcs"][vpc]["subnets"].items()
        }
        state, ok = poll_until(
            lambda v=vpc: describe_vpc_acls(ec2, [v])[v],
            lambda st, w=wanted: all(st.subnet_acl.get(s) == a for s, a in w.items()),
        )
        if not ok:
            wrong = sorted(s for s, a in wanted.items() if state.subnet_acl.get(s) != a)
            raise ActivityFailed(f"swaps not visible after polling: {', '.join(wrong)}")


def _blackhole_tags(run: RunContext, zone: str, marker: str, original: str) -> list[dict[str, str]]:
    tags = chaos_tags(run, FAULT)
    tags["Name"] = f"chaos-az-blackhole-{zone}"
    tags[TAG_MARKER] = marker
    tags[TAG_ORIGINAL] = original
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _entry_text(entry: dict[str, Any]) -> str:
    where = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")
    ports = entry.get("PortRange")
    what = f" proto {entry['Protocol']}" if entry.get("Protocol", "-1") != "-1" else ""
    if ports:
        what += f" ports {ports.get('From')}-{ports.get('To')}"
    direction = "out" if entry["Egress"] else "in"
    return f"{direction} {entry['RuleNumber']} {entry['RuleAction']} {where}{what}"


def _blackhole_group(
    ec2: Any,
    plan: FaultPlan,
    vpc: str,
    original_acl: str,
    run: RunContext,
    configuration: Configuration,
) -> str:
    """Create the blackhole NACL of one original NACL, fill it, swap its subnets on."""
    facts = plan.details["vpcs"][vpc]
    group = facts["blackholes"][original_acl]
    zone, scope = plan.details["zone"], plan.details["scope"]
    subnets: dict[str, dict[str, str]] = {s: facts["subnets"][s] for s in group["subnets"]}
    marker = uuid.uuid4().hex[:16]
    change = (
        f"create blackhole network ACL ({scope}) for {zone}, copy of {original_acl}"
        if scope == "availability-zone"
        else f"create blackhole network ACL ({scope}) for {zone} (subnets of {original_acl})"
    )
    left_out = [e for e in plan.details["excluded"] if e["vpc"] == vpc]
    if left_out:
        change += "; excluded: " + ", ".join(f"{e['subnet']} {e['reason']}" for e in left_out)
    acl_id = journaled(
        fault=FAULT,
        region=plan.region,
        resource=f"{vpc}/network-acl:{marker}",
        change=change,
        undoer=UNDO_DELETE_ACL,
        undo_args={"vpc_id": vpc, "marker": marker},
        undo_describe=f"move any subnet left on the NACL tagged {TAG_MARKER}={marker} back, "
        "then delete that NACL",
        call=lambda: ec2.create_network_acl(
            VpcId=vpc,
            ClientToken=marker,  # a retried create cannot make a second NACL
            TagSpecifications=[
                {
                    "ResourceType": "network-acl",
                    "Tags": _blackhole_tags(run, zone, marker, original_acl),
                }
            ],
        )["NetworkAcl"]["NetworkAclId"],
        configuration=configuration,
    )
    entries: list[dict[str, Any]] = group["entries"]
    if entries:
        journaled(
            fault=FAULT,
            region=plan.region,
            resource=acl_id,
            change=f"add {len(entries)} entries: " + ", ".join(_entry_text(e) for e in entries),
            undoer=UNDO_FORGET_ENTRIES,
            undo_args={"vpc_id": vpc, "network_acl_id": acl_id},
            undo_describe=f"nothing: deleting {acl_id} removes its entries",
            call=lambda: run_concurrently(
                [
                    (
                        lambda e=e: retry_propagation(
                            lambda: ec2.create_network_acl_entry(NetworkAclId=acl_id, **e),
                            f"adding rule {e['RuleNumber']} to {acl_id}",
                        )
                    )
                    for e in entries
                ]
            ),
            configuration=configuration,
        )
    ordered = sorted(subnets)
    for start in range(0, len(ordered), SWAP_BATCH):
        batch = ordered[start : start + SWAP_BATCH]
        moved = journaled(
            fault=FAULT,
            region=plan.region,
            resource=",".join(batch),
            change="; ".join(f"{s}: {original_acl} -> {acl_id}" for s in batch),
            undoer=UNDO_RESTORE_SUBNETS,
            undo_args={
                "vpc_id": vpc,
                "blackhole_acl_id": acl_id,
                "marker": marker,
                "subnets": {s: original_acl for s in batch},
            },
            undo_describe=f"put each subnet back on {original_acl} (default NACL of {vpc} "
            "if that one is gone)",
            call=lambda batch=batch: move_subnets(
                ec2, vpc, {s: (subnets[s]["association"], acl_id) for s in batch}, fresh=True
            ),
            configuration=configuration,
        )
        with _swapped_lock:
            _swapped.update({(plan.region, s): (acl_id, a) for s, a in moved.items()})
    return acl_id


# --- rollback action -------------------------------------------------------------


def _fast_undo(
    entries: list[LedgerEntry], configuration: Configuration, secrets: Secrets
) -> list[dict[str, Any]]:
    """Undo this run's unreverted entries in one pass; returns one result per VPC.

    Per VPC: the moves (with the association ids this process's inject got back; else
    after one describe, read again until our blackholes are listed), one
    ``DeleteNetworkAcl`` per blackhole (its entries go with it), then one describe polled
    as verification. Raises on any surprise (an original gone, a subnet moved elsewhere):
    the caller falls back to the per-entry replay, which handles and reports those.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        args = entry.undo.get("args", {})
        group = groups.setdefault(
            (entry.region, args["vpc_id"]), {"restore": {}, "markers": set(), "acls": set()}
        )
        if entry.undo["undoer"] == UNDO_RESTORE_SUBNETS:
            for subnet, original in args["subnets"].items():
                group["restore"][subnet] = (args["blackhole_acl_id"], original)
            group["acls"].add(args["blackhole_acl_id"])
        elif entry.undo["undoer"] == UNDO_DELETE_ACL:
            group["markers"].add(args.get("marker", ""))
    results: list[dict[str, Any]] = []
    for (region, vpc), group in sorted(groups.items()):
        ec2 = aws_client("ec2", configuration, secrets, region or None)
        with _swapped_lock:
            known = {s: _swapped.get((region, s)) for s in group["restore"]}
        swapped_acls = {v[0] for v in known.values() if v}
        if all(v and v[0] == group["restore"][s][0] for s, v in known.items()) and (
            len(group["markers"]) <= len(swapped_acls)
        ):
            # this process swapped every subnet and knows the association ids: no read
            blackholes = set(group["acls"])
            moves = {s: (known[s][1], o) for s, (_, o) in group["restore"].items()}  # type: ignore[index]
            move_subnets(ec2, vpc, moves, only_from=blackholes)
            present = sorted(blackholes)
        else:
            blackholes, moves, present = _read_undo_moves(ec2, vpc, group)
            move_subnets(ec2, vpc, moves)
        run_concurrently([(lambda a=a, c=ec2: delete_acl(c, a)) for a in present])
        wanted = {s: o for s, (_, o) in group["restore"].items()}
        _, ok = poll_until(
            lambda v=vpc, c=ec2: describe_vpc_acls(c, [v])[v],
            lambda st, w=wanted, b=blackholes: (
                all(st.subnet_acl.get(s) == o for s, o in w.items()) and not (b & set(st.acls))
            ),
        )
        if not ok:
            raise ActivityFailed(f"undo of {vpc} not visible after polling")
        with _swapped_lock:
            for subnet in wanted:
                _swapped.pop((region, subnet), None)
        results.append({"vpc": vpc, "restored": sorted(moves), "deleted": present})
    return results


def _read_undo_moves(
    ec2: Any, vpc: str, group: dict[str, Any]
) -> tuple[set[str], dict[str, tuple[str, str]], list[str]]:
    """One read (again until the blackholes are listed: a stale read predates them):
    the blackholes, the moves back, and the blackholes present."""
    state = read_seeing(ec2, vpc, set(group["acls"])) if group["acls"] else None
    state = state or describe_vpc_acls(ec2, [vpc])[vpc]
    blackholes = set(group["acls"]) | {
        acl
        for acl, tags in state.acls.items()
        if state.is_blackhole(acl) and tags.get(TAG_MARKER) in group["markers"]
    }
    moves: dict[str, tuple[str, str]] = {}
    for subnet, (blackhole, original) in sorted(group["restore"].items()):
        now = state.subnet_acl.get(subnet)
        if now == original:
            continue
        if now != blackhole:
            raise ActivityFailed(f"{subnet} is on {now}, neither its blackhole nor {original}")
        if original not in state.acls:
            raise ActivityFailed(f"original NACL {original} of {subnet} is gone")
        moves[subnet] = (state.subnet_association[subnet], original)
    stray = sorted(s for s, a in state.subnet_acl.items() if a in blackholes and s not in moves)
    if stray:
        raise ActivityFailed(f"subnets not in the ledger sit on the blackhole: {stray}")
    return blackholes, moves, sorted(blackholes & set(state.acls))


def restore_availability_zone(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Undo this run's AZ blackhole from the ledger and verify the associations.

    Each subnet must end on its recorded original NACL, or on the VPC's default NACL
    when the original no longer exists (reported in ``on_default_nacl``), and no
    blackhole NACL of this run may remain. Idempotent.
    """
    run = current_run(configuration)
    ledger = Ledger(run.ledger_path)
    pending = ledger.unreverted(run_id=run.run_id, fault=FAULT)
    fast = bool(pending) and all(e.undo.get("undoer") in FAST_UNDOERS for e in pending)
    reverted: dict[str, Any] | None = None
    if fast:
        try:
            detail = _fast_undo(pending, configuration, secrets)
        except Exception as error:  # noqa: BLE001 - the per-entry replay handles the rest
            logger.warning("%s one-pass undo stopped (%s); replaying entry by entry", FAULT, error)
        else:
            for entry in reversed(pending):
                ledger.mark_reverted(entry.id, {"one_pass": detail})
            return _restored(run, len(pending), [], True)
    reverted = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    on_default = _verify_restored(run, configuration, secrets)
    return _restored(run, reverted["reverted"], on_default, bool(reverted["reverted"]))


def _restored(run: RunContext, count: int, on_default: list[Any], stamp: bool) -> dict[str, Any]:
    entries = [
        e for e in Ledger(run.ledger_path).entries() if e.run_id == run.run_id and e.fault == FAULT
    ]
    subnets = {
        s
        for e in entries
        if e.undo.get("undoer") == UNDO_RESTORE_SUBNETS
        for s in e.undo["args"]["subnets"]
    }
    result: dict[str, Any] = {
        "fault": FAULT,
        "reverted": count,
        "subnets_restored": len(subnets),
        "on_default_nacl": on_default,
        "verified": True,
        "reverted_at": None,
    }
    if stamp:
        result["reverted_at"] = stamp_reverted(FAULT).wall
    return result


def _verify_restored(
    run: RunContext, configuration: Configuration, secrets: Secrets
) -> list[dict[str, str]]:
    """Poll one describe per VPC until every subnet is back and no blackhole is left."""
    entries = [
        e for e in Ledger(run.ledger_path).entries() if e.run_id == run.run_id and e.fault == FAULT
    ]
    expected: dict[tuple[str, str], dict[str, str]] = {}  # (region, vpc) -> subnet -> nacl
    vpcs: set[tuple[str, str]] = set()
    for entry in entries:
        args = entry.undo.get("args", {})
        if entry.undo.get("undoer") == UNDO_RESTORE_SUBNETS:
            expected.setdefault((entry.region, args["vpc_id"]), {}).update(args["subnets"])
        if "vpc_id" in args:
            vpcs.add((entry.region, args["vpc_id"]))
    on_default: list[dict[str, str]] = []
    wrong: list[str] = []
    for region, vpc in sorted(vpcs):
        ec2 = aws_client("ec2", configuration, secrets, region or None)
        wanted = expected.get((region, vpc), {})

        def problems(state: VpcAcls, wanted: dict[str, str] = wanted) -> list[str]:
            found = [
                f"blackhole NACL {acl} still exists"
                for acl, tags in state.acls.items()
                if state.is_blackhole(acl) and tags.get(TAG_RUN_ID) == run.run_id
            ]
            for subnet, original in sorted(wanted.items()):
                now = state.subnet_acl.get(subnet)
                if now == original or (original not in state.acls and now == state.default_acl):
                    continue
                found.append(f"{subnet} is on {now or 'no NACL'}, expected {original}")
            return found

        state, _ = poll_until(
            lambda v=vpc, c=ec2: describe_vpc_acls(c, [v])[v],
            lambda st, p=problems: not p(st),  # type: ignore[misc]
        )
        wrong += problems(state)
        for subnet, original in sorted(wanted.items()):
            now = state.subnet_acl.get(subnet)
            if now != original and original not in state.acls and now == state.default_acl:
                message = (
                    f"original NACL {original} of {subnet} no longer exists; subnet left on "
                    f"the VPC default NACL {now}"
                )
                logger.warning(message)
                on_default.append(
                    {"subnet": subnet, "original": original, "nacl": now, "message": message}
                )
    if wrong:
        raise ActivityFailed(f"{FAULT} not fully restored: " + "; ".join(wrong))
    return on_default
