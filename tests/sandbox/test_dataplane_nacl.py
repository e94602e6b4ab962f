"""Network ACL evaluation over moto's EC2 backend: the rule matrix."""

from __future__ import annotations

import boto3
import pytest
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from sandbox.ec2.nacl import (
    Endpoint,
    allowed,
    connection_allowed,
    network_acl_for_subnet,
    subnet_for_ip,
)
from tests.conftest import REGION


@pytest.fixture
def vpc(mocked_aws: None) -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc_id, AmazonProvidedIpv6CidrBlock=True)
    a = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")
    b = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.2.0/24", AvailabilityZone=f"{REGION}b")
    acl = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    return {
        "vpc": vpc_id,
        "a": a["Subnet"]["SubnetId"],
        "b": b["Subnet"]["SubnetId"],
        "acl": acl,
    }


def _backend():
    return get_backend("ec2")[DEFAULT_ACCOUNT_ID][REGION]


def _associate(subnet_id: str, acl_id: str) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    acls = ec2.describe_network_acls()["NetworkAcls"]
    association = next(
        a["NetworkAclAssociationId"]
        for acl in acls
        for a in acl["Associations"]
        if a["SubnetId"] == subnet_id
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl_id)


def _entry(acl: str, number: int, action: str, egress: bool = False, **kwargs: object) -> None:
    kwargs.setdefault("Protocol", "-1")
    if "Ipv6CidrBlock" not in kwargs:
        kwargs.setdefault("CidrBlock", "0.0.0.0/0")
    boto3.client("ec2", region_name=REGION).create_network_acl_entry(
        NetworkAclId=acl, RuleNumber=number, RuleAction=action, Egress=egress, **kwargs
    )


def test_default_nacl_allows_everything_both_ways(vpc: dict[str, str]) -> None:
    ec2 = _backend()
    assert network_acl_for_subnet(ec2, vpc["a"]).default
    assert allowed(ec2, vpc["a"], "ingress", "203.0.113.9", "6", 443)
    assert allowed(ec2, vpc["a"], "egress", "203.0.113.9", "tcp", 40000)


def test_custom_nacl_without_entries_is_the_implicit_deny(vpc: dict[str, str]) -> None:
    _associate(vpc["a"], vpc["acl"])
    ec2 = _backend()
    assert network_acl_for_subnet(ec2, vpc["a"]).id == vpc["acl"]
    assert not allowed(ec2, vpc["a"], "ingress", "10.0.2.5", "-1", 80)
    assert not allowed(ec2, vpc["a"], "egress", "10.0.2.5", "-1", 80)
    # the other subnet keeps the default NACL
    assert allowed(ec2, vpc["b"], "ingress", "10.0.1.5", "6", 80)


def test_lowest_rule_number_wins_whatever_the_creation_order(vpc: dict[str, str]) -> None:
    acl = vpc["acl"]
    _entry(acl, 200, "allow", CidrBlock="10.0.0.0/16")
    _entry(acl, 100, "deny", CidrBlock="10.0.2.0/24")
    _associate(vpc["a"], acl)
    ec2 = _backend()
    assert not allowed(ec2, vpc["a"], "ingress", "10.0.2.7", "6", 80)  # deny 100 first
    assert allowed(ec2, vpc["a"], "ingress", "10.0.3.7", "6", 80)  # only allow 200 matches
    assert not allowed(ec2, vpc["a"], "ingress", "192.0.2.1", "6", 80)  # implicit deny
    assert not allowed(ec2, vpc["a"], "egress", "10.0.3.7", "6", 80)  # no egress entry


def test_allow_before_deny_lets_traffic_through(vpc: dict[str, str]) -> None:
    acl = vpc["acl"]
    _entry(acl, 10, "allow", CidrBlock="10.0.2.0/24")
    _entry(acl, 20, "deny", CidrBlock="0.0.0.0/0")
    _associate(vpc["a"], acl)
    ec2 = _backend()
    assert allowed(ec2, vpc["a"], "ingress", "10.0.2.7", "17", 53)
    assert not allowed(ec2, vpc["a"], "ingress", "10.0.9.7", "17", 53)


def test_tcp_port_ranges_and_protocols(vpc: dict[str, str]) -> None:
    acl = vpc["acl"]
    _entry(acl, 100, "allow", Protocol="6", PortRange={"From": 80, "To": 90})
    _entry(acl, 110, "allow", Protocol="17", PortRange={"From": 53, "To": 53})
    _associate(vpc["a"], acl)
    ec2 = _backend()
    assert allowed(ec2, vpc["a"], "ingress", "198.51.100.1", "6", 80)
    assert allowed(ec2, vpc["a"], "ingress", "198.51.100.1", "tcp", 90)
    assert not allowed(ec2, vpc["a"], "ingress", "198.51.100.1", "6", 91)
    assert not allowed(ec2, vpc["a"], "ingress", "198.51.100.1", "6", 53)  # UDP rule only
    assert allowed(ec2, vpc["a"], "ingress", "198.51.100.1", "udp", 53)
    assert not allowed(ec2, vpc["a"], "ingress", "198.51.100.1", "17", 80)


def test_ipv6_entries_match_only_ipv6_peers(vpc: dict[str, str]) -> None:
    acl = vpc["acl"]
    _entry(acl, 100, "deny", Ipv6CidrBlock="2001:db8:1::/48")
    _entry(acl, 110, "allow", Ipv6CidrBlock="::/0")
    _associate(vpc["a"], acl)
    ec2 = _backend()
    assert not allowed(ec2, vpc["a"], "ingress", "2001:db8:1::5", "6", 443)
    assert allowed(ec2, vpc["a"], "ingress", "2001:db8:2::5", "6", 443)
    assert not allowed(ec2, vpc["a"], "ingress", "10.0.2.5", "6", 443)  # no v4 entry


def test_a_subnet_moto_left_without_association_falls_back_to_the_default(
    vpc: dict[str, str],
) -> None:
    _associate(vpc["a"], vpc["acl"])
    ec2 = _backend()
    custom = ec2.get_network_acl(vpc["acl"])
    custom._associations.clear()  # what replace to a missing NACL leaves in moto
    assert network_acl_for_subnet(ec2, vpc["a"]).default


def test_connection_needs_both_subnets_both_ways(vpc: dict[str, str]) -> None:
    acl = vpc["acl"]
    _entry(acl, 100, "allow", Protocol="6", PortRange={"From": 8080, "To": 8080})
    _associate(vpc["a"], acl)
    ec2 = _backend()
    client, server = Endpoint("10.0.2.4", vpc["b"]), Endpoint("10.0.1.10", vpc["a"])
    # the request gets in, but the reply to the ephemeral port cannot leave subnet a
    assert not connection_allowed(ec2, client, server, 6, 8080)
    _entry(acl, 100, "allow", egress=True, Protocol="6", PortRange={"From": 1024, "To": 65535})
    assert connection_allowed(ec2, client, server, 6, 8080)
    assert not connection_allowed(ec2, client, server, 6, 8081)
    # inside one subnet nothing is filtered
    assert connection_allowed(ec2, Endpoint("10.0.1.4", vpc["a"]), server, 6, 9999)


def test_subnet_for_ip_finds_the_subnet_by_cidr(vpc: dict[str, str]) -> None:
    ec2 = _backend()
    assert subnet_for_ip(ec2, "10.0.2.200", vpc_id=vpc["vpc"]).id == vpc["b"]
    assert subnet_for_ip(ec2, "10.0.3.1", vpc_id=vpc["vpc"]) is None
