"""The DynamoDB point-in-time restore drill through the real ``chaos run`` against the
sandbox: restore RTO within the emulated restore duration (+ one polling interval), the
RPO the marker log implies (ground truth: the markers acknowledged after the restore
point and sent before the restore call), every marker older than the restore point in
the copy, and nothing left: no restored table, no backup, no marker. A deliberately
older restore point makes the RPO the gap and misses a target; a SIGKILL mid-restore
followed by ``gameday recover`` (ledger, or by tag without it) leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chaosaws_ext.ledger import Ledger
from reports.html import build_report_html
from sandbox.dynamodb.pitr import LATEST_RESTORABLE_LAG_S, RESTORE_DURATION_S
from tests.helpers import REPO
from tests.helpers.sandbox_state import client, our_items
from tests.helpers.sandbox_state import var_file as _var_file

pytestmark = pytest.mark.e2e
CHAOS = str(Path(sys.executable).with_name("chaos"))
EXPERIMENT = REPO / "experiments" / "dynamodb-pitr-drill.yaml"
# a marker write delayed on a loaded machine moves the lost span's edge (seen: 0.254 s
# against 2 intervals)
WRITE_JITTER_S = 0.1
SCALE = 0.004  # restore 1200 s -> 4.8 s, latest restorable lag 300 s -> 1.2 s
RESTORE_S = RESTORE_DURATION_S * SCALE
LAG_S = LATEST_RESTORABLE_LAG_S * SCALE
POLL_S = 0.1
MARKER_S = 0.1


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from sandbox.server import running_sandbox

    with running_sandbox(time_scale=SCALE) as (box, topology):
        yield box, topology


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}


def _drill_vars(topology: Any, path: Path, **overrides: str) -> Path:
    values = {
        "GAMEDAY_LEDGER": str(path.with_suffix(".ledger.jsonl")),
        "GAMEDAY_RESTORE_POLL_INTERVAL": str(POLL_S),
        "GAMEDAY_MARKER_INTERVAL": str(MARKER_S),
        "GAMEDAY_RESTORE_TIMEOUT": "120",
    }
    return _var_file(topology, path, **{**values, **overrides})


def _run(var_file: Path, journal: Path) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run(
        [CHAOS, "--no-version-check", "--log-file", str(journal.with_suffix(".log")), "run",
         "--journal-path", str(journal), "--var-file", str(var_file), str(EXPERIMENT)],
        cwd=journal.parent, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done, json.loads(journal.read_text())


def _left(topology: Any) -> dict[str, Any]:
    """What of the drill's is in the sandbox: restored tables, backups, markers."""
    dynamodb = client(topology, "dynamodb")
    return {
        "tables": [t for t in dynamodb.list_tables()["TableNames"] if t.startswith("chaos-drill-")],
        "backups": [
            b["BackupName"]
            for b in dynamodb.list_backups()["BackupSummaries"]
            if b["BackupName"].startswith("chaos-drill-")
        ],
        "markers": our_items(topology),
    }


def _clean(topology: Any) -> dict[str, Any]:
    return {"tables": [], "backups": [], "markers": {r: [] for r in topology.table_regions}}


def _when(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_the_drill_restores_verifies_measures_and_deletes(sandbox: Any, tmp_path: Path) -> None:
    _box, topology = sandbox
    before = _left(topology)
    source = client(topology, "dynamodb")
    items_before = source.scan(TableName=topology.table_name, Select="COUNT")["Count"]
    done, journal = _run(_drill_vars(topology, tmp_path / "drill.env"), tmp_path / "j.json")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    recovery = journal["recovery"]
    restore = recovery["restore"]
    assert restore["kind"] == "dynamodb-point-in-time"
    assert restore["source"] == topology.table_name
    assert restore["restored"].startswith("chaos-drill-")
    assert [p["name"] for p in restore["phases"]] == ["api_accepted", "active", "first_read"]
    at = {p["name"]: p["at_s"] for p in restore["phases"]}
    # the emulated restore duration, within one polling interval (and the read's)
    assert RESTORE_S - 0.05 <= at["active"] <= RESTORE_S + POLL_S + 0.5
    assert recovery["rto"]["measured_s"] == at["first_read"]
    assert at["active"] <= at["first_read"] <= at["active"] + POLL_S + 0.5
    assert recovery["rto"]["met"] is None and recovery["rpo"]["met"] is None  # no target
    # the latest restorable time lags the drill's start as emulated (AWS: ~5 min)
    assert abs(restore["latest_restorable_lag_s"] - LAG_S) <= 0.3
    verification = restore["verification"]
    assert verification["passed"] is True and verification["missing_count"] == 0
    assert verification["markers_expected"] >= 5  # history_s 1 s of 0.1 s markers
    assert verification["markers_present"] == verification["markers_expected"]
    # item counts: the copy holds the source's items as of the restore point (what the
    # table held before the run plus the run's markers up to the point; a marker in
    # flight at the point may be on either side), nothing else wrote the table
    assert verification["items_passed"] is True, verification
    assert verification["items_restored"] == verification["items_expected"]
    assert verification["items_not_accounted"] == 0
    truth = items_before + verification["markers_expected"]
    assert abs(verification["items_restored"] - truth) <= 1, (items_before, verification)
    # restoring to the latest restorable time loses about the lag: the markers between
    # the restore point and the restore call (ground truth from the journal's markers)
    rpo = recovery["rpo"]
    assert rpo["lost"] > 0
    assert abs(rpo["measured_s"] - _gap(journal, restore)) <= 2 * MARKER_S + WRITE_JITTER_S
    assert restore["deleted"] is True
    assert Ledger(tmp_path / "drill.ledger.jsonl").unreverted() == []
    assert _left(topology) == before == _clean(topology)
    # the report shows the drill's phases, copy and verification, unjudged
    html = build_report_html([journal])
    for row in ("restore accepted", "restored copy ACTIVE", "first read of the copy"):
        assert row in html
    assert restore["restored"] in html and "no target to judge against" in html
    expected = verification["markers_expected"]
    assert f"{expected} of {expected}" in html and "<dd>passed</dd>" in html
    items = verification["items_restored"]
    assert f"{items} of {items} expected (passed" in html


def _gap(journal: dict[str, Any], restore: dict[str, Any]) -> float:
    """Ground truth: the restore call's wall time (the fault's own record) minus the
    restore point: the span of writes after the restore point and before the call."""
    called = journal["recovery"]["fault"]["detail"]["restore"]["called_at"]
    return _when(called) - _when(restore["restore_point"])


def test_an_older_restore_point_loses_the_gap_and_misses_the_target(
    sandbox: Any, tmp_path: Path
) -> None:
    _box, topology = sandbox
    gap = 1.5
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        "version: 1\nservices:\n  dynamodb-restore:\n    rto_s: 60\n    rpo_s: 1\n"
        "    source: a test's target\n"
    )
    var_file = _drill_vars(
        topology,
        tmp_path / "gap.env",
        GAMEDAY_RESTORE_POINT_AGE=str(gap),
        GAMEDAY_RESTORE_HISTORY="0.5",
        GAMEDAY_TARGETS_FILE=str(targets),
    )
    done, journal = _run(var_file, tmp_path / "gap.json")
    recovery = journal["recovery"]
    restore = recovery["restore"]
    assert restore["verification"]["passed"] is True, restore
    rpo = recovery["rpo"]
    # the gap: the age asked plus the latest restorable time's lag behind the call
    assert abs(rpo["measured_s"] - _gap(journal, restore)) <= 2 * MARKER_S + WRITE_JITTER_S
    assert rpo["measured_s"] >= gap + LAG_S - 2 * MARKER_S
    assert rpo["met"] is False and recovery["rto"]["met"] is True
    assert journal["deviated"] is True and done.returncode == 1
    assert restore["deleted"] is True
    assert _left(topology) == _clean(topology)


def _wait(check: Any, bound: float) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def _restore_called(ledger: Path) -> bool:
    try:
        return any(
            e.fault == "dynamodb-restore" and "RestoreTable" in e.change and e.outcome
            for e in Ledger(ledger).entries()
        )
    except Exception:  # noqa: BLE001 - a line being written
        return False


@pytest.mark.parametrize("how", ["ledger", "by-tag"])
def test_sigkill_mid_restore_then_recover_leaves_nothing(
    sandbox: Any, tmp_path: Path, how: str
) -> None:
    _box, topology = sandbox
    var_file = _drill_vars(topology, tmp_path / "kill.env")
    ledger = tmp_path / "kill.ledger.jsonl"
    process = subprocess.Popen(
        [CHAOS, "--no-version-check", "--log-file", str(tmp_path / "kill.log"), "run",
         "--var-file", str(var_file), str(EXPERIMENT)],
        cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert _wait(lambda: _restore_called(ledger), 60), (tmp_path / "kill.log").read_text()[
            -2000:
        ]
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    left = _left(topology)
    assert len(left["tables"]) == 1 and len(left["backups"]) == 1
    status = client(topology, "dynamodb").describe_table(TableName=left["tables"][0])
    assert status["Table"]["TableStatus"] == "CREATING"  # killed mid-restore
    command = [sys.executable, "-m", "gameday", "recover"]
    env = _env()
    if how == "ledger":  # the sandbox's endpoint and credentials, as an operator exports them
        command += ["--ledger", str(ledger)]
        lines = var_file.read_text().splitlines()
        pairs = [line.split("=", 1) for line in lines if "=" in line and line[0] != "#"]
        env.update({key: value for key, value in pairs})
    else:
        ledger.unlink()
        command += ["--by-tag", "--force", "--var-file", str(var_file)]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _wait(lambda: _left(topology) == _clean(topology), 30), (_left(topology), done.stdout)


def test_a_restore_slower_than_the_drill_timeout_fails_and_the_copy_is_deleted(
    sandbox: Any, tmp_path: Path
) -> None:
    _box, topology = sandbox
    var_file = _drill_vars(
        topology,
        tmp_path / "slow.env",
        GAMEDAY_RESTORE_TIMEOUT=str(LAG_S + 0.5 + RESTORE_S / 2),  # gone before ACTIVE
        GAMEDAY_RESTORE_HISTORY="0.5",
    )
    done, journal = _run(var_file, tmp_path / "slow.json")
    assert done.returncode == 1
    action = journal["run"][0]
    assert action["status"] == "failed"
    assert "restored table chaos-drill-" in action["exception"][-1]
    assert "ACTIVE not within" in action["exception"][-1]
    assert journal["recovery"]["restore"]["verification"] is None
    assert journal["recovery"]["rto"]["measured_s"] is None
    # the rollback waited for the restore to finish, then deleted the copy
    assert journal["recovery"]["restore"]["deleted"] is True
    assert Ledger(tmp_path / "slow.ledger.jsonl").unreverted() == []
    assert _left(topology) == _clean(topology)
