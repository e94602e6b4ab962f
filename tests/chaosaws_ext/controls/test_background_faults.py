"""A fault action set to run in the background is refused before anything changes: an
interruption stops the method's thread, not a background one, which could go on
injecting after the undo (the cancelled run that kept injecting faults)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosaws_ext.faults import BACKGROUND_REFUSAL, background_fault_actions
from tests.helpers.executables import chaos_executable

OURS = {
    "type": "python",
    "module": "chaosaws_ext.ec2stop.actions",
    "func": "stop_instances",
    "arguments": {"availability_zone": "eu-south-1a", "tag_key": "Role", "tag_value": "api"},
}
THEIRS = {  # chaostoolkit-aws's forced failover, which the rds-failover fault adopts
    "type": "python",
    "module": "chaosaws.rds.actions",
    "func": "reboot_db_instance",
    "arguments": {"db_instance_identifier": "production-analytics-db", "force_failover": True},
}


def experiment(provider: dict[str, Any], ledger: Path) -> dict[str, Any]:
    return {
        "title": "a fault in the background",
        "description": "refused before the method",
        "configuration": {"aws_region": "eu-south-1", "chaos_ledger_path": str(ledger)},
        "controls": [
            {
                "name": "safety",
                "provider": {"type": "python", "module": "chaosaws_ext.controls.safety"},
            }
        ],
        "method": [
            {"type": "action", "name": "inject", "background": True, "provider": provider},
            {"type": "action", "name": "after", "provider": {"type": "process", "path": "true"}},
        ],
    }


def offline_env() -> dict[str, str]:
    """Any AWS call would go to a closed port on loopback (and fail the run loudly)."""
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-south-1",
    }


@pytest.mark.parametrize("provider", [OURS, THEIRS], ids=["ours", "chaostoolkit-aws"])
def test_chaos_run_refuses_a_background_fault_before_the_method(
    provider: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "experiment.yaml"
    ledger = tmp_path / "ledger.jsonl"
    path.write_text(yaml.safe_dump(experiment(provider, ledger)))
    done = subprocess.run(
        [chaos_executable(), "--no-version-check", "run", "--journal-path",
         str(tmp_path / "journal.json"), str(path)],
        cwd=tmp_path, env=offline_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    refusal = [line for line in output.splitlines() if "runs in the background" in line]
    assert len(refusal) == 1 and refusal[0].endswith(f"'inject' {BACKGROUND_REFUSAL}"), output
    assert "Traceback" not in output
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted" and journal["run"] == []  # nothing ran
    assert not ledger.exists()  # no run started: nothing recorded, nothing to undo


def test_gameday_plan_says_the_background_fault_cannot_run(tmp_path: Path) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment(OURS, tmp_path / "ledger.jsonl")))
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "plan", str(path)],
        cwd=tmp_path, env=offline_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"  inject: CANNOT RUN: {BACKGROUND_REFUSAL}" in done.stdout.splitlines()


def test_only_background_actions_that_change_aws_are_refused() -> None:
    wait = {"type": "python", "module": "probes.activities", "func": "hold_symptoms"}
    method = [
        {"type": "action", "name": "ours-in-order", "provider": OURS},
        {"type": "action", "name": "theirs-bg", "background": True, "provider": THEIRS},
        {"type": "probe", "name": "probe-bg", "background": True, "provider": THEIRS},
        {"type": "action", "name": "wait-bg", "background": True, "provider": wait},
        {"type": "action", "name": "process-bg", "background": True,
         "provider": {"type": "process", "path": "true"}},
        {"type": "action", "name": "ours-bg", "background": True, "provider": OURS},
    ]  # fmt: skip
    assert background_fault_actions({"method": method}) == ["theirs-bg", "ours-bg"]
    assert background_fault_actions({"method": "not a list"}) == []
