"""`chaos run` (the real CLI, in a subprocess) of experiments/examples/measured-http-outage.yaml
against a local HTTP service that the method takes down for a while.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probes.outage_servers import OutageSwitch, SwitchableServer
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable

ROOT = REPO
EXPERIMENT = ROOT / "experiments" / "examples" / "measured-http-outage.yaml"
CHAOS = chaos_executable()


@pytest.fixture
def service() -> Iterator[tuple[SwitchableServer, OutageSwitch]]:
    target = SwitchableServer().start()
    switch = OutageSwitch(target).start()
    yield target, switch
    switch.stop()
    target.stop()


def run_chaos(
    tmp_path: Path,
    target: SwitchableServer,
    switch: OutageSwitch,
    targets_file: Path | None,
    seconds: float,
) -> tuple[int, dict[str, Any]]:
    env = dict(os.environ)
    env.update(
        GAMEDAY_EXAMPLE_TARGET_URL=target.url,
        GAMEDAY_EXAMPLE_OUTAGE_URL=switch.url,
        GAMEDAY_EXAMPLE_OUTAGE_SECONDS=str(seconds),
        GAMEDAY_LEDGER=str(tmp_path / "ledger.jsonl"),
    )
    env.pop("GAMEDAY_TARGETS_FILE", None)
    if targets_file is not None:
        env["GAMEDAY_TARGETS_FILE"] = str(targets_file)
    journal = tmp_path / "journal.json"
    completed = subprocess.run(
        [
            str(CHAOS),
            "--log-file",
            str(tmp_path / "chaos.log"),
            "run",
            "--journal-path",
            str(journal),
            str(EXPERIMENT),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert journal.exists(), completed.stdout + completed.stderr
    return completed.returncode, json.loads(journal.read_text())


@pytest.mark.e2e
def test_missed_rto_makes_the_run_deviate(tmp_path: Path, service) -> None:
    target, switch = service
    strict = tmp_path / "targets.yaml"
    strict.write_text(
        "services:\n  ticket-api: {rto_s: 0.1, rpo_s: 0, source: 'test: must be missed'}\n"
    )
    code, journal = run_chaos(tmp_path, target, switch, strict, seconds=1.0)
    assert code == 1
    # chaostoolkit-lib 1.44 keeps status "completed" and sets deviated (exit code 1)
    assert journal["status"] == "completed" and journal["deviated"] is True
    recovery = journal["recovery"]
    assert recovery["service"] == "ticket-api"
    assert recovery["target"]["rto_s"] == 0.1 and recovery["target"]["file"] == str(strict)
    rto = recovery["rto"]
    assert rto["met"] is False and rto["target_s"] == 0.1
    # the outage lasted 1.0 s from the action's end; 20 Hz sampling
    assert 1.0 - 0.05 <= rto["measured_s"] <= 1.0 + 4 * 0.05  # four intervals at 20 Hz
    assert "measured" in rto["reason"] and "target <= 0.1s" in rto["reason"]
    assert rto["resolution_s"] == 0.05
    assert recovery["fault"]["t0_source"] == "method-action"
    assert recovery["fault"]["name"] == "take-the-ticket-api-down"
    assert recovery["availability"]["samples"] > 20
    assert 0 < recovery["availability"]["ratio"] < 1
    assert recovery["environment"]["target"] == "sandbox"
    verdict = journal["steady_states"]["after"]["probes"][1]
    assert verdict["tolerance_met"] is False and verdict["output"]["met"] is False


@pytest.mark.e2e
def test_met_rto_completes(tmp_path: Path, service) -> None:
    target, switch = service
    code, journal = run_chaos(tmp_path, target, switch, None, seconds=0.5)
    assert code == 0, journal["status"]
    assert journal["status"] == "completed" and journal["deviated"] is False
    rto = journal["recovery"]["rto"]
    assert rto["met"] is True and rto["target_s"] == 300  # ticket-api: < 5 min
    assert 0.5 - 0.05 <= rto["measured_s"] <= 0.5 + 4 * 0.05  # four intervals at 20 Hz
