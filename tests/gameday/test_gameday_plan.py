"""``gameday plan``: every experiment's changes and undo, with reads only (checked on the
server side: every call moto received), and ``gameday run`` refusing leftovers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator
from sandbox.behaviour.rds_failover import RdsFailoverEmulator
from tests.helpers import REPO
from tests.helpers.aws_world import REGION, ServerCalls, experiment_env, seed_world

ROOT = REPO
READS = ("Describe", "Get", "List")
EXPECTED = {
    "az-nacl-blackhole": "blackhole nacl",
    "rds-forced-failover": "failover",
    "healthcheck-path-block": "/health",
    "dynamodb-replica-conflict": "chaos-",
    "dynamodb-pitr-drill": "restoretabletopointintime",
    "az-power-interruption": "forced failover",  # both steps: the writer is in the AZ
}


@pytest.fixture
def world(moto_endpoint: str) -> Iterator[dict[str, Any]]:
    emulator = RdsFailoverEmulator(failover_seconds=0.5, regions=(REGION,)).install()
    replicator = GlobalTableReplicator(lag_seconds=0.2).start()
    try:
        yield seed_world(moto_endpoint, replicator)
    finally:
        replicator.stop()
        emulator.uninstall()


@pytest.mark.parametrize("experiment", sorted(EXPECTED))
def test_plan_reads_only_and_shows_each_change_with_its_undo(
    experiment: str, world: dict[str, Any], moto_endpoint: str, tmp_path: Path
) -> None:
    env = experiment_env(experiment, world, tmp_path, moto_endpoint)
    with ServerCalls().recording() as calls:
        done = subprocess.run(
            [sys.executable, "-m", "gameday", "plan", experiment],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "plan only, nothing was changed" in out and "guardrails: ok" in out
    assert EXPECTED[experiment] in out.lower() and "undo:" in out
    if experiment == "az-power-interruption":
        assert "blackhole nacl" in out.lower() and out.count("guardrails: ok") == 2
    actions = {action for _key, action in calls.calls}
    assert actions, "the plan made no call at all"
    assert all(a.split(":", 1)[1].startswith(READS) for a in actions), actions
    assert not (tmp_path / "ledger.jsonl").exists()


def test_gameday_run_refuses_to_start_while_a_ledger_holds_leftovers(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "ledger.jsonl").write_text(
        json.dumps(
            {
                "event": "intent",
                "id": "e1",
                "at": "2026-01-01T00:00:00Z",
                "run_id": "old-run",
                "experiment": "az-nacl-blackhole",
                "fault": "az-blackhole",
                "region": REGION,
                "resource": "subnet-1",
                "change": "nacl-a -> blackhole",
                "undo": {"undoer": "az-blackhole.restore-subnets", "args": {}, "describe": "back"},
            }
        )
        + "\n"
    )
    var_file = tmp_path / "staging.env"
    var_file.write_text("AWS_REGION=eu-south-1\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gameday",
            "run",
            "--out",
            str(out),
            "--var-file",
            str(var_file),
            "az-nacl-blackhole",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"gameday: 1 unreverted change(s) in {out}/ledger.jsonl from an earlier run "
        "([az-blackhole] subnet-1: nacl-a -> blackhole; undo: back); "
        f"run `gameday recover --ledger {out}/ledger.jsonl` first"
    ]
    assert not list(out.glob("*.journal.json"))
