"""The ec2-stop fault against a started sandbox: exact instance states and tags before,
after the inject and after the undo; the API server of the stopped instance refuses
connections and the ALB takes its target out, then both come back; the skip without
targets; protected and terminated instances; recover by tag."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.identity import (
    TAG_EXPERIMENT,
    TAG_EXPIRES_AT,
    TAG_FAULT,
    TAG_MANAGED,
    TAG_RUN_ID,
    RunContext,
)
from chaosaws_ext.core.waiting import wait_until
from chaosaws_ext.ec2stop import actions, probes
from chaosaws_ext.ledger import Ledger
from gameday.recover import recover_by_tag
from sandbox.server import Sandbox, Topology

pytestmark = pytest.mark.e2e
TIME_SCALE = 0.05  # stopping 1.5 s, boot 3 s, ALB health checks every 0.5 s
KEY, VALUE = "app", "ticket-api"
CHAOS_KEYS = {TAG_RUN_ID, TAG_EXPERIMENT, TAG_EXPIRES_AT, TAG_MANAGED, TAG_FAULT}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(time_scale=TIME_SCALE, with_database=False)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def topology(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Topology:
    assert sandbox.topology is not None
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, sandbox.topology.env()[name])
    return sandbox.topology


@pytest.fixture
def configuration(run_context: RunContext, topology: Topology) -> dict[str, Any]:
    return {
        "aws_region": topology.region,
        "chaos_ledger_path": str(run_context.ledger_path),
        "allowed_accounts": topology.account_id,
    }


def _described(sandbox: Sandbox, region: str | None = None) -> dict[str, tuple[str, dict]]:
    """{instance id: (state, tags)} of every instance of the region."""
    ec2 = sandbox.client("ec2", region or sandbox.topology.region)  # type: ignore[union-attr]
    found = ec2.describe_instances()["Reservations"]
    return {
        i["InstanceId"]: (i["State"]["Name"], {t["Key"]: t["Value"] for t in i.get("Tags", [])})
        for r in found
        for i in r["Instances"]
    }


def _answers(address: tuple[str, int]) -> bool:
    connection = http.client.HTTPConnection(*address, timeout=2)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _refused(address: tuple[str, int]) -> bool:
    """Nothing listens there: the connection is refused (not reset, not answered)."""
    connection = http.client.HTTPConnection(*address, timeout=2)
    try:
        connection.connect()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        connection.close()
    return False


def _target_state(sandbox: Sandbox, topology: Topology, az: str) -> str:
    elbv2 = sandbox.client("elbv2", topology.region)
    found = elbv2.describe_target_health(TargetGroupArn=topology.primary.target_group_arn)
    ip = topology.primary.target_ips[az]
    return next(
        d["TargetHealth"]["State"]
        for d in found["TargetHealthDescriptions"]
        if d["Target"]["Id"] == ip
    )


def test_the_api_instances_are_seeded_where_the_alb_targets_are(
    sandbox: Sandbox, topology: Topology
) -> None:
    ec2 = sandbox.client("ec2", topology.region)
    for region in (topology.primary, topology.standby):
        described = _described(sandbox, region.region)
        assert set(region.api_instance_ids.values()) <= set(described)
        for az, instance_id in region.api_instance_ids.items():
            state, tags = described[instance_id]
            assert state == "running"
            assert tags == {"Name": f"ticket-api-{az}", "Environment": "production", KEY: VALUE}
    found = ec2.describe_instances(InstanceIds=list(topology.primary.api_instance_ids.values()))
    for instance in (i for r in found["Reservations"] for i in r["Instances"]):
        az = instance["Placement"]["AvailabilityZone"]
        assert instance["SubnetId"] == topology.primary.subnets["private"][az]
        assert instance["PrivateIpAddress"] == topology.primary.target_ips[az]


def test_stop_then_start_exact_states_tags_api_server_and_alb_target(
    sandbox: Sandbox, topology: Topology, configuration: dict[str, Any], run_context: RunContext
) -> None:
    az = topology.primary.azs[0]
    target = topology.primary.api_instance_ids[az]
    server = sandbox.api_instances[topology.region][az]
    before = _described(sandbox)
    assert _answers(server.address) and _target_state(sandbox, topology, az) == "healthy"

    result = actions.stop_instances(az, KEY, VALUE, configuration=configuration)

    assert result["stopped"] == [target] and result["skipped"] is None
    after = _described(sandbox)
    state, tags = after[target]
    assert state in ("stopping", "stopped")
    assert {k: v for k, v in tags.items() if k not in CHAOS_KEYS} == before[target][1]
    assert tags[TAG_RUN_ID] == run_context.run_id and tags[TAG_FAULT] == "ec2-stop"
    assert tags[TAG_EXPIRES_AT] == run_context.expires_at()
    assert {i: v for i, v in after.items() if i != target} == {
        i: v for i, v in before.items() if i != target
    }
    # the server powers off as the instance enters stopping: connections refused
    assert wait_until(lambda: _refused(server.address), timeout=10, interval=0.1)
    assert wait_until(lambda: _described(sandbox)[target][0] == "stopped", timeout=10, interval=0.1)
    assert wait_until(
        lambda: _target_state(sandbox, topology, az) == "unhealthy", timeout=10, interval=0.1
    )
    entries = Ledger(run_context.ledger_path).unreverted(fault="ec2-stop")
    assert [(e.resource, e.outcome, e.undo["undoer"]) for e in entries] == [
        (target, "applied", "ec2-stop.start-instance")
    ]

    ended = actions.start_instances(poll_interval_s=0.1, timeout_s=30, configuration=configuration)

    assert ended["started"] == ended["running"] == [target] and ended["reported"] == []
    assert _described(sandbox) == before  # running, and exactly the tags it had
    # listening again (the address it had) once the instance runs
    assert wait_until(lambda: _answers(server.address), timeout=10, interval=0.1)
    assert wait_until(
        lambda: _target_state(sandbox, topology, az) == "healthy", timeout=10, interval=0.1
    )
    assert Ledger(run_context.ledger_path).unreverted() == []
    assert probes.instances_running(az, KEY, VALUE, configuration=configuration)
    again = actions.start_instances(poll_interval_s=0.1, timeout_s=30, configuration=configuration)
    assert again["reverted"] == 0 and _described(sandbox) == before


def test_no_instance_with_the_tag_is_a_skip_that_changes_nothing(
    sandbox: Sandbox, topology: Topology, configuration: dict[str, Any], run_context: RunContext
) -> None:
    az = topology.primary.azs[1]
    before = _described(sandbox)

    result = actions.stop_instances(az, KEY, "no-such-app", configuration=configuration)

    assert result["skipped"] == f"skipped: no instance with tag {KEY}=no-such-app in {az}"
    assert result["stopped"] == [] and result["injected_at"] is None
    assert _described(sandbox) == before
    assert (
        not Path(run_context.ledger_path).exists() or not Ledger(run_context.ledger_path).entries()
    )
    ended = actions.start_instances(configuration=configuration)
    assert ended["reverted"] == 0 and ended["reverted_at"] is None


def test_a_protected_instance_is_left_out(
    sandbox: Sandbox, topology: Topology, configuration: dict[str, Any]
) -> None:
    az = topology.primary.azs[1]
    target = topology.primary.api_instance_ids[az]
    ec2 = sandbox.client("ec2", topology.region)
    ec2.create_tags(Resources=[target], Tags=[{"Key": "chaos:protected", "Value": "Yes"}])
    try:
        before = _described(sandbox)
        result = actions.stop_instances(az, KEY, VALUE, configuration=configuration)
        assert result["excluded"] == [
            {
                "instance": target,
                "name": f"ticket-api-{az}",
                "state": "running",
                "reason": "protected (chaos:protected)",
            }
        ]
        assert result["skipped"] == f"skipped: no instance with tag {KEY}={VALUE} in {az}"
        assert _described(sandbox) == before
    finally:
        ec2.delete_tags(Resources=[target], Tags=[{"Key": "chaos:protected"}])


def test_bad_input_is_one_line_and_changes_nothing(
    sandbox: Sandbox, topology: Topology, configuration: dict[str, Any], run_context: RunContext
) -> None:
    before = _described(sandbox)
    for zone, key, message in (
        ("eu-south-1z", KEY, "availability zone 'eu-south-1z' does not exist"),
        (topology.primary.azs[0], " ", "tag_key is empty"),
    ):
        with pytest.raises(ActivityFailed) as refused:
            actions.stop_instances(zone, key, VALUE, configuration=configuration)
        assert message in str(refused.value) and "\n" not in str(refused.value)
    assert _described(sandbox) == before
    assert not Path(run_context.ledger_path).exists()


def test_an_instance_terminated_meanwhile_is_reported_not_an_error(
    sandbox: Sandbox, topology: Topology, configuration: dict[str, Any]
) -> None:
    az = topology.primary.azs[2]
    ec2 = sandbox.client("ec2", topology.region)
    spare = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        SubnetId=topology.primary.subnets["private"][az],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": KEY, "Value": "batch"}]}],
    )["Instances"][0]["InstanceId"]
    actions.stop_instances(az, KEY, "batch", configuration=configuration)
    ec2.terminate_instances(InstanceIds=[spare])

    ended = actions.start_instances(poll_interval_s=0.1, timeout_s=30, configuration=configuration)

    assert ended["started"] == [] and ended["running"] == []
    assert ended["reported"] == [f"{spare} was terminated meanwhile (not by us): nothing to start"]


def test_recover_by_tag_starts_our_instance_and_removes_the_tags(
    sandbox: Sandbox, topology: Topology, configuration: dict[str, Any]
) -> None:
    az = topology.primary.azs[0]
    target = topology.primary.api_instance_ids[az]
    before = _described(sandbox)
    actions.stop_instances(az, KEY, VALUE, configuration=configuration)
    Path(configuration["chaos_ledger_path"]).unlink()  # the ledger lost

    outcome = recover_by_tag([topology.region], {"aws_region": topology.region}, force=True)

    assert [r["resource"] for r in outcome["results"] if r["ok"]] == [target], outcome
    assert wait_until(lambda: _described(sandbox) == before, timeout=10, interval=0.1)
    server = sandbox.api_instances[topology.region][az]
    assert wait_until(lambda: _answers(server.address), timeout=10, interval=0.1)
