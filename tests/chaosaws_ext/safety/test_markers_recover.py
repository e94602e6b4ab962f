"""Write markers are ledgered: after a crash, ``gameday recover`` deletes them in every
region (they are our writes, like the fault's)."""

from __future__ import annotations

from pathlib import Path

import boto3

from chaosaws_ext.controls.measurement import _journal_markers
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import start_run
from gameday.recover import recover_from_ledger
from probes.markers import DynamoMarkers
from tests.conftest import OTHER_REGION, REGION

TABLE = "tickets"


def _table(region: str) -> None:
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "ticket_id", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "ticket_id", "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _items(region: str) -> list[str]:
    scan = boto3.client("dynamodb", region_name=region).scan(TableName=TABLE)
    return sorted(item["ticket_id"]["S"] for item in scan["Items"])


def test_recover_deletes_the_markers_of_a_killed_run_in_every_region(
    mocked_aws: None, tmp_path: Path
) -> None:
    for region in (REGION, OTHER_REGION):
        _table(region)
        boto3.client("dynamodb", region_name=region).put_item(
            TableName=TABLE, Item={"ticket_id": {"S": "T-1"}, "created_at": {"S": "2026"}}
        )
    configuration = {
        "aws_region": REGION,
        "chaos_ledger_path": str(tmp_path / "l.jsonl"),
        "chaos_run_id": "run-killed",
    }
    start_run(configuration, "dynamodb-replica-conflict")
    spec = {"kind": "dynamodb", "table": TABLE, "region": REGION, "replica_region": OTHER_REGION}
    _journal_markers(spec, configuration)
    for region in (REGION, OTHER_REGION):  # written, and replicated, before the crash
        markers = DynamoMarkers(TABLE, region, configuration=configuration)
        markers.prepare()
        for seq in range(3):
            markers.write("run-killed", seq, "2026-11-28T00:00:00Z", timeout=5)
    assert len(_items(OTHER_REGION)) == 4

    outcome = recover_from_ledger(tmp_path / "l.jsonl")

    assert outcome["left"] == [] and outcome["results"][0]["ok"] is True
    assert outcome["results"][0]["detail"] == {"deleted": 6}
    assert _items(REGION) == _items(OTHER_REGION) == ["T-1"]
    assert Ledger(tmp_path / "l.jsonl").unreverted() == []
