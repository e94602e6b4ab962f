"""The shipped ec2-stop-instances experiment validates with the staging example env
(what an SRE copies), and its policy conditions Stop/Start on the instances' tag."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gameday.policy import load_policy, placeholders, render
from sandbox.envfile import parse_env
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable


def test_the_experiment_validates_with_the_staging_example_env(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(Path.home())}
    env.update(parse_env((REPO / "experiments/env/staging.example.env").read_text()))
    assert env["GAMEDAY_API_INSTANCE_TAG_KEY"] == "app"
    done = subprocess.run(
        [chaos_executable(), "--no-version-check", "--no-log-file", "validate",
         str(REPO / "experiments/ec2-stop-instances.yaml")],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_policy_fills_the_tag_condition_key_and_limits_tags_to_chaos_keys() -> None:
    policy = load_policy("ec2-stop-instances")
    assert {"instance_tag_key", "instance_tag_value", "account", "region"} <= placeholders(policy)
    filled = render(
        policy,
        {"account": "123456789012", "region": "eu-south-1", "lock_table": "locks",
         "instance_tag_key": "app", "instance_tag_value": "ticket-api"},
    )  # fmt: skip
    assert placeholders(filled) == set()
    by_sid = {s["Sid"]: s for s in filled["Statement"]}
    stop = by_sid["InjectUndoStopStartTaggedInstances"]
    assert stop["Condition"] == {"StringEquals": {"aws:ResourceTag/app": "ticket-api"}}
    tags = by_sid["ByTagRecordOnlyChaosTagsOfTaggedInstances"]["Condition"]
    assert tags["ForAllValues:StringLike"] == {"aws:TagKeys": ["chaos:*"]}
