"""FIS target resolution in the sandbox: ARNs, tags, filters, parameters, selection mode,
empty targets (fail or skip)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.fis.targets import Resource, TargetError, select
from tests.conftest import REGION
from tests.helpers.fis_world import FisWorld, fis_world


@pytest.fixture
def world(moto_endpoint: str) -> Iterator[FisWorld]:
    with fis_world(moto_endpoint) as started:
        yield started


def _instances(world: FisWorld, count: int, tier: str, az: str = "a") -> list[str]:
    reservation = world.client("ec2").run_instances(
        ImageId="ami-12345678",
        MinCount=count,
        MaxCount=count,
        Placement={"AvailabilityZone": f"{REGION}{az}"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "tier", "Value": tier}]}],
    )
    return sorted(
        f"arn:aws:ec2:{REGION}:123456789012:instance/{i['InstanceId']}"
        for i in reservation["Instances"]
    )


def _resolved(world: FisWorld, target: dict[str, Any], empty: str | None = None) -> tuple:
    experiment_id = world.start(
        {
            "pause": {
                "actionId": "aws:fis:wait",
                "parameters": {"duration": "PT1S"},
                "targets": {},
            },
            "stop": {"actionId": "aws:ec2:stop-instances", "targets": {"Instances": "chosen"}},
        },
        {"chosen": {"selectionMode": "ALL", **target}},
        empty=empty,
    )
    done = world.wait_status(experiment_id)
    listed = world.fis.list_experiment_resolved_targets(experimentId=experiment_id)
    arns = sorted(t["targetInformation"]["arn"] for t in listed["resolvedTargets"])
    return done, arns


def test_tags_and_filters_select_the_matching_instances(world: FisWorld) -> None:
    api_a = _instances(world, 2, "api", "a")
    api_b = _instances(world, 1, "api", "b")
    _instances(world, 1, "batch", "a")
    done, arns = _resolved(
        world, {"resourceType": "aws:ec2:instance", "resourceTags": {"tier": "api"}}
    )
    assert done["state"]["status"] == "completed"
    assert arns == sorted(api_a + api_b)
    _done, arns = _resolved(
        world,
        {
            "resourceType": "aws:ec2:instance",
            "resourceTags": {"tier": "api"},
            "filters": [{"path": "Placement.AvailabilityZone", "values": [f"{REGION}b"]}],
        },
    )
    assert arns == api_b


def test_resource_arns_select_only_those(world: FisWorld) -> None:
    api = _instances(world, 3, "api")
    _done, arns = _resolved(world, {"resourceType": "aws:ec2:instance", "resourceArns": api[:2]})
    assert arns == api[:2]


def test_count_and_percent_choose_that_many_of_the_found(world: FisWorld) -> None:
    api = _instances(world, 4, "api")
    base = {"resourceType": "aws:ec2:instance", "resourceTags": {"tier": "api"}}
    _done, arns = _resolved(world, {**base, "selectionMode": "COUNT(1)"})
    assert len(arns) == 1 and set(arns) <= set(api)
    _done, arns = _resolved(world, {**base, "selectionMode": "PERCENT(50)"})
    assert len(arns) == 2 and set(arns) <= set(api)
    _done, arns = _resolved(world, {**base, "selectionMode": "COUNT(9)"})
    assert arns == api


def test_selection_is_random_and_seedable() -> None:
    found = [Resource(f"arn:aws:ec2:r:1:instance/i-{n}", {}, {}) for n in range(10)]
    first = select(found, "COUNT(3)", random.Random(1))
    assert first == select(list(reversed(found)), "COUNT(3)", random.Random(1))
    picks = {tuple(r.arn for r in select(found, "COUNT(3)", random.Random(s))) for s in range(8)}
    assert len(picks) > 1
    assert select(found, "PERCENT(25)", random.Random(1)).__len__() == 2  # 2.5 rounded down
    with pytest.raises(TargetError, match="selectionMode 'SOME' is not ALL, COUNT"):
        select(found, "SOME", random.Random(1))


def test_empty_targets_fail_the_experiment_by_default(world: FisWorld) -> None:
    done, arns = _resolved(
        world, {"resourceType": "aws:ec2:instance", "resourceTags": {"tier": "nothing"}}
    )
    assert done["state"] == {
        "status": "failed",
        "reason": "Target resolution returned empty set for target chosen.",
    }
    assert arns == []
    assert {a["state"]["status"] for a in done["actions"].values()} == {"cancelled"}


def test_empty_targets_skip_the_action_in_skip_mode(world: FisWorld) -> None:
    done, _arns = _resolved(
        world,
        {"resourceType": "aws:ec2:instance", "resourceTags": {"tier": "nothing"}},
        empty="skip",
    )
    assert done["state"]["status"] == "completed"
    assert done["actions"]["stop"]["state"]["status"] == "skipped"
    assert done["actions"]["pause"]["state"]["status"] == "completed"


def test_subnet_parameters_pick_the_az(world: FisWorld) -> None:
    ec2 = world.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZone=f"{REGION}a")[
        "Subnet"
    ]
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.2.0/24", AvailabilityZone=f"{REGION}b")
    experiment_id = world.start(
        {
            "cut": {
                "actionId": "aws:network:disrupt-connectivity",
                "parameters": {"duration": "PT1S"},
                "targets": {"Subnets": "az"},
            }
        },
        {
            "az": {
                "resourceType": "aws:ec2:subnet",
                "selectionMode": "ALL",
                "parameters": {
                    "availabilityZoneIdentifier": subnet_a["AvailabilityZoneId"],
                    "vpc": vpc,
                },
            }
        },
    )
    assert world.wait_status(experiment_id)["state"]["status"] == "completed"
    listed = world.fis.list_experiment_resolved_targets(experimentId=experiment_id)
    assert [t["targetInformation"]["arn"].rsplit("/", 1)[1] for t in listed["resolvedTargets"]] == [
        subnet_a["SubnetId"]
    ]


def test_unsupported_resource_type_fails_naming_it(world: FisWorld) -> None:
    experiment_id = world.start(
        {"stop": {"actionId": "aws:ec2:stop-instances", "targets": {"Instances": "x"}}},
        {"x": {"resourceType": "aws:ecs:task", "selectionMode": "ALL", "resourceTags": {"a": "b"}}},
    )
    failed = world.wait_status(experiment_id)
    assert failed["state"]["status"] == "failed"
    assert (
        "resource type 'aws:ecs:task' is not supported by the sandbox's FIS emulation"
        in (failed["state"]["reason"])
    )
