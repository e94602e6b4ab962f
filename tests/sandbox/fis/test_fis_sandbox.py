"""FIS in a started Sandbox: the seeded role, and an AZ blackhole template whose NACL swap
the ALB emulation sees (its target in that AZ turns unhealthy, then healthy again)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosaws_ext.core.waiting import wait_until
from sandbox.envfile import parse_env
from sandbox.server import Sandbox, Topology

pytestmark = pytest.mark.e2e
TIME_SCALE = 0.02


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(time_scale=TIME_SCALE, with_database=False)
    box.start()
    yield box
    box.stop()


def _acls(ec2: Any, vpc: str) -> dict[str, Any]:
    found = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    return {
        acl["NetworkAclId"]: (
            sorted(acl["Entries"], key=lambda e: (e["Egress"], e["RuleNumber"])),
            sorted(a["SubnetId"] for a in acl["Associations"]),
            acl.get("Tags", []),
        )
        for acl in found["NetworkAcls"]
    }


def _target_state(sandbox: Sandbox, topology: Topology, az: str) -> str:
    elbv2 = sandbox.client("elbv2", topology.region)
    found = elbv2.describe_target_health(TargetGroupArn=topology.primary.target_group_arn)
    ip = topology.primary.target_ips[az]
    return next(
        d["TargetHealth"]["State"]
        for d in found["TargetHealthDescriptions"]
        if d["Target"]["Id"] == ip
    )


def test_the_fis_role_is_seeded_and_in_the_env_file(sandbox: Sandbox) -> None:
    topology = sandbox.topology
    assert topology is not None
    env = parse_env(Path(topology.env_file).read_text())
    role = sandbox.client("iam").get_role(RoleName="production-fis-experiments")["Role"]
    assert env["GAMEDAY_FIS_ROLE_ARN"] == role["Arn"] == topology.fis_role_arn
    trust = role["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "fis.amazonaws.com"}


def test_fis_az_blackhole_takes_the_alb_target_out_and_restores_every_nacl(
    sandbox: Sandbox,
) -> None:
    topology = sandbox.topology
    assert topology is not None
    az = topology.primary.azs[0]
    ec2 = sandbox.client("ec2", topology.region)
    fis = sandbox.client("fis", topology.region)
    before = _acls(ec2, topology.primary.vpc_id)
    assert _target_state(sandbox, topology, az) == "healthy"
    template = fis.create_experiment_template(
        description="AZ blackhole",
        roleArn=topology.fis_role_arn,
        stopConditions=[{"source": "none"}],
        targets={
            "az-subnets": {
                "resourceType": "aws:ec2:subnet",
                "parameters": {"availabilityZoneIdentifier": az, "vpc": topology.primary.vpc_id},
                "selectionMode": "ALL",
            }
        },
        actions={
            "blackhole": {
                "actionId": "aws:network:disrupt-connectivity",
                "parameters": {"duration": "PT5M", "scope": "all"},
                "targets": {"Subnets": "az-subnets"},
            }
        },
    )["experimentTemplate"]
    experiment_id = fis.start_experiment(experimentTemplateId=template["id"])["experiment"]["id"]

    def status() -> str:
        return str(fis.get_experiment(id=experiment_id)["experiment"]["state"]["status"])

    wait_until(
        lambda: _target_state(sandbox, topology, az) == "unhealthy",
        20,
        0.05,
        what="the ALB's target in the blackholed AZ unhealthy",
    )
    assert status() == "running"
    others = [a for a in topology.primary.azs if a != az]
    assert {_target_state(sandbox, topology, a) for a in others} == {"healthy"}
    wait_until(lambda: status() == "completed", 30, 0.05, what="experiment completed")
    wait_until(
        lambda: _target_state(sandbox, topology, az) == "healthy",
        20,
        0.05,
        what="the target healthy again",
    )
    wait_until(
        lambda: _acls(ec2, topology.primary.vpc_id) == before, 5, 0.1, what="every NACL as before"
    )
