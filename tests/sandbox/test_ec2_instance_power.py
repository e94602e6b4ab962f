"""EC2 instance power states with durations (sandbox.ec2.instance_power and its moto
patch): stopping/pending last their scaled durations, a start while stopping and a stop
while pending are refused as AWS refuses them, and the API server follows the power."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chaosaws_ext.core.waiting import wait_until
from sandbox.ec2.instance_power import IncorrectInstanceState, InstancePower
from sandbox.ec2.instances_patch import InstancePowerEmulator
from sandbox.workload.api import ApiInstance

REGION = "eu-south-1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_model_stops_and_starts_with_durations() -> None:
    clock = FakeClock()
    power = InstancePower(stopping_s=30, pending_s=60, clock=clock)
    assert power.stop("i-1", "running") == "stopping"
    assert power.state_of("i-1", "stopped") == "stopping"
    assert power.stop("i-1", "stopped") is None  # stopping already: no change
    with pytest.raises(IncorrectInstanceState, match="can be started"):
        power.start("i-1", "stopped")
    clock.now += 29.9
    assert power.due() == [] and power.next_due() == pytest.approx(0.1)
    clock.now += 0.1
    assert [(t.instance_id, t.end_state) for t in power.due()] == [("i-1", "stopped")]
    assert power.state_of("i-1", "stopped") == "stopped" and power.next_due() is None
    assert power.start("i-1", "stopped") == "pending"
    with pytest.raises(IncorrectInstanceState, match="can be stopped"):
        power.stop("i-1", "running")
    assert power.start("i-1", "running") is None
    clock.now += 60
    assert [(t.instance_id, t.end_state) for t in power.due()] == [("i-1", "running")]
    assert power.stop("i-2", "stopped") is None and power.start("i-3", "running") is None


def test_negative_durations_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        InstancePower(stopping_s=-1)


@pytest.fixture
def emulated() -> Iterator[tuple[Any, InstancePowerEmulator, list[tuple[str, str]]]]:
    seen: list[tuple[str, str]] = []
    with mock_aws():
        emulator = InstancePowerEmulator(time_scale=0.01)  # stopping 0.3 s, boot 0.6 s
        emulator.subscribe(lambda instance_id, state: seen.append((instance_id, state)))
        emulator.start()
        try:
            yield boto3.client("ec2", region_name=REGION), emulator, seen
        finally:
            emulator.stop()


def _state(ec2: Any, instance_id: str) -> str:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(found[0]["Instances"][0]["State"]["Name"])


def test_moto_stop_and_start_take_their_time_and_refuse_in_between(
    emulated: tuple[Any, InstancePowerEmulator, list[tuple[str, str]]],
) -> None:
    ec2, _emulator, seen = emulated
    instance_id = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    ec2.stop_instances(InstanceIds=[instance_id])
    assert _state(ec2, instance_id) == "stopping"
    with pytest.raises(ClientError) as refused:
        ec2.start_instances(InstanceIds=[instance_id])
    assert refused.value.response["Error"]["Code"] == "IncorrectInstanceState"
    assert _state(ec2, instance_id) == "stopping"  # the refused call changed nothing
    assert wait_until(lambda: _state(ec2, instance_id) == "stopped", timeout=5, interval=0.02)
    ec2.start_instances(InstanceIds=[instance_id])
    assert _state(ec2, instance_id) == "pending"
    with pytest.raises(ClientError) as refused:
        ec2.stop_instances(InstanceIds=[instance_id])
    assert refused.value.response["Error"]["Code"] == "IncorrectInstanceState"
    assert wait_until(lambda: _state(ec2, instance_id) == "running", timeout=5, interval=0.02)
    filtered = ec2.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]
    assert [i["InstanceId"] for r in filtered for i in r["Instances"]] == [instance_id]
    assert wait_until(lambda: len(seen) == 4, timeout=5, interval=0.02)
    assert seen == [
        (instance_id, "stopping"),
        (instance_id, "stopped"),
        (instance_id, "pending"),
        (instance_id, "running"),
    ]


def _refused(address: tuple[str, int]) -> bool:
    connection = http.client.HTTPConnection(*address, timeout=2)
    try:
        connection.connect()
    except ConnectionRefusedError:
        return True
    finally:
        connection.close()
    return False


def _health(address: tuple[str, int]) -> int:
    connection = http.client.HTTPConnection(*address, timeout=2)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_api_server_follows_its_instance_power() -> None:
    api = ApiInstance("api-a", REGION, f"{REGION}a")
    address = api.start()
    try:
        assert _health(address) == 200
        api.follow_power("stopping")
        assert _refused(address) and not api.powered
        api.follow_power("stopped")
        api.follow_power("pending")  # booting: still nothing listens
        assert _refused(address)
        api.follow_power("running")
        assert api.address == address and _health(address) == 200
    finally:
        api.stop()


def test_a_port_taken_meanwhile_moves_the_server_and_says_where(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = ApiInstance("api-b", REGION, f"{REGION}b")
    first = api.start()
    moved: list[tuple[str, int]] = []
    api.on_moved = moved.append
    try:
        api.follow_power("stopped")
        squatter = ApiInstance("squatter", REGION, f"{REGION}b", port=first[1])
        squatter.start()
        try:
            api.follow_power("running")
        finally:
            squatter.stop()
        assert moved == [api.address] and api.address != first
        assert _health(api.address) == 200
    finally:
        api.stop()
