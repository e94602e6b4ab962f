"""rds-forced-failover through real processes against a moto server with the failover
emulation installed in this (the server's) process: `chaos run`, and `gameday recover`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from chaosaws_ext.ledger import Ledger
from sandbox.behaviour.rds_failover import RdsFailoverEmulator
from tests.conftest import REGION
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable, gameday_executable

ROOT = REPO
EXPERIMENT = ROOT / "experiments" / "rds-forced-failover.yaml"
CHAOS = chaos_executable()
DB = "production-analytics-db"
WINDOW = 1.0
RECOVER_WINDOW = 3.0  # longer than the subprocess start-up, so recover really waits

pytestmark = pytest.mark.e2e


@pytest.fixture
def emulated_server(
    moto_endpoint: str, request: pytest.FixtureRequest
) -> Iterator[RdsFailoverEmulator]:
    """The moto server's backends live in this process: emulate failovers there."""
    window = getattr(request, "param", WINDOW)
    emulator = RdsFailoverEmulator(
        failover_seconds=window, reboot_seconds=window, regions=(REGION,)
    ).install()
    yield emulator
    emulator.uninstall()


def create_db(rds: boto3.client) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=DB,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MultiAZ=True,
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
    )


def test_chaos_run_fails_over_and_ends_available(
    emulated_server: RdsFailoverEmulator, tmp_path: Path, postgres_dsn: str
) -> None:
    rds = boto3.client("rds", region_name=REGION)
    create_db(rds)
    journal = tmp_path / "journal.json"
    ledger = tmp_path / "ledger.jsonl"
    env = dict(os.environ)
    env.update(
        GAMEDAY_LEDGER=str(ledger),
        GAMEDAY_DB_INSTANCE=DB,
        GAMEDAY_FAILOVER_TIMEOUT="30",
        GAMEDAY_DB_DSN=postgres_dsn,  # always up: moto has no data plane (RTO 0, RPO 0)
        GAMEDAY_QUIET_PERIOD="1",
    )

    done = subprocess.run(
        [
            CHAOS,
            "--no-log-file",
            "--no-version-check",
            "run",
            "--journal-path",
            str(journal),
            str(EXPERIMENT),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(journal.read_text())
    assert result["status"] == "completed" and result["deviated"] is False
    inject, completion, recovered = result["run"]
    assert recovered["output"]["outage"] is False
    assert result["recovery"]["rto"]["measured_s"] == 0
    assert result["recovery"]["rpo"]["lost"] == 0
    assert result["safety"]["all_reverted"] is True
    assert inject["status"] == "succeeded", inject
    assert inject["output"]["writer_az_before"] == "eu-south-1a"
    report = completion["output"]
    assert completion["status"] == "succeeded", completion
    assert (report["writer_az_before"], report["writer_az_after"]) == (
        "eu-south-1a",
        "eu-south-1b",
    )
    assert report["changed"] is True and report["status"] == "available"
    assert report["control_plane_s"] >= WINDOW - 0.1
    assert [e["message"] for e in report["events"]][0] == "Multi-AZ instance failover started."
    (rollback,) = result["rollbacks"]
    assert rollback["status"] == "succeeded" and rollback["output"]["reverted"] == 1

    state = rds.describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]
    assert (state["DBInstanceStatus"], state["AvailabilityZone"]) == ("available", "eu-south-1b")
    (entry,) = [e for e in Ledger(ledger).entries() if e.fault == "rds-failover"]
    assert all(e.reverted for e in Ledger(ledger).entries())  # the markers too
    assert entry.fault == "rds-failover" and entry.reverted
    assert entry.run_id and entry.experiment == "rds-forced-failover"


INJECT_THEN_EXIT = """
import sys
from chaosaws_ext.rds.actions import failover_db_instance
from chaosaws_ext.runcontext import start_run

ledger, db, region = sys.argv[1:4]
configuration = {"aws_region": region, "chaos_ledger_path": ledger}
start_run(configuration, "crash-test")
failover_db_instance(db, configuration=configuration)
"""


@pytest.mark.parametrize("emulated_server", [RECOVER_WINDOW], indirect=True)
def test_gameday_recover_waits_for_availability(
    emulated_server: RdsFailoverEmulator, tmp_path: Path
) -> None:
    """A run that died after the failover: recover waits for the DB instead of failing."""
    rds = boto3.client("rds", region_name=REGION)
    create_db(rds)
    ledger = tmp_path / "ledger.jsonl"
    injected = subprocess.run(
        [sys.executable, "-c", INJECT_THEN_EXIT, str(ledger), DB, REGION],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert injected.returncode == 0, injected.stderr
    assert not emulated_server.is_available(DB)
    assert (
        rds.describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]["DBInstanceStatus"]
        == "rebooting"
    )

    recovered = subprocess.run(
        [gameday_executable(), "recover", "--ledger", str(ledger)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "1 unreverted entry found, 0 left" in recovered.stdout
    state = rds.describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]
    assert (state["DBInstanceStatus"], state["AvailabilityZone"]) == ("available", "eu-south-1b")
    assert Ledger(ledger).unreverted() == []
