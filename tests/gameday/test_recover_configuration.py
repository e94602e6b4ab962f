"""``gameday recover --by-tag`` says what it could not search instead of "0 found"."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import boto3
import yaml

from chaosaws_ext import undo
from chaosaws_ext.core.redaction import MASK, secret_values_from_var_files
from chaosaws_ext.dynamodb.undo import find_conflict_items
from chaosaws_ext.healthcheck.rules import waf_block_rule, waf_rule_expiry, waf_rule_is_ours
from gameday.cli import result_line
from gameday.recover import recover_by_tag, recovery_configuration
from tests.conftest import REGION
from tests.helpers import REPO

ROOT = REPO


def test_finders_without_configuration_report_it(mocked_aws: None) -> None:
    problems: list[str] = []

    undo.find_orphans({}, None, [REGION], problems)

    text = "\n".join(problems)
    assert f"dynamodb-conflict in {REGION}: not searched: no table_name configured" in text
    assert f"measurement-markers in {REGION}: not searched: no experiment configuration" in text
    assert f"target-lock in {REGION}: not searched: no lock table configured" in text


def _conflict_table(name: str) -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "ticket_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "ticket_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_the_orphan_scan_bound_is_configurable_and_reports_truncated(mocked_aws: None) -> None:
    _conflict_table("tickets")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for index in range(30):
        dynamodb.put_item(TableName="tickets", Item={"ticket_id": {"S": f"T-{index:03d}"}})
    dynamodb.put_item(
        TableName="tickets",
        Item={"ticket_id": {"S": "chaos-run-x-0"}, "chaos_run_id": {"S": "run-x"},
              "chaos_client_ts": {"N": "1700000000.0"}},
    )  # fmt: skip
    configuration = {"table_name": "tickets", "aws_region": REGION}
    problems: list[str] = []

    bounded = {**configuration, "orphan_scan_pages": 2, "orphan_scan_page_size": 5}
    undo.find_orphans(bounded, None, [REGION], problems)
    truncated = [p for p in problems if p.startswith("dynamodb-conflict")]
    assert truncated == [
        f"dynamodb-conflict in {REGION}: scan of tickets truncated after 2 page(s) of 5 "
        "items evaluated; raise orphan_scan_pages to search the rest"
    ]

    found = find_conflict_items({**configuration, "orphan_scan_pages": 10}, None, REGION)
    assert [spec["args"]["run_id"] for spec in found] == ["run-x"]
    assert found[0]["expires_at"] == "2023-11-14T22:28:20Z"  # last write + 900 s


def test_gameday_recover_without_the_table_configured_exits_non_zero(tmp_path: Path) -> None:
    experiment = yaml.safe_load((ROOT / "experiments/dynamodb-replica-conflict.yaml").read_text())
    experiment["configuration"]["table_name"].pop("default")
    path = tmp_path / "conflict.yaml"
    path.write_text(yaml.safe_dump(experiment))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens: no call may succeed

    done = subprocess.run(
        [sys.executable, "-m", "gameday", "recover", "--by-tag", "--experiment", str(path),
         "--regions", REGION],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == 1, done.stdout + done.stderr
    assert "NOT SEARCHED: conflict: conflict items not searched: table_name not set" in done.stdout
    assert "0 orphan(s) found by tag, 0 left" not in done.stdout
    assert "search INCOMPLETE" in done.stdout


def test_recover_releases_expired_locks_and_leaves_live_ones(mocked_aws: None) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="locks",
        AttributeDefinitions=[{"AttributeName": "lock_key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "lock_key", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    now = int(time.time())
    for target, run_id, expires in (
        ("db-1", "run-dead", now - 60),
        ("alb-1", "run-live", now + 600),
    ):
        dynamodb.put_item(
            TableName="locks",
            Item={"lock_key": {"S": target}, "run_id": {"S": run_id},
                  "expires_at": {"N": str(expires)}},
        )  # fmt: skip
    configuration = {"lock_table": "locks", "chaos_markers": [], "aws_region": REGION}

    outcome = recover_by_tag([REGION], configuration)

    by_resource = {r["resource"]: r for r in outcome["results"]}
    assert by_resource["lock locks/db-1"]["ok"] is True
    assert by_resource["lock locks/alb-1"]["skipped"] is True
    assert "its run may still be live" in by_resource["lock locks/alb-1"]["error"]
    keys = [i["lock_key"]["S"] for i in dynamodb.scan(TableName="locks")["Items"]]
    assert keys == ["alb-1"]


def test_our_waf_rule_carries_its_expiry_in_a_label() -> None:
    rule = waf_block_rule("chaos-run-1", "/health", 3, "2026-12-01T09:00:00Z")

    assert rule["RuleLabels"] == [{"Name": "chaos:expires-at:2026-12-01T09:00:00Z"}]
    assert re.fullmatch(r"[0-9A-Za-z_\-:]+", rule["RuleLabels"][0]["Name"])  # WAF's pattern
    assert waf_rule_expiry(rule) == "2026-12-01T09:00:00Z"
    assert waf_rule_is_ours(rule)


def test_recover_by_tag_for_named_experiments_searches_only_their_faults(
    mocked_aws: None,
) -> None:
    """``--experiment az-nacl-blackhole``: the DynamoDB and S3 finders, which that
    experiment never uses, must not make the search look incomplete (exit 1)."""
    named, _ = recovery_configuration(["az-nacl-blackhole"], [])
    everything, _ = recovery_configuration(None, [])

    searched_named = recover_by_tag([REGION], named)["problems"]
    searched_all = recover_by_tag([REGION], {**everything, "table_name": ""})["problems"]

    assert named["chaos_recovery_faults"] == ["az-blackhole"]
    assert "chaos_recovery_faults" not in everything  # no names: every fault searched
    assert not [p for p in searched_named if p.startswith(("dynamodb-conflict", "s3-replication"))]
    assert [p for p in searched_all if p.startswith("dynamodb-conflict")]


def test_a_failed_recovery_line_masks_secrets(tmp_path: Path) -> None:
    var_file = tmp_path / "staging.yaml"
    var_file.write_text(yaml.safe_dump({"secrets": {"db": {"password": "Very-Secret-42"}}}))
    secrets = secret_values_from_var_files([var_file])
    result = {
        "resource": "markers in postgresql://gameday:Very-Secret-42@db:5432/app",
        "ok": False,
        "error": "connection to postgresql://gameday:Very-Secret-42@db:5432/app refused "
        "(password Very-Secret-42)",
    }

    line = result_line(result, "reverted", secrets)

    assert "Very-Secret-42" not in line
    assert line == (
        f"markers in postgresql://gameday:{MASK}@db:5432/app: FAILED: connection to "
        f"postgresql://gameday:{MASK}@db:5432/app refused (password {MASK})"
    )
