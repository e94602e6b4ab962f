"""The AZ blackhole on a topology unlike the sandbox's: two VPCs with subnets in the same
zone, custom NACLs with deny entries, a protected subnet, IPv6 on one VPC. Every NACL,
entry and association is compared before, during and after; during the fault every flow
an original NACL denied is still denied (evaluated by the sandbox's NACL data plane)."""

from __future__ import annotations

import itertools
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from conftest import REGION
from moto.backends import get_backend
from test_blackhole import ZONE, snapshot, subnet_acls

from chaosaws_ext.blackhole import actions
from chaosaws_ext.runcontext import RunContext
from gameday.recover import recover_by_tag
from sandbox.dataplane.nacl import allowed

ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def atomic_nacl_changes() -> Any:
    """moto's NACL changes one at a time (the sandbox's EC2 wrapper, its delays off): the
    blackhole swaps associations concurrently, and moto's dictionaries are not thread
    safe ("dictionary changed size during iteration", seen once in 300 swaps)."""
    from sandbox.ec2.consistency import Ec2Strictness

    with Ec2Strictness(propagation_s=0, stale_read_s=0, max_entries_per_direction=None):
        yield


@pytest.fixture(autouse=True)
def no_default_amis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def configuration(run_context: RunContext) -> dict[str, Any]:
    return {
        "aws_region": REGION,
        "chaos_ledger_path": str(run_context.ledger_path),
        "allowed_accounts": ACCOUNT,
        "max_resources": 400,
    }


def _subnet(ec2: Any, vpc: str, cidr: str, zone: str, tags: dict[str, str], **extra: Any) -> str:
    spec = [{"ResourceType": "subnet", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    return ec2.create_subnet(
        VpcId=vpc,
        CidrBlock=cidr,
        AvailabilityZone=zone,
        **({"TagSpecifications": spec} if tags else {}),
        **extra,
    )["Subnet"]["SubnetId"]


def _custom_acl(ec2: Any, vpc: str, entries: list[dict[str, Any]]) -> str:
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for entry in entries:
        ec2.create_network_acl_entry(NetworkAclId=acl, **entry)
    return acl


def _move(ec2: Any, subnet: str, acl: str) -> None:
    association = next(
        a["NetworkAclAssociationId"]
        for nacl in ec2.describe_network_acls()["NetworkAcls"]
        for a in nacl["Associations"]
        if a["SubnetId"] == subnet
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)


def _rule(number: int, egress: bool, action: str, cidr: str, **extra: Any) -> dict[str, Any]:
    family = "Ipv6CidrBlock" if ":" in cidr else "CidrBlock"
    return {
        "RuleNumber": number,
        "Egress": egress,
        "RuleAction": action,
        "Protocol": extra.pop("Protocol", "-1"),
        family: cidr,
        **extra,
    }


# (direction, peer, protocol, port): flows from outside the VPCs and from the other AZs
FLOWS = [
    ("ingress", "8.8.8.8", "tcp", 443),
    ("ingress", "8.8.8.8", "tcp", 22),
    ("ingress", "198.51.100.7", "tcp", 443),
    ("ingress", "2001:db8::1", "tcp", 443),
    ("egress", "203.0.113.9", "tcp", 443),
    ("egress", "8.8.8.8", "udp", 53),
    ("ingress", "10.20.9.9", "tcp", 3389),
]


@pytest.fixture
def world(mocked_aws: None, ec2: Any) -> dict[str, Any]:
    team = [{"ResourceType": "vpc", "Tags": [{"Key": "team", "Value": "orders"}]}]
    dual = ec2.create_vpc(
        CidrBlock="10.10.0.0/16", AmazonProvidedIpv6CidrBlock=True, TagSpecifications=team
    )["Vpc"]["VpcId"]
    block = ec2.describe_vpcs(VpcIds=[dual])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]
    v6 = list(itertools.islice(ip_network(block["Ipv6CidrBlock"]).subnets(new_prefix=64), 8))
    plain = ec2.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=team)["Vpc"]["VpcId"]
    w: dict[str, Any] = {"dual": dual, "plain": plain}

    def dual_subnet(n: int, zone: str, tags: dict[str, str] | None = None) -> str:
        return _subnet(ec2, dual, f"10.10.{n}.0/24", zone, tags or {}, Ipv6CidrBlock=str(v6[n]))

    w["a_default"] = dual_subnet(1, ZONE)
    w["a_locked"] = [dual_subnet(2, ZONE), dual_subnet(3, ZONE, {"chaos:protected": "false"})]
    w["a_protected"] = dual_subnet(4, ZONE, {"chaos:protected": "True"})
    w["a_other"] = [dual_subnet(5, f"{REGION}b"), dual_subnet(6, f"{REGION}c")]
    w["locked_acl"] = _custom_acl(
        ec2,
        dual,
        [
            _rule(10, False, "deny", "0.0.0.0/0", Protocol="6", PortRange={"From": 22, "To": 22}),
            _rule(20, False, "deny", "198.51.100.0/24"),
            _rule(100, False, "allow", "0.0.0.0/0"),
            _rule(101, False, "allow", "::/0"),
            _rule(10, True, "deny", "203.0.113.0/24"),
            _rule(100, True, "allow", "0.0.0.0/0"),
            _rule(101, True, "allow", "::/0"),
        ],
    )
    for subnet in [*w["a_locked"], w["a_protected"]]:
        _move(ec2, subnet, w["locked_acl"])
    w["p_default"] = _subnet(ec2, plain, "10.20.1.0/24", ZONE, {})
    w["p_rdp"] = _subnet(ec2, plain, "10.20.2.0/24", ZONE, {})
    w["p_other"] = _subnet(ec2, plain, "10.20.9.0/24", f"{REGION}b", {})
    w["rdp_acl"] = _custom_acl(
        ec2,
        plain,
        [
            _rule(
                1, False, "deny", "0.0.0.0/0", Protocol="6", PortRange={"From": 3389, "To": 3389}
            ),
            _rule(2, False, "allow", "0.0.0.0/0"),
            _rule(1, True, "allow", "0.0.0.0/0"),
        ],
    )
    _move(ec2, w["p_rdp"], w["rdp_acl"])
    return w


def _verdicts(subnets: list[str]) -> dict[tuple[str, tuple[str, str, str, int]], bool]:
    backend = get_backend("ec2")[ACCOUNT][REGION]
    return {(s, flow): allowed(backend, s, *flow) for s in subnets for flow in FLOWS}


def test_scope_availability_zone_keeps_every_denied_flow_denied_and_restores_exactly(
    world: dict[str, Any], ec2: Any, configuration: dict[str, Any]
) -> None:
    moved = [world["a_default"], *world["a_locked"], world["p_default"], world["p_rdp"]]
    before, before_map = snapshot(ec2), subnet_acls(ec2)
    verdicts_before = _verdicts(moved)
    assert not verdicts_before[(world["a_locked"][0], FLOWS[1])]  # port 22 denied
    assert not verdicts_before[(world["p_rdp"], FLOWS[6])]  # RDP denied

    result = actions.blackhole_availability_zone(
        ZONE, vpc_tag="team=orders", scope="availability-zone", configuration=configuration
    )

    assert result["subnets"] == sorted(moved)
    assert result["excluded"] == [
        {
            "subnet": world["a_protected"],
            "vpc": world["dual"],
            "reason": "protected (chaos:protected=True)",
        }
    ]
    ids = result["blackhole_nacl_ids"]
    assert {vpc: sorted(per) for vpc, per in ids.items()} == {
        world["dual"]: sorted([before_map[world["a_default"]], world["locked_acl"]]),
        world["plain"]: sorted([before_map[world["p_default"]], world["rdp_acl"]]),
    }
    during = subnet_acls(ec2)
    for subnet in moved:
        vpc = world["plain"] if subnet in (world["p_default"], world["p_rdp"]) else world["dual"]
        assert during[subnet] == ids[vpc][before_map[subnet]]
    untouched = {s: a for s, a in before_map.items() if s not in moved}
    assert {s: during[s] for s in untouched} == untouched  # protected, other AZs, defaults
    # every NACL that existed is exactly as it was; the new ones are the blackholes
    now = {acl["id"]: acl for acl in snapshot(ec2)}
    for acl in before:
        assert {**now[acl["id"]], "subnets": []} == {**acl, "subnets": []}
    verdicts_during = _verdicts(moved)
    for key, was_allowed in verdicts_before.items():
        if not was_allowed:
            assert verdicts_during[key] is False, key  # denied stays denied
    for subnet in moved:  # from outside the VPC, what was allowed still is
        assert verdicts_during[(subnet, FLOWS[0])] == verdicts_before[(subnet, FLOWS[0])]
    # the other AZs are cut off, both ways, IPv4 and IPv6
    backend = get_backend("ec2")[ACCOUNT][REGION]
    for subnet in [world["a_default"], *world["a_locked"]]:
        for peer in ("10.10.5.9", "10.10.6.9"):
            assert not allowed(backend, subnet, "ingress", peer, "tcp", 443)
            assert not allowed(backend, subnet, "egress", peer, "tcp", 443)
    assert not allowed(backend, world["p_rdp"], "ingress", "10.20.9.9", "tcp", 443)
    assert allowed(backend, world["a_protected"], "ingress", "10.10.5.9", "tcp", 443)

    restored = actions.restore_availability_zone(configuration)

    assert restored["verified"] and restored["subnets_restored"] == len(moved)
    assert snapshot(ec2) == before and subnet_acls(ec2) == before_map
    assert _verdicts(moved) == verdicts_before


def test_by_tag_recovery_of_300_subnets_is_exact_and_a_lost_record_fails_loudly(
    mocked_aws: None, ec2: Any, configuration: dict[str, Any], run_context: RunContext
) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    custom = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    subnets = [_subnet(ec2, vpc, f"10.30.{n // 4}.{(n % 4) * 64}/26", ZONE, {}) for n in range(300)]
    _subnet(ec2, vpc, "10.30.200.0/24", f"{REGION}b", {})
    for subnet in subnets[::3]:  # 100 on a custom NACL, 200 on the default one
        _move(ec2, subnet, custom)
    before, before_map = snapshot(ec2), subnet_acls(ec2)

    result = actions.blackhole_availability_zone(
        ZONE, vpc_id=vpc, max_subnets=300, configuration=configuration
    )
    assert result["subnets_moved"] == 300
    Path(run_context.ledger_path).unlink()  # the ledger is lost

    outcome = recover_by_tag([REGION], {"aws_region": REGION}, force=True)

    assert outcome["left"] == [] and len(outcome["results"]) == 2
    assert subnet_acls(ec2) == before_map  # every one of 300 on its own original
    assert snapshot(ec2) == before

    # a blackhole NACL whose record is gone: subnets go to the default NACL, and it says so
    again = actions.blackhole_availability_zone(
        ZONE, vpc_id=vpc, max_subnets=300, configuration=configuration
    )
    lost = again["blackhole_nacl_ids"][vpc][custom]
    ec2.delete_tags(Resources=[lost], Tags=[{"Key": "chaos:original-nacl"}])
    Path(run_context.ledger_path).unlink()
    outcome = recover_by_tag([REGION], {"aws_region": REGION}, force=True)
    assert outcome["left"] == [lost]
    (failed,) = [r for r in outcome["results"] if not r["ok"]]
    assert "NOT restored exactly" in failed["error"]
    assert "put on the VPC default NACL" in failed["error"]
    default = before_map[subnets[1]]
    assert all(subnet_acls(ec2)[s] == default for s in subnets[::3])
    assert lost not in {a["NetworkAclId"] for a in ec2.describe_network_acls()["NetworkAcls"]}
