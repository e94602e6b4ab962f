"""AZ blackhole crash safety and the real CLIs, against the moto server.

A real process injects and is SIGKILLed; ``gameday recover`` (from the ledger, or by tag
with the ledger lost) must bring the account back exactly. ``chaos run`` of the
experiment must complete and leave the account as it found it.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import REGION
from test_blackhole import (  # noqa: F401 - no_default_amis is an autouse fixture
    CHAOS,
    ZONE,
    Topology,
    build_topology,
    no_default_amis,
    snapshot,
    subnet_acls,
)

from chaosaws_ext.ledger import Ledger
from sandbox.seed import TABLE_NAME, seed_table
from sandbox.workload.api import ApiInstance
from sandbox.workload.tickets import TicketStore
from tests.helpers import REPO

ROOT = REPO
EXPERIMENT = ROOT / "experiments/az-nacl-blackhole.yaml"
INJECT_THEN_HANG = """
import json, sys, time
from chaosaws_ext.blackhole.actions import blackhole_availability_zone
result = blackhole_availability_zone(
    sys.argv[1],
    vpc_id=sys.argv[2],
    scope=sys.argv[4],
    configuration={
        "aws_region": "eu-south-1",
        "chaos_ledger_path": sys.argv[3],
        "allowed_accounts": "123456789012",
    },
)
print("INJECTED " + json.dumps(result), flush=True)
time.sleep(120)
"""


HANG_ON_SECOND_SWAP = """
import sys, threading
from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.blackhole import network_acls
from chaosaws_ext.blackhole.actions import blackhole_availability_zone
configuration = {
    "aws_region": "eu-south-1",
    "chaos_ledger_path": sys.argv[3],
    "allowed_accounts": "123456789012",
}
network_acls.WORKERS = 1  # swaps one after the other: the crash point is exact
swaps = []

def hang(**_):
    swaps.append(1)
    if len(swaps) == 2:
        print("MIDWAY", flush=True)
        threading.Event().wait()

aws_client("ec2", configuration).meta.events.register(
    "before-call.ec2.ReplaceNetworkAclAssociation", hang
)
blackhole_availability_zone(sys.argv[1], vpc_id=sys.argv[2], configuration=configuration)
"""


@pytest.fixture
def server_ec2(moto_endpoint: str) -> Any:
    return boto3.client("ec2", region_name=REGION, endpoint_url=moto_endpoint)


@pytest.fixture
def server_topo(server_ec2: Any) -> Topology:
    return build_topology(server_ec2)


def _read_marker(
    process: subprocess.Popen[str], timeout: float, marker: str = "INJECTED"
) -> dict[str, Any]:
    """The marker line of the child (and its JSON), waited for at most ``timeout`` s."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    while True:
        line = lines.get(timeout=timeout)
        if not line:
            raise AssertionError(f"child ended without injecting (exit {process.wait(5)})")
        if line.startswith(marker):
            return json.loads(line[len(marker) :].strip() or "{}")


def _inject_and_sigkill(topo: Topology, ledger: Path, scope: str = "all") -> dict[str, Any]:
    process = subprocess.Popen(
        [sys.executable, "-c", INJECT_THEN_HANG, ZONE, topo.vpc, str(ledger), scope],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    try:
        result = _read_marker(process, timeout=60)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    return result


def test_sigkill_half_way_through_the_swaps_then_gameday_recover(
    server_topo: Topology, server_ec2: Any, tmp_path: Path
) -> None:
    before, before_map = snapshot(server_ec2), subnet_acls(server_ec2)
    ledger = tmp_path / "ledger.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", HANG_ON_SECOND_SWAP, ZONE, server_topo.vpc, str(ledger)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    try:
        _read_marker(process, timeout=60, marker="MIDWAY")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    during = subnet_acls(server_ec2)
    # one blackhole per original NACL, one swap entry each: the second swap hangs
    swap_entry = Ledger(ledger).entries()[-1]
    (second,) = swap_entry.undo["args"]["subnets"]
    (first,) = set(server_topo.target) - {second}
    assert during[first] != before_map[first] and during[second] == before_map[second]
    assert swap_entry.outcome is None and swap_entry.undo["args"]["subnets"] == {
        second: before_map[second]
    }

    done = _gameday("recover", "--ledger", str(ledger), "--region", REGION)

    assert done.returncode == 0, done.stdout + done.stderr
    assert snapshot(server_ec2) == before


def _gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameday", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


def test_sigkill_after_inject_then_gameday_recover_from_the_ledger(
    server_topo: Topology, server_ec2: Any, tmp_path: Path
) -> None:
    before = snapshot(server_ec2)
    ledger = tmp_path / "ledger.jsonl"

    result = _inject_and_sigkill(server_topo, ledger, scope="availability-zone")

    during = subnet_acls(server_ec2)
    per_original = result["blackhole_nacl_ids"][server_topo.vpc]
    assert all(during[s] == per_original[result["original"][s]] for s in server_topo.target)
    done = _gameday("recover", "--ledger", str(ledger), "--region", REGION)
    assert done.returncode == 0, done.stdout + done.stderr
    # per original NACL: create, entries, swap
    assert "6 unreverted entries found, 0 left" in done.stdout
    assert snapshot(server_ec2) == before
    again = _gameday("recover", "--ledger", str(ledger))
    assert again.returncode == 0 and "0 unreverted entries found" in again.stdout


def test_sigkill_after_inject_ledger_lost_then_gameday_recover_by_tag(
    server_topo: Topology, server_ec2: Any, tmp_path: Path
) -> None:
    before = snapshot(server_ec2)
    ledger = tmp_path / "ledger.jsonl"
    result = _inject_and_sigkill(server_topo, ledger)
    ledger.unlink()

    done = _gameday("recover", "--by-tag", "--force", "--regions", REGION)

    assert done.returncode == 0, done.stdout + done.stderr
    for acl_id in result["blackhole_nacl_ids"][server_topo.vpc].values():
        assert f"{acl_id}: restored" in done.stdout
    assert "2 orphan(s) found by tag, 0 left" in done.stdout
    assert snapshot(server_ec2) == before


@pytest.fixture
def ticket_api(moto_endpoint: str) -> Iterator[tuple[str, Any]]:
    """The sandbox's ticket API over the moto server's tickets table: (URL, client)."""
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint)
    seed_table(dynamodb)
    instance = ApiInstance("api-a", REGION, ZONE, store=TicketStore(dynamodb, TABLE_NAME))
    host, port = instance.start()
    yield f"http://{host}:{port}/api/tickets", dynamodb
    instance.stop()


@pytest.mark.e2e
def test_chaos_run_of_the_experiment_completes_and_leaves_the_account_as_it_was(
    server_topo: Topology,
    server_ec2: Any,
    moto_endpoint: str,
    tmp_path: Path,
    ok_http_url: str,
    ticket_api: tuple[str, Any],
) -> None:
    tickets_url, dynamodb = ticket_api
    before = snapshot(server_ec2)
    journal = tmp_path / "journal.json"
    env = os.environ.copy()
    env.update(
        {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_REGION": REGION,
            "GAMEDAY_LEDGER": str(tmp_path / "ledger.jsonl"),
            "GAMEDAY_MAX_FAULT_SECONDS": "120",
            "GAMEDAY_AZ": ZONE,
            "GAMEDAY_VPC_ID": server_topo.vpc,
            "GAMEDAY_BLACKHOLE_SCOPE": "all",
            # moto's NACLs never touch this server: no outage, RTO 0
            "GAMEDAY_API_URL": ok_http_url,
            # the RPO's markers: tickets through the API, read back from the table
            "GAMEDAY_TICKETS_URL": tickets_url,
            "GAMEDAY_TABLE": TABLE_NAME,
            "GAMEDAY_QUIET_PERIOD": "1",
            "GAMEDAY_ALLOWED_ACCOUNTS": "123456789012",
        }
    )
    done = subprocess.run(
        [
            CHAOS,
            "--no-version-check",
            "--no-log-file",
            "run",
            "--journal-path",
            str(journal),
            str(EXPERIMENT),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads(journal.read_text())
    assert record["status"] == "completed" and record["deviated"] is False
    inject, placeholder, recovered, restore = record["run"]
    assert recovered["output"]["outage"] is False
    assert record["recovery"]["rto"]["measured_s"] == 0
    rpo = record["recovery"]["rpo"]
    # nothing cut this API off: every ticket answered, read back, then deleted
    assert rpo["measured_s"] == 0 and rpo["met"] is True and rpo["lost"] == 0
    assert rpo["written"] == rpo["acknowledged"] == rpo["cleaned_up"] > 0
    assert dynamodb.scan(TableName=TABLE_NAME, ConsistentRead=True)["Items"] == []
    assert record["safety"]["all_reverted"] is True
    assert inject["status"] == "succeeded", inject
    assert inject["output"]["subnets"] == sorted(server_topo.target)
    assert placeholder["output"]["subnets"] == sorted(server_topo.target)
    assert restore["status"] == "succeeded", restore
    assert restore["output"]["reverted"] == 4 and restore["output"]["verified"] is True
    (rollback,) = record["rollbacks"]
    assert rollback["status"] == "succeeded", rollback
    assert rollback["output"]["reverted"] == 0 and rollback["output"]["verified"] is True
    assert snapshot(server_ec2) == before
    assert Ledger(tmp_path / "ledger.jsonl").unreverted() == []
