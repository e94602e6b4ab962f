"""AZ blackhole against in-process moto: exact state after inject and after undo."""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from botocore.parsers import ResponseParserError
from chaoslib.exceptions import ActivityFailed
from conftest import REGION

from chaosaws_ext.blackhole import actions, probes
from chaosaws_ext.blackhole.planning import plan_availability_zone_blackhole
from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import fault_stamps
from chaosaws_ext.runcontext import RunContext
from chaosaws_ext.undo import undo_entry
from gameday.recover import recover_by_tag, recover_from_ledger
from sandbox.behaviour.ec2_consistency import Ec2Strictness
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable

SWAP_EVENT = "before-parameter-build.ec2.ReplaceNetworkAclAssociation"
CHAOS = chaos_executable()
ACCOUNT = "123456789012"  # moto's default account
ZONE, ZONE_ID = f"{REGION}a", "eus1-az1"


@dataclass
class Topology:
    vpc: str
    other_vpc: str
    default_acl: str
    custom_acl: str
    target: list[str]  # subnets of the chosen VPC in ZONE
    others: dict[str, str]  # subnet -> zone, chosen VPC, other zones
    other_vpc_subnet: str
    ipv6: dict[str, str] = field(default_factory=dict)  # subnet -> IPv6 CIDR
    cidrs: dict[str, str] = field(default_factory=dict)  # subnet -> IPv4 CIDR


def build_topology(ec2: Any) -> Topology:
    """A dual-stack VPC with subnets in 3 AZs (two in ZONE, one of them on a custom
    NACL) and a second VPC with one subnet in ZONE only."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    vpc_id = vpc["VpcId"]
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "team", "Value": "payments"}])
    block = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]
    v6_subnets = list(
        itertools.islice(ip_network(block["Ipv6CidrBlock"]).subnets(new_prefix=64), 8)
    )
    layout = [("1", "a", "app"), ("6", "a", "db"), ("2", "b", "app"), ("5", "c", "app")]
    topo = Topology(vpc_id, "", "", "", [], {}, "")
    for third, zone, tier in layout:
        cidr, v6 = f"10.0.{third}.0/24", str(v6_subnets[int(third)])
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=cidr,
            Ipv6CidrBlock=v6,
            AvailabilityZone=f"{REGION}{zone}",
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": tier}]}
            ],
        )["Subnet"]["SubnetId"]
        topo.cidrs[subnet], topo.ipv6[subnet] = cidr, v6
        if zone == "a":
            topo.target.append(subnet)
        else:
            topo.others[subnet] = f"{REGION}{zone}"
    acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    default = acls["NetworkAcls"][0]
    topo.default_acl = default["NetworkAclId"]
    custom = ec2.create_network_acl(
        VpcId=vpc_id,
        TagSpecifications=[
            {"ResourceType": "network-acl", "Tags": [{"Key": "Name", "Value": "db"}]}
        ],
    )["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(
        NetworkAclId=custom,
        RuleNumber=100,
        Protocol="6",
        RuleAction="allow",
        Egress=False,
        CidrBlock="10.0.0.0/16",
        PortRange={"From": 5432, "To": 5432},
    )
    db_subnet = topo.target[1]
    association = next(
        a["NetworkAclAssociationId"] for a in default["Associations"] if a["SubnetId"] == db_subnet
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=custom)
    topo.custom_acl = custom
    other = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[other], Tags=[{"Key": "team", "Value": "payments"}])
    topo.other_vpc = other
    topo.other_vpc_subnet = ec2.create_subnet(
        VpcId=other, CidrBlock="10.1.1.0/24", AvailabilityZone=ZONE
    )["Subnet"]["SubnetId"]
    return topo


def snapshot(ec2: Any) -> list[dict[str, Any]]:
    """Every NACL of the region, association ids aside, in a stable order."""
    acls = []
    for acl in ec2.describe_network_acls()["NetworkAcls"]:
        acls.append(
            {
                "id": acl["NetworkAclId"],
                "vpc": acl["VpcId"],
                "default": acl["IsDefault"],
                "subnets": sorted(a["SubnetId"] for a in acl["Associations"]),
                "entries": sorted(
                    (json.dumps(e, sort_keys=True) for e in acl["Entries"]),
                ),
                "tags": sorted((t["Key"], t["Value"]) for t in acl.get("Tags", [])),
            }
        )
    return sorted(acls, key=lambda a: a["id"])


def subnet_acls(ec2: Any) -> dict[str, str]:
    return {
        a["SubnetId"]: acl["NetworkAclId"]
        for acl in ec2.describe_network_acls()["NetworkAcls"]
        for a in acl["Associations"]
    }


def acl_of(ec2: Any, acl_id: str) -> dict[str, Any]:
    return ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]


def entries_of(acl: dict[str, Any]) -> set[tuple[int, bool, str, str]]:
    """(rule, egress, action, cidr), without AWS' implicit '*' rule 32767."""
    return {
        (e["RuleNumber"], e["Egress"], e["RuleAction"], e.get("CidrBlock") or e["Ipv6CidrBlock"])
        for e in acl["Entries"]
        if e["RuleNumber"] < 32767
    }


@pytest.fixture(autouse=True)
def no_default_amis(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto spends ~0.2 s per EC2 region backend loading AMIs these tests never use."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def configuration(run_context: RunContext) -> dict[str, Any]:
    return {
        "aws_region": REGION,
        "chaos_ledger_path": str(run_context.ledger_path),
        "allowed_accounts": ACCOUNT,
    }


@pytest.fixture
def topo(mocked_aws: None, ec2: Any) -> Topology:
    return build_topology(ec2)


class CallRecorder:
    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    @property
    def mutating(self) -> list[str]:
        return [op for op in self.operations if not op.startswith(("Describe", "Get"))]


@pytest.fixture
def calls(topo: Topology, configuration: dict[str, Any]) -> Iterator[CallRecorder]:
    """Every API call our code makes (it uses the cached client of aws_client)."""
    recorder = CallRecorder()
    client = aws_client("ec2", configuration, None, REGION)
    client.meta.events.register("before-call.ec2", recorder)
    yield recorder
    client.meta.events.unregister("before-call.ec2", recorder)


def test_inject_scope_all_moves_only_the_zone_and_undo_restores_exactly(
    topo: Topology, ec2: Any, configuration: dict[str, Any], run_context: RunContext
) -> None:
    before, before_map = snapshot(ec2), subnet_acls(ec2)
    assert probes.no_subnet_on_blackhole(ZONE, topo.vpc, configuration) is True

    result = actions.blackhole_availability_zone(ZONE, vpc_id=topo.vpc, configuration=configuration)

    # one blackhole NACL per original NACL: the default one and the custom "db" one
    per_original = result["blackhole_nacl_ids"][topo.vpc]
    assert set(per_original) == {topo.default_acl, topo.custom_acl}
    assert result["blackhole_nacl_id"] == ",".join(per_original[a] for a in sorted(per_original))
    assert result["vpc"] == topo.vpc and result["zone"] == ZONE and result["zone_id"] == ZONE_ID
    assert result["subnets"] == sorted(topo.target) and result["subnets_moved"] == 2
    assert result["original"] == {s: before_map[s] for s in topo.target}
    assert result["original"][topo.target[1]] == topo.custom_acl
    assert result["excluded"] == []
    assert result["injected_at"] and fault_stamps()[-1].event == "injected"
    after = subnet_acls(ec2)
    assert after == {**before_map, **{s: per_original[before_map[s]] for s in topo.target}}
    assert after[topo.other_vpc_subnet] == before_map[topo.other_vpc_subnet]
    for original, acl_id in per_original.items():
        acl = acl_of(ec2, acl_id)
        assert acl["VpcId"] == topo.vpc and not acl["IsDefault"]
        # a new custom NACL denies everything with its default rules: nothing added
        assert entries_of(acl) == set()
        tags = {t["Key"]: t["Value"] for t in acl["Tags"]}
        assert tags["chaos:managed-by"] == "chaosaws-ext" and tags["chaos:fault"] == "az-blackhole"
        assert tags["chaos:run-id"] == run_context.run_id
        assert tags["chaos:experiment"] == "test-experiment" and tags["chaos:expires-at"]
        assert tags["Name"] == f"chaos-az-blackhole-{ZONE}" and tags["chaos:blackhole-id"]
        assert tags["chaos:original-nacl"] == original
    assert probes.subnets_on_blackhole(ZONE, topo.vpc, configuration) == {
        "count": 2,
        "subnets": sorted(topo.target),
        "nacls": sorted(per_original.values()),
        "zone": ZONE,
        "vpc": topo.vpc,
    }
    assert probes.no_subnet_on_blackhole(ZONE_ID, "", configuration) is False
    assert probes.no_subnet_on_blackhole(f"{REGION}b", topo.vpc, configuration) is True

    restored = actions.restore_availability_zone(configuration)

    assert restored["verified"] and restored["subnets_restored"] == 2
    assert restored["on_default_nacl"] == [] and restored["reverted"] == 4
    assert fault_stamps()[-1].event == "reverted"
    assert snapshot(ec2) == before
    assert Ledger(run_context.ledger_path).unreverted() == []
    assert probes.no_subnet_on_blackhole(ZONE, topo.vpc, configuration) is True


def test_zone_id_and_scope_availability_zone_denies_exactly_the_other_zones(
    topo: Topology, ec2: Any, configuration: dict[str, Any]
) -> None:
    before, before_map = snapshot(ec2), subnet_acls(ec2)

    result = actions.blackhole_availability_zone(
        ZONE_ID, vpc_id=topo.vpc, scope="availability-zone", configuration=configuration
    )

    assert result["zone"] == ZONE and result["scope"] == "availability-zone"
    per_original = result["blackhole_nacl_ids"][topo.vpc]
    assert subnet_acls(ec2) == {
        **before_map,
        **{s: per_original[before_map[s]] for s in topo.target},
    }
    other_v4 = sorted(topo.cidrs[s] for s in topo.others)
    other_v6 = sorted(topo.ipv6[s] for s in topo.others)
    for original, acl_id in per_original.items():
        entries = entries_of(acl_of(ec2, acl_id))
        own = entries_of(acl_of(ec2, original))
        for egress in (False, True):
            mine = sorted(e for e in entries if e[1] == egress)
            denies = [e for e in mine if e[2] == "deny" and e[0] <= 4]
            assert [e[3] for e in denies] == other_v4 + other_v6
            assert [e[0] for e in denies] == [1, 2, 3, 4]
            # then the original's own entries, numbered as they were (all above 4)
            assert set(mine[4:]) == {e for e in own if e[1] == egress}
    copied = acl_of(ec2, per_original[topo.custom_acl])["Entries"]
    assert [
        (e["RuleNumber"], e["Protocol"], e["PortRange"]) for e in copied if e["RuleNumber"] > 4
    ] == [(100, "6", {"From": 5432, "To": 5432})]

    actions.restore_availability_zone(configuration)
    assert snapshot(ec2) == before


def test_subnet_tag_narrows_and_vpc_tag_can_select_several_vpcs(
    topo: Topology, ec2: Any, configuration: dict[str, Any]
) -> None:
    before, before_map = snapshot(ec2), subnet_acls(ec2)
    narrowed = plan_availability_zone_blackhole(
        ZONE, vpc_id=topo.vpc, subnet_tag="tier=db", configuration=configuration
    )
    assert list(narrowed.details["vpcs"][topo.vpc]["subnets"]) == [topo.target[1]]
    assert narrowed.target == f"az-blackhole:{topo.vpc}:{ZONE}"

    result = actions.blackhole_availability_zone(
        ZONE, vpc_tag="team=payments", allow_all_azs=True, configuration=configuration
    )

    assert set(result["blackhole_nacl_ids"]) == {topo.vpc, topo.other_vpc}
    moved = [*topo.target, topo.other_vpc_subnet]
    assert result["subnets"] == sorted(moved)
    ids = result["blackhole_nacl_ids"]
    assert subnet_acls(ec2) == {
        **before_map,
        **{s: ids[topo.vpc][before_map[s]] for s in topo.target},
        topo.other_vpc_subnet: ids[topo.other_vpc][before_map[topo.other_vpc_subnet]],
    }
    actions.restore_availability_zone(configuration)
    assert snapshot(ec2) == before


REFUSALS = [
    ({"availability_zone": "eu-south-1z"}, r"availability zone 'eu-south-1z' does not exist"),
    ({"availability_zone": "eu-west-1a"}, r"does not exist in region eu-south-1"),
    ({"subnet_tag": "tier=nothing"}, r"no subnet in zone eu-south-1a of vpc-\S+ tagged"),
    ({"vpc": "other"}, r"has subnets only in eu-south-1a.*allow_all_azs"),
    ({"max_subnets": 1}, r"2 subnets .* more than max_subnets=1"),
    ({"scope": "everything"}, r"scope must be one of all, availability-zone"),
    ({"vpc_id": "vpc-00000000000000000"}, r"no VPC vpc-00000000000000000 in this region"),
    ({"vpc_tag": "team"}, r"exactly one of vpc_id"),
    ({"vpc_id": "", "vpc_tag": "team"}, r"vpc_tag must look like Key=Value"),
    ({"subnet_tag": "tier"}, r"subnet_tag must look like Key=Value"),
    ({"protect": "TRUE"}, r"every subnet in zone eu-south-1a of vpc-\S+ is protected by chaos:pro"),
    (
        {"protect_one": "yes", "refuse_if_protected": True},
        r"1 subnet\(s\) in zone .* carry chaos:protected \(subnet-\S+\) and refuse_if_protected",
    ),
    ({"allowed_regions": "eu-west-1"}, r"region eu-south-1 is not in allowed_regions"),
    ({"allowed_accounts": "000000000000"}, r"account 123456789012 is not in allowed_accounts"),
]


@pytest.mark.parametrize(("change", "message"), REFUSALS, ids=[m for _, m in REFUSALS])
def test_refusals_are_one_line_and_make_no_mutating_call(
    topo: Topology,
    ec2: Any,
    configuration: dict[str, Any],
    calls: CallRecorder,
    run_context: RunContext,
    change: dict[str, Any],
    message: str,
) -> None:
    arguments: dict[str, Any] = {"availability_zone": ZONE, "vpc_id": topo.vpc}
    if change.pop("vpc", None):
        arguments["vpc_id"] = topo.other_vpc
    if "protect" in change:
        value = change.pop("protect")
        ec2.create_tags(Resources=topo.target, Tags=[{"Key": "chaos:protected", "Value": value}])
    if "protect_one" in change:
        value = change.pop("protect_one")
        ec2.create_tags(
            Resources=topo.target[:1], Tags=[{"Key": "chaos:protected", "Value": value}]
        )
    for key in ("allowed_regions", "allowed_accounts"):
        if key in change:
            configuration[key] = change.pop(key)
    arguments.update(change)
    before = snapshot(ec2)
    calls.operations.clear()

    with pytest.raises(ActivityFailed, match=message) as refused:
        actions.blackhole_availability_zone(**arguments, configuration=configuration)

    assert "\n" not in str(refused.value)
    assert calls.mutating == []
    assert snapshot(ec2) == before
    assert Ledger(run_context.ledger_path).entries() == []


def test_a_zone_already_blackholed_is_refused_without_mutating(
    topo: Topology, ec2: Any, configuration: dict[str, Any], calls: CallRecorder
) -> None:
    actions.blackhole_availability_zone(ZONE, vpc_id=topo.vpc, configuration=configuration)
    during = snapshot(ec2)
    calls.operations.clear()
    with pytest.raises(ActivityFailed, match=r"is already on blackhole NACL acl-"):
        actions.blackhole_availability_zone(ZONE, vpc_id=topo.vpc, configuration=configuration)
    assert calls.mutating == [] and calls.operations
    assert snapshot(ec2) == during
    actions.restore_availability_zone(configuration)


def test_original_nacl_deleted_meanwhile_leaves_the_subnet_on_the_default_nacl(
    topo: Topology, ec2: Any, configuration: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    before_map = subnet_acls(ec2)
    result = actions.blackhole_availability_zone(ZONE, vpc_id=topo.vpc, configuration=configuration)
    db_subnet = topo.target[1]
    ec2.delete_network_acl(NetworkAclId=topo.custom_acl)

    # AWS's ReplaceNetworkAclAssociation is atomic (moto's drops the association first)
    with Ec2Strictness(propagation_s=0, stale_read_s=0):
        restored = actions.restore_availability_zone(configuration)

    expected = {s: a for s, a in before_map.items()}
    expected[db_subnet] = topo.default_acl
    assert subnet_acls(ec2) == expected
    assert [(d["subnet"], d["original"], d["nacl"]) for d in restored["on_default_nacl"]] == [
        (db_subnet, topo.custom_acl, topo.default_acl)
    ]
    assert "no longer exists" in restored["on_default_nacl"][0]["message"]
    assert f"original NACL {topo.custom_acl} of {db_subnet} no longer exists" in caplog.text
    remaining = {a["NetworkAclId"] for a in ec2.describe_network_acls()["NetworkAcls"]}
    assert result["blackhole_nacl_id"] not in remaining
    again = actions.restore_availability_zone(configuration)
    assert again["reverted"] == 0 and again["on_default_nacl"][0]["subnet"] == db_subnet


def test_undo_is_idempotent_twice_and_after_a_partial_undo(
    topo: Topology,
    ec2: Any,
    configuration: dict[str, Any],
    run_context: RunContext,
    calls: CallRecorder,
) -> None:
    before, before_map = snapshot(ec2), subnet_acls(ec2)
    actions.blackhole_availability_zone(ZONE, vpc_id=topo.vpc, configuration=configuration)
    # partial undo by hand: one subnet already back on its original NACL
    first = topo.target[0]
    association = next(
        a["NetworkAclAssociationId"]
        for acl in ec2.describe_network_acls()["NetworkAcls"]
        for a in acl["Associations"]
        if a["SubnetId"] == first
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=before_map[first])
    entries = Ledger(run_context.ledger_path).entries()

    actions.restore_availability_zone(configuration)
    assert snapshot(ec2) == before
    calls.operations.clear()
    again = actions.restore_availability_zone(configuration)
    assert again["reverted"] == 0 and again["verified"] and again["reverted_at"] is None
    assert calls.mutating == []
    # every undoer replayed once more (as `gameday recover` after a rollback would)
    for entry in reversed(entries):
        undo_entry(entry, configuration, None)
    assert calls.mutating == []
    assert snapshot(ec2) == before


def test_a_failed_swap_half_way_is_undone_before_the_action_fails(
    topo: Topology, ec2: Any, configuration: dict[str, Any]
) -> None:
    before = snapshot(ec2)
    victim = topo.target[1]
    victim_association = next(
        a["NetworkAclAssociationId"]
        for acl in ec2.describe_network_acls()["NetworkAcls"]
        for a in acl["Associations"]
        if a["SubnetId"] == victim
    )
    refused: list[str] = []

    def fail_victim_swap(params: dict[str, Any], **_: Any) -> None:
        if params["AssociationId"] == victim_association:
            refused.append(victim)
            raise RuntimeError("injected failure")

    # an earlier fault of the same run (zone b) must survive the failed inject's undo
    earlier = actions.blackhole_availability_zone(
        f"{REGION}b", vpc_id=topo.vpc, configuration=configuration
    )
    during = snapshot(ec2)
    client = aws_client("ec2", configuration, None, REGION)
    client.meta.events.register(SWAP_EVENT, fail_victim_swap)
    try:
        with pytest.raises(ActivityFailed, match=r"inject failed and was undone: injected failure"):
            actions.blackhole_availability_zone(ZONE, vpc_id=topo.vpc, configuration=configuration)
    finally:
        client.meta.events.unregister(SWAP_EVENT, fail_victim_swap)
    assert refused == [victim]
    assert snapshot(ec2) == during
    assert subnet_acls(ec2)[earlier["subnets"][0]] == earlier["blackhole_nacl_id"]
    actions.restore_availability_zone(configuration)
    assert snapshot(ec2) == before


def test_a_transient_swap_failure_is_checked_and_retried(
    topo: Topology, ec2: Any, configuration: dict[str, Any], calls: CallRecorder
) -> None:
    before = snapshot(ec2)
    garbled: list[str] = []

    def garble_first_swap(params: dict[str, Any], **_: Any) -> None:
        if not garbled:
            garbled.append(params["AssociationId"])
            raise ResponseParserError("Unable to parse response (HTML 500 from moto)")

    client = aws_client("ec2", configuration, None, REGION)
    client.meta.events.register(SWAP_EVENT, garble_first_swap)
    try:
        result = actions.blackhole_availability_zone(
            ZONE, vpc_id=topo.vpc, configuration=configuration
        )
    finally:
        client.meta.events.unregister(SWAP_EVENT, garble_first_swap)
    assert len(garbled) == 1
    assert calls.operations.count("ReplaceNetworkAclAssociation") == 2  # one retried swap
    per_original = result["blackhole_nacl_ids"][topo.vpc]
    assert all(subnet_acls(ec2)[s] == per_original[result["original"][s]] for s in topo.target)
    actions.restore_availability_zone(configuration)
    assert snapshot(ec2) == before


def test_orphans_are_found_by_tag_and_restored_without_the_ledger(
    topo: Topology, ec2: Any, configuration: dict[str, Any], run_context: RunContext
) -> None:
    before = snapshot(ec2)
    actions.blackhole_availability_zone(ZONE, vpc_id=topo.vpc, configuration=configuration)
    Path(run_context.ledger_path).unlink()

    # the run has not expired yet: it may still be going on, so it is left alone
    live = recover_by_tag([REGION], {"aws_region": REGION})
    assert live["results"][0]["skipped"] is True and "use --force" in live["results"][0]["error"]
    assert snapshot(ec2) != before

    outcome = recover_by_tag([REGION], {"aws_region": REGION}, force=True)

    assert outcome["left"] == [] and len(outcome["results"]) == 2  # one per original NACL
    assert snapshot(ec2) == before
    assert recover_by_tag([REGION], {"aws_region": REGION}, force=True)["results"] == []


def test_ledger_recovery_replays_every_entry(
    topo: Topology, ec2: Any, configuration: dict[str, Any], run_context: RunContext
) -> None:
    before = snapshot(ec2)
    actions.blackhole_availability_zone(
        ZONE, vpc_id=topo.vpc, scope="availability-zone", configuration=configuration
    )
    outcome = recover_from_ledger(run_context.ledger_path, {"aws_region": REGION})
    assert outcome["pending"] == 6 and outcome["left"] == []  # 2 x (create, entries, swap)
    assert snapshot(ec2) == before


def test_plan_is_read_only_and_describes_the_change(
    topo: Topology, configuration: dict[str, Any], calls: CallRecorder
) -> None:
    plan = plan_availability_zone_blackhole(ZONE, vpc_id=topo.vpc, configuration=configuration)
    assert calls.mutating == []
    assert plan.fault == "az-blackhole" and plan.region == REGION
    assert sorted(c.resource for c in plan.changes if c.kind == "subnet") == sorted(topo.target)
    assert plan.details["vpcs"][topo.vpc]["other_az_cidrs"]["ipv4"] == sorted(
        topo.cidrs[s] for s in topo.others
    )
    json.dumps(plan.to_dict())


def test_a_protected_subnet_is_left_out_and_listed_in_plan_output_and_ledger(
    topo: Topology, ec2: Any, configuration: dict[str, Any], run_context: RunContext
) -> None:
    from gameday.planner import format_plan

    protected, moved = topo.target
    ec2.create_tags(Resources=[protected], Tags=[{"Key": "chaos:protected", "Value": " Yes "}])
    plan = plan_availability_zone_blackhole(ZONE, vpc_id=topo.vpc, configuration=configuration)
    reason = "protected (chaos:protected= Yes )"
    assert plan.details["excluded"] == [{"subnet": protected, "vpc": topo.vpc, "reason": reason}]
    assert [c.resource for c in plan.changes if c.kind == "subnet"] == [moved]
    text = format_plan(
        {
            "experiment": "x",
            "path": "x.yaml",
            "plans": [{"action": "a", "plan": plan.to_dict(), "problems": []}],
            "api_calls": {},
        }
    )
    assert f"    - excluded {protected}: {reason}, unchanged" in text.splitlines()

    result = actions.blackhole_availability_zone(ZONE, vpc_id=topo.vpc, configuration=configuration)

    assert result["subnets"] == [moved] and result["excluded"] == plan.details["excluded"]
    ledger = Ledger(run_context.ledger_path).entries()
    assert protected not in json.dumps([e.undo for e in ledger])  # never changed, never undone
    assert ledger[0].change.endswith(f"; excluded: {protected} {reason}")
    assert subnet_acls(ec2)[protected] == topo.default_acl
    actions.restore_availability_zone(configuration)


def test_the_experiment_validates_with_the_example_env() -> None:
    root = REPO
    env_file = root / "experiments/env/staging.example.env"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    for line in env_file.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            env[key] = value
    done = subprocess.run(
        [
            CHAOS,
            "--no-version-check",
            "--no-log-file",
            "validate",
            str(root / "experiments/az-nacl-blackhole.yaml"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert all(k in env for k in ("GAMEDAY_AZ", "GAMEDAY_VPC_ID", "GAMEDAY_API_URL"))
