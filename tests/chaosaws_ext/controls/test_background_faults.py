"""Fault actions with ``background: true`` go in concurrently; the safety control joins
them before the next step in the foreground, and one that did not go in stops the
method there (as one in the foreground would). The sandbox run of a concurrent
scenario is in tests/e2e/test_az_power_interruption_e2e.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from chaosaws_ext.faults import background_fault_steps, changes_aws
from tests.helpers.executables import chaos_executable

OURS = {
    "type": "python",
    "module": "chaosaws_ext.ec2stop.actions",
    "func": "stop_instances",
    # refused before any AWS call (numbers are checked first): the action fails
    "arguments": {
        "availability_zone": "eu-south-1a",
        "tag_key": "Role",
        "tag_value": "api",
        "max_instances": "many",
    },
}
THEIRS = {  # chaostoolkit-aws's forced failover, which the rds-failover fault adopts
    "type": "python",
    "module": "chaosaws.rds.actions",
    "func": "reboot_db_instance",
    "arguments": {"db_instance_identifier": "production-analytics-db", "force_failover": True},
}


def offline_env() -> dict[str, str]:
    """Any AWS call would go to a closed port on loopback."""
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-south-1",
        "AWS_MAX_ATTEMPTS": "1",
    }


def test_a_background_fault_that_did_not_go_in_stops_the_method_at_the_join(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "the-next-step-ran"
    experiment: dict[str, Any] = {
        "title": "a background fault that fails",
        "description": "joined before the next step",
        "configuration": {
            "aws_region": "eu-south-1",
            "chaos_ledger_path": str(tmp_path / "ledger.jsonl"),
        },
        "controls": [
            {
                "name": "safety",
                "provider": {"type": "python", "module": "chaosaws_ext.controls.safety"},
            }
        ],
        "method": [
            {"type": "action", "name": "stop-zone", "background": True, "provider": OURS},
            {
                "type": "action",
                "name": "next-step",
                "provider": {"type": "process", "path": "touch", "arguments": str(marker)},
            },
        ],
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment))
    done = subprocess.run(
        [chaos_executable(), "--no-version-check", "run", "--journal-path",
         str(tmp_path / "journal.json"), str(path)],
        cwd=tmp_path, env=offline_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert (
        "method stopped: background fault action stop-zone did not go in (reason above); "
        "rollbacks follow" in output
    ), output
    assert "max_instances" in output and "Traceback" not in output
    assert not marker.exists()  # the step after the join never ran
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert [r["activity"]["name"] for r in journal["run"]] == ["stop-zone"]
    assert journal["status"] == "failed"
    assert journal["safety"]["failed_actions"][0].startswith("stop-zone: ")
    assert journal["safety"]["all_reverted"] is True


def test_which_steps_are_background_faults() -> None:
    wait = {"type": "python", "module": "probes.activities", "func": "hold_symptoms"}
    method: list[dict[str, Any]] = [
        {"type": "action", "name": "ours-in-order", "provider": OURS},
        {"type": "action", "name": "theirs-bg", "background": True, "provider": THEIRS},
        {"type": "probe", "name": "probe-bg", "background": True, "provider": THEIRS},
        {"type": "action", "name": "wait-bg", "background": True, "provider": wait},
        {"type": "action", "name": "process-bg", "background": True,
         "provider": {"type": "process", "path": "true"}},
        {"type": "action", "name": "ours-bg", "background": True, "provider": OURS},
    ]  # fmt: skip
    found = background_fault_steps({"method": method})
    assert [s["name"] for s in found] == ["theirs-bg", "ours-bg"]
    assert changes_aws(method[0]) and not changes_aws(method[3])
    assert background_fault_steps({"method": "not a list"}) == []
