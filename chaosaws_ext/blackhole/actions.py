"""Inject and undo the AZ network blackhole (fault ``az-blackhole``).

Inject: plan (read-only) -> guardrails -> per VPC, create ONE blackhole NACL (tagged with
the run's chaos tags, a unique ``chaos:blackhole-id`` and ``chaos:orig:<subnet>`` =
original NACL for as many subnets as the 50-tag limit allows), add its deny entries
(denies first, no allow before them), then swap the subnets onto it concurrently. Every
mutating call is journaled first with its exact undo, keyed by NACL ids:

- create NACL      -> ``az-blackhole.delete-acl`` (by VPC + marker tag: the id is not
  known before the call); moves any subnet still on it back, then deletes it
- add entries      -> ``az-blackhole.delete-entries`` (NACL id, rule numbers)
- swap a batch     -> ``az-blackhole.restore-subnets`` (subnet -> original NACL id)

Undo puts each subnet back on its recorded NACL, or on the VPC's default NACL when the
original vanished meanwhile (and says so); all undoers are idempotent.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.blackhole.network_acls import (
    FAULT,
    MAX_TAGS,
    TAG_MARKER,
    TAG_ORIGINAL_PREFIX,
    describe_vpc_acls,
    error_code,
    find_blackhole_acls,
    move_subnets,
    original_from_tags,
    restore_subnets,
    run_concurrently,
    tags_of,
)
from chaosaws_ext.blackhole.planning import (
    DEFAULT_MAX_SUBNETS,
    blackhole_entries,
    plan_availability_zone_blackhole,
)
from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.planning import FaultPlan
from chaosaws_ext.runcontext import TAG_EXPIRES_AT, TAG_RUN_ID, RunContext, chaos_tags, current_run
from chaosaws_ext.undo import orphan_finder, revert_faults, undo_entry, undoer

__all__ = ["blackhole_availability_zone", "restore_availability_zone"]

logger = logging.getLogger("chaosaws_ext")

UNDO_DELETE_ACL = "az-blackhole.delete-acl"
UNDO_DELETE_ENTRIES = "az-blackhole.delete-entries"
UNDO_RESTORE_SUBNETS = "az-blackhole.restore-subnets"
SWAP_BATCH = 100  # subnets per ledger entry (keeps one ledger line small)


def blackhole_availability_zone(
    availability_zone: str,
    vpc_id: str = "",
    vpc_tag: str = "",
    subnet_tag: str = "",
    scope: str = "all",
    allow_all_azs: bool = False,
    max_subnets: int = DEFAULT_MAX_SUBNETS,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Cut the subnets of one AZ off the network by swapping them onto a blackhole NACL.

    ``availability_zone``: zone name (eu-south-1a) or zone id (eus1-az1). VPC: ``vpc_id``
    or ``vpc_tag`` (``Key=Value``). ``subnet_tag`` (``Key=Value``) narrows the subnets.
    ``scope``: ``all`` denies every IPv4/IPv6 packet both ways; ``availability-zone``
    denies only traffic to and from the VPC's subnets in the other AZs. Refuses (one
    line, nothing changed) an unknown zone, no match, every AZ of a VPC unless
    ``allow_all_azs``, more than ``max_subnets`` subnets. Undo with
    ``restore_availability_zone`` (or ``gameday recover``).
    """
    plan = plan_availability_zone_blackhole(
        availability_zone,
        vpc_id=vpc_id,
        vpc_tag=vpc_tag,
        subnet_tag=subnet_tag,
        scope=scope,
        allow_all_azs=allow_all_azs,
        max_subnets=max_subnets,
        configuration=configuration,
        secrets=secrets,
    )
    check_plan(plan, configuration, secrets)
    run = current_run(configuration)
    ledger = Ledger(run.ledger_path)
    known = {entry.id for entry in ledger.entries()}
    ec2 = aws_client("ec2", configuration, secrets, plan.region)
    blackholes: dict[str, str] = {}
    original: dict[str, str] = {}
    try:
        for vpc in sorted(plan.details["vpcs"]):
            blackholes[vpc] = _blackhole_vpc(ec2, plan, vpc, run, configuration)
            original.update({s: v["nacl"] for s, v in plan.details["vpcs"][vpc]["subnets"].items()})
    except Exception as error:
        logger.error("%s inject failed half-way (%s); undoing what was done", FAULT, error)
        problems = _undo_new_entries(ledger, run, known, configuration, secrets)
        if problems:
            raise ActivityFailed(
                f"{FAULT} inject failed ({error}) and its undo failed too: {'; '.join(problems)} "
                f"(run `gameday recover --ledger {ledger.path}` once fixed)"
            ) from error
        raise ActivityFailed(f"{FAULT} inject failed and was undone: {error}") from error
    stamp = stamp_injected(FAULT)
    return {
        "fault": FAULT,
        "vpc": ",".join(sorted(blackholes)),
        "zone": plan.details["zone"],
        "zone_id": plan.details["zone_id"],
        "scope": plan.details["scope"],
        "subnets_moved": len(original),
        "subnets": sorted(original),
        "blackhole_nacl_id": ",".join(blackholes[v] for v in sorted(blackholes)),
        "blackhole_nacl_ids": blackholes,
        "original": original,
        "injected_at": stamp.wall,
        "ledger": str(run.ledger_path),
    }


def _undo_new_entries(
    ledger: Ledger,
    run: RunContext,
    known: set[str],
    configuration: Configuration,
    secrets: Secrets,
) -> list[str]:
    """Undo (newest first) only the entries this call recorded; returns what failed."""
    problems: list[str] = []
    for entry in reversed(ledger.unreverted(run_id=run.run_id, fault=FAULT)):
        if entry.id in known:
            continue
        try:
            detail = undo_entry(entry, configuration, secrets)
        except Exception as error:  # noqa: BLE001 - reported, entry stays unreverted
            problems.append(f"{entry.resource}: {error}")
            continue
        ledger.mark_reverted(entry.id, detail)
    return problems


def _blackhole_tags(
    run: RunContext, zone: str, marker: str, original: dict[str, str]
) -> list[dict[str, str]]:
    tags = chaos_tags(run, FAULT)
    tags["Name"] = f"chaos-az-blackhole-{zone}"
    tags[TAG_MARKER] = marker
    room = MAX_TAGS - len(tags)
    fitting = sorted(original)[:room]
    if len(original) > room:
        logger.info(
            "%d of %d original NACLs recorded in tags (50-tag limit); the ledger holds all",
            room,
            len(original),
        )
    tags.update({f"{TAG_ORIGINAL_PREFIX}{s}": original[s] for s in fitting})
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _blackhole_vpc(
    ec2: Any, plan: FaultPlan, vpc: str, run: RunContext, configuration: Configuration
) -> str:
    """Create the VPC's blackhole NACL, fill it, swap its subnets on. Returns its id."""
    facts = plan.details["vpcs"][vpc]
    zone, scope = plan.details["zone"], plan.details["scope"]
    subnets: dict[str, dict[str, str]] = facts["subnets"]
    original = {s: v["nacl"] for s, v in subnets.items()}
    marker = uuid.uuid4().hex[:16]
    acl_id = journaled(
        fault=FAULT,
        region=plan.region,
        resource=f"{vpc}/network-acl:{marker}",
        change=f"create blackhole network ACL ({scope}) for {zone}",
        undoer=UNDO_DELETE_ACL,
        undo_args={"vpc_id": vpc, "marker": marker},
        undo_describe=f"move any subnet left on the NACL tagged {TAG_MARKER}={marker} back, "
        "then delete that NACL",
        call=lambda: ec2.create_network_acl(
            VpcId=vpc,
            TagSpecifications=[
                {
                    "ResourceType": "network-acl",
                    "Tags": _blackhole_tags(run, zone, marker, original),
                }
            ],
        )["NetworkAcl"]["NetworkAclId"],
        configuration=configuration,
    )
    entries = blackhole_entries(scope, facts["other_az_cidrs"])
    journaled(
        fault=FAULT,
        region=plan.region,
        resource=acl_id,
        change=f"add {len(entries)} entries: "
        + ", ".join(
            f"{'out' if e['Egress'] else 'in'} {e['RuleNumber']} {e['RuleAction']} "
            f"{e.get('CidrBlock') or e.get('Ipv6CidrBlock')}"
            for e in entries
        ),
        undoer=UNDO_DELETE_ENTRIES,
        undo_args={
            "vpc_id": vpc,
            "network_acl_id": acl_id,
            "entries": [[e["RuleNumber"], e["Egress"]] for e in entries],
        },
        undo_describe=f"delete those entries from {acl_id}",
        call=lambda: run_concurrently(
            [
                (lambda e=e: ec2.create_network_acl_entry(NetworkAclId=acl_id, Protocol="-1", **e))
                for e in entries
            ]
        ),
        configuration=configuration,
    )
    ordered = sorted(subnets)
    for start in range(0, len(ordered), SWAP_BATCH):
        batch = ordered[start : start + SWAP_BATCH]
        journaled(
            fault=FAULT,
            region=plan.region,
            resource=",".join(batch),
            change="; ".join(f"{s}: {original[s]} -> {acl_id}" for s in batch),
            undoer=UNDO_RESTORE_SUBNETS,
            undo_args={
                "vpc_id": vpc,
                "blackhole_acl_id": acl_id,
                "subnets": {s: original[s] for s in batch},
            },
            undo_describe=f"put each subnet back on its original NACL (default NACL of {vpc} "
            "if that one is gone)",
            call=lambda batch=batch: move_subnets(
                ec2, vpc, {s: (subnets[s]["association"], acl_id) for s in batch}
            ),
            configuration=configuration,
        )
    return acl_id


# --- undoers (idempotent; args come from the ledger or from tags) -------------------


@undoer(UNDO_RESTORE_SUBNETS)
def undo_restore_subnets(
    vpc_id: str,
    blackhole_acl_id: str,
    subnets: dict[str, str],
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Put each subnet that sits on the blackhole NACL back on its original NACL."""
    ec2 = aws_client("ec2", configuration, secrets, region)
    return restore_subnets(ec2, vpc_id, subnets, only_from={blackhole_acl_id})


@undoer(UNDO_DELETE_ENTRIES)
def undo_delete_entries(
    vpc_id: str,
    network_acl_id: str,
    entries: list[list[Any]],
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Delete the blackhole entries (nothing to do when the NACL is already gone)."""
    ec2 = aws_client("ec2", configuration, secrets, region)
    if network_acl_id not in describe_vpc_acls(ec2, [vpc_id])[vpc_id].acls:
        return {"network_acl_id": network_acl_id, "deleted": 0, "gone": True}

    def delete(number: int, egress: bool) -> int:
        try:
            ec2.delete_network_acl_entry(
                NetworkAclId=network_acl_id, RuleNumber=int(number), Egress=bool(egress)
            )
        except ClientError as error:
            if error_code(error) not in (
                "InvalidNetworkAclEntry.NotFound",
                "InvalidNetworkAclID.NotFound",
            ):
                raise
            return 0
        return 1

    done = run_concurrently([(lambda n=n, e=e: delete(n, e)) for n, e in entries])
    return {"network_acl_id": network_acl_id, "deleted": sum(done), "gone": False}


@undoer(UNDO_DELETE_ACL)
def undo_delete_acl(
    vpc_id: str,
    marker: str = "",
    network_acl_id: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Delete the blackhole NACL (found by marker tag or id) after moving its subnets back.

    Subnets still on it go to the NACL recorded in its ``chaos:orig:<subnet>`` tag when
    that NACL exists, else to the VPC's default NACL. Nothing found: nothing to do.
    """
    ec2 = aws_client("ec2", configuration, secrets, region)
    if not marker and not network_acl_id:
        raise ActivityFailed("delete-acl undo needs a marker or a network_acl_id")

    def ours() -> list[dict[str, Any]]:
        # matched client-side: moto lacks the network-acl-id filter
        return [
            acl
            for acl in find_blackhole_acls(ec2, [{"Name": "vpc-id", "Values": [vpc_id]}])
            if (marker and tags_of(acl).get(TAG_MARKER) == marker)
            or (not marker and acl["NetworkAclId"] == network_acl_id)
        ]

    acls = ours()
    result: dict[str, Any] = {"vpc": vpc_id, "deleted": [], "subnets": []}
    for acl in acls:
        acl_id = acl["NetworkAclId"]
        on_it = [a["SubnetId"] for a in acl.get("Associations") or [] if a.get("SubnetId")]
        if on_it:
            recorded = original_from_tags(tags_of(acl))
            default = describe_vpc_acls(ec2, [vpc_id])[vpc_id].default_acl
            wanted = {s: recorded.get(s, default) for s in on_it}
            result["subnets"].append(restore_subnets(ec2, vpc_id, wanted, only_from={acl_id}))
        try:
            ec2.delete_network_acl(NetworkAclId=acl_id)
        except ClientError as error:
            if error_code(error) != "InvalidNetworkAclID.NotFound":
                raise
        result["deleted"].append(acl_id)
    if acls and ours():
        raise ActivityFailed(f"blackhole NACL(s) {', '.join(result['deleted'])} still exist")
    return result


@orphan_finder(FAULT)
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
                "describe": f"move subnets on {acl['NetworkAclId']} back (tags, else the "
                "default NACL) and delete it",
                "expires_at": tags.get(TAG_EXPIRES_AT),
            }
        )
    return specs


# --- rollback action -------------------------------------------------------------


def restore_availability_zone(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Undo this run's AZ blackhole from the ledger and verify the associations.

    Each subnet must end on its recorded original NACL, or on the VPC's default NACL
    when the original no longer exists (reported in ``on_default_nacl``), and no
    blackhole NACL of this run may remain. Idempotent.
    """
    run = current_run(configuration)
    reverted = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    entries = [
        e for e in Ledger(run.ledger_path).entries() if e.run_id == run.run_id and e.fault == FAULT
    ]
    expected: dict[tuple[str, str], dict[str, str]] = {}  # (region, vpc) -> subnet -> nacl
    blackholes: dict[tuple[str, str], set[str]] = {}
    for entry in entries:
        args = entry.undo.get("args", {})
        if entry.undo.get("undoer") == UNDO_RESTORE_SUBNETS:
            key = (entry.region, args["vpc_id"])
            expected.setdefault(key, {}).update(args["subnets"])
            blackholes.setdefault(key, set()).add(args["blackhole_acl_id"])
        elif entry.undo.get("undoer") == UNDO_DELETE_ACL:
            blackholes.setdefault((entry.region, args["vpc_id"]), set())
    on_default: list[dict[str, str]] = []
    wrong: list[str] = []
    for region, vpc in sorted(blackholes):
        ec2 = aws_client("ec2", configuration, secrets, region or None)
        state = describe_vpc_acls(ec2, [vpc])[vpc]
        left = [
            a["NetworkAclId"]
            for a in find_blackhole_acls(
                ec2,
                [
                    {"Name": "vpc-id", "Values": [vpc]},
                    {"Name": f"tag:{TAG_RUN_ID}", "Values": [run.run_id]},
                ],
            )
        ]
        wrong.extend(f"blackhole NACL {acl} still exists" for acl in left)
        for subnet, original in sorted(expected.get((region, vpc), {}).items()):
            now = state.subnet_acl.get(subnet)
            if now == original:
                continue
            if original not in state.acls and now == state.default_acl:
                message = (
                    f"original NACL {original} of {subnet} no longer exists; subnet left on "
                    f"the VPC default NACL {now}"
                )
                logger.warning(message)
                on_default.append(
                    {"subnet": subnet, "original": original, "nacl": now, "message": message}
                )
                continue
            wrong.append(f"{subnet} is on {now or 'no NACL'}, expected {original}")
    if wrong:
        raise ActivityFailed(f"{FAULT} not fully restored: " + "; ".join(wrong))
    result: dict[str, Any] = {
        "fault": FAULT,
        "reverted": reverted["reverted"],
        "subnets_restored": sum(len(v) for v in expected.values()),
        "on_default_nacl": on_default,
        "verified": True,
        "reverted_at": None,
    }
    if reverted["reverted"]:
        result["reverted_at"] = stamp_reverted(FAULT).wall
    return result
