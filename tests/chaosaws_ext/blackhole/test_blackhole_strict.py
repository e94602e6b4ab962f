"""The AZ blackhole against an EC2 as strict as AWS (sandbox.behaviour.ec2_consistency):
a NACL just created is unknown for a moment, describes right after a change are stale,
and a NACL holds 20 entries per direction, the default deny included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from conftest import REGION
from test_blackhole import ZONE, Topology, build_topology, snapshot

from chaosaws_ext.blackhole import actions, network_acls
from chaosaws_ext.blackhole.planning import plan_availability_zone_blackhole
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import RunContext
from sandbox.behaviour.ec2_consistency import Ec2Strictness, from_environment

ACCOUNT = "123456789012"
PROPAGATION_S = 0.4  # short, so the tests stay quick; the sandbox default is 1 s
STALE_S = 0.2


@pytest.fixture(autouse=True)
def no_default_amis(monkeypatch: pytest.MonkeyPatch) -> None:
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


@pytest.fixture
def strict(topo: Topology) -> Iterator[Ec2Strictness]:
    with Ec2Strictness(propagation_s=PROPAGATION_S, stale_read_s=STALE_S) as installed:
        yield installed


def settled_snapshot(ec2: Any, wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The snapshot once stale reads are over (bounded): equal to ``wanted`` or the last."""
    state, _ = network_acls.poll_until(lambda: snapshot(ec2), lambda s: s == wanted, timeout=5)
    return state


def test_the_sandbox_hides_a_new_nacl_and_answers_stale_then_settles(
    topo: Topology, ec2: Any, strict: Ec2Strictness
) -> None:
    acl_id = ec2.create_network_acl(VpcId=topo.vpc)["NetworkAcl"]["NetworkAclId"]
    with pytest.raises(ClientError) as hidden:
        ec2.create_network_acl_entry(
            NetworkAclId=acl_id,
            RuleNumber=1,
            Protocol="-1",
            RuleAction="deny",
            Egress=False,
            CidrBlock="0.0.0.0/0",
        )
    assert hidden.value.response["Error"]["Code"] == "InvalidNetworkAclID.NotFound"
    listed = {a["NetworkAclId"] for a in ec2.describe_network_acls()["NetworkAcls"]}
    assert acl_id not in listed
    seen, ok = network_acls.poll_until(
        lambda: {a["NetworkAclId"] for a in ec2.describe_network_acls()["NetworkAcls"]},
        lambda ids: acl_id in ids,
        timeout=5,
    )
    assert ok and acl_id in seen
    ec2.delete_network_acl(NetworkAclId=acl_id)


def test_the_sandbox_enforces_20_entries_per_direction_with_the_default_deny(
    topo: Topology, ec2: Any
) -> None:
    with Ec2Strictness(propagation_s=0, stale_read_s=0):
        acl_id = ec2.create_network_acl(VpcId=topo.vpc)["NetworkAcl"]["NetworkAclId"]
        # dual-stack VPC: 32767 and 32768 count, so 18 entries fit
        for number in range(1, 19):
            ec2.create_network_acl_entry(
                NetworkAclId=acl_id,
                RuleNumber=number,
                Protocol="-1",
                RuleAction="deny",
                Egress=False,
                CidrBlock=f"10.9.{number}.0/24",
            )
        with pytest.raises(ClientError) as full:
            ec2.create_network_acl_entry(
                NetworkAclId=acl_id,
                RuleNumber=19,
                Protocol="-1",
                RuleAction="deny",
                Egress=False,
                CidrBlock="10.9.19.0/24",
            )
        assert full.value.response["Error"]["Code"] == "NetworkAclEntryLimitExceeded"
        ec2.create_network_acl_entry(  # the other direction has its own 20
            NetworkAclId=acl_id,
            RuleNumber=1,
            Protocol="-1",
            RuleAction="deny",
            Egress=True,
            CidrBlock="10.9.1.0/24",
        )
        ec2.delete_network_acl(NetworkAclId=acl_id)


@pytest.mark.parametrize("scope", ["all", "availability-zone"])
def test_the_fault_copes_with_eventual_consistency(
    topo: Topology,
    ec2: Any,
    configuration: dict[str, Any],
    strict: Ec2Strictness,
    run_context: RunContext,
    scope: str,
) -> None:
    before = settled_snapshot(ec2, snapshot(ec2))

    result = actions.blackhole_availability_zone(
        ZONE, vpc_id=topo.vpc, scope=scope, configuration=configuration
    )
    per_original = result["blackhole_nacl_ids"][topo.vpc]
    on = network_acls.describe_vpc_acls(ec2, [topo.vpc])[topo.vpc].subnet_acl
    assert {s: on[s] for s in topo.target} == {
        s: per_original[result["original"][s]] for s in topo.target
    }

    restored = actions.restore_availability_zone(configuration)

    assert restored["verified"] and restored["subnets_restored"] == 2
    assert settled_snapshot(ec2, before) == before
    assert Ledger(run_context.ledger_path).unreverted() == []


@pytest.mark.parametrize("scope", ["all", "availability-zone"])  # swaps / entries first
def test_without_the_propagation_retry_the_fault_fails_against_the_strict_sandbox(
    topo: Topology,
    ec2: Any,
    configuration: dict[str, Any],
    strict: Ec2Strictness,
    monkeypatch: pytest.MonkeyPatch,
    scope: str,
) -> None:
    before = settled_snapshot(ec2, snapshot(ec2))

    def no_retry(call: Any, what: str) -> Any:
        return call()

    monkeypatch.setattr(network_acls, "retry_propagation", no_retry)
    monkeypatch.setattr(actions, "retry_propagation", no_retry)
    with pytest.raises(ActivityFailed, match=r"inject failed and was undone: .*NotFound"):
        actions.blackhole_availability_zone(
            ZONE, vpc_id=topo.vpc, scope=scope, configuration=configuration
        )
    # the undo found the NACL once it was visible and deleted it
    assert settled_snapshot(ec2, before) == before


def test_a_copy_over_the_quota_is_refused_in_the_plan_and_by_the_sandbox(
    topo: Topology, ec2: Any, configuration: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the custom NACL gets 13 more inbound entries: 14 own + 4 denies + 2 default = 20 ok;
    # one more makes 21
    for number in range(200, 214):
        ec2.create_network_acl_entry(
            NetworkAclId=topo.custom_acl,
            RuleNumber=number,
            Protocol="6",
            RuleAction="deny",
            Egress=False,
            CidrBlock=f"192.0.2.{number - 200}/32",
            PortRange={"From": 22, "To": 22},
        )
    before = snapshot(ec2)
    with pytest.raises(ActivityFailed) as refused:
        plan_availability_zone_blackhole(
            ZONE, vpc_id=topo.vpc, scope="availability-zone", configuration=configuration
        )
    assert str(refused.value) == (
        f"refusing az-blackhole: the blackhole copy of {topo.custom_acl} would hold 21 inbound "
        "rules (its own, the denies of the other AZs and the default deny), more than the "
        "NACL quota of 20 (use scope all, or fewer CIDRs in the other AZs)"
    )
    # without the plan's check the sandbox refuses the entries, and the inject is undone
    monkeypatch.setattr("chaosaws_ext.blackhole.planning.MAX_ENTRIES_PER_DIRECTION", 99)
    with Ec2Strictness(propagation_s=0, stale_read_s=0):
        with pytest.raises(ActivityFailed, match=r"NetworkAclEntryLimitExceeded"):
            actions.blackhole_availability_zone(
                ZONE, vpc_id=topo.vpc, scope="availability-zone", configuration=configuration
            )
    assert snapshot(ec2) == before


def test_each_switch_turns_off_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = from_environment()
    assert (defaults.propagation_s, defaults.stale_read_s, defaults.max_entries) == (1.0, 0.5, 20)
    monkeypatch.setenv("SANDBOX_EC2_CONSISTENCY", "0")
    monkeypatch.setenv("SANDBOX_NACL_QUOTA", "off")
    off = from_environment()
    assert (off.propagation_s, off.stale_read_s, off.max_entries) == (0.0, 0.0, None)
    monkeypatch.setenv("SANDBOX_EC2_CONSISTENCY", "1")
    monkeypatch.setenv("SANDBOX_EC2_PROPAGATION_S", "2.5")
    assert from_environment().propagation_s == 2.5
