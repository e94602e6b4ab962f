"""The S3 archive round trip against a moto server on 127.0.0.1: a game day folder is
uploaded (one prefix per run, server-side encryption), and the scorecard and the trend
read the history back from s3://."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import boto3
import pytest
import requests

from gameday.archive import archive_run
from gameday.cli import main as gameday
from tests.helpers import TESTS
from tests.helpers.journal_history import write_history

BUCKET = "gameday-history"


@pytest.fixture()
def s3(monkeypatch):
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-south-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="eu-south-1")
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-south-1"}
    )
    try:
        yield client
    finally:
        # moto's backends are this process's: leave no bucket for the next test
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        server.stop()


def _runs(tmp_path: Path) -> list[Path]:
    """Each simulated run of the history as its own game day folder."""
    history = write_history(tmp_path / "history")
    folders = []
    for index, journal in enumerate(sorted(history.glob("*.journal.json"))):
        out = tmp_path / f"run-{index}"
        out.mkdir()
        name = journal.name.split("-", 1)[1]
        shutil.copy(journal, out / name)
        (out / "ledger.jsonl").write_text(f'{{"run_id": "r{index}"}}\n')
        (out / "report.html").write_text("<html></html>\n")
        folders.append(out)
    return folders


def test_archive_and_scorecard_round_trip_through_s3(
    s3, tmp_path: Path, monkeypatch, capsys
) -> None:
    keys = []
    for index, out in enumerate(_runs(tmp_path)):
        # one prefix per run: the stamp is the run's time
        monkeypatch.setattr(
            "gameday.archive.time.gmtime",
            lambda index=index: (2026, 11, 1 + index, 2, 0, 0, 0, 0, 0),
        )
        keys += archive_run(out, f"s3://{BUCKET}/nightly/staging")
    assert len(keys) == 6 * 3
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="nightly/staging/")["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(keys)
    prefixes = {key.split("/")[2] for key in keys}
    assert len(prefixes) == 6
    head = s3.head_object(Bucket=BUCKET, Key=keys[0])
    assert head["ServerSideEncryption"] == "AES256"
    assert gameday(["scorecard", f"s3://{BUCKET}/nightly/staging", "--now", "2026-12-01"]) == 0
    out = capsys.readouterr().out
    assert "coverage: 3 of 14 services in the plan have a measured verdict (21%)" in out
    route53 = next(line for line in out.splitlines() if line.startswith("[test] Route 53"))
    assert "overdue since 2026-10-15 (47 days)" in route53
    report = tmp_path / "report.html"
    today = TESTS / "data" / "journals" / "completed-met.json"
    args = ["report", str(today), "--trend", f"s3://{BUCKET}/nightly/staging", "-o", str(report)]
    assert gameday(args + ["--now", "2026-12-01"]) == 0
    html = report.read_text()
    assert 'id="scorecard"' in html and 'id="trend"' in html


def test_bad_urls_and_an_empty_archive_are_one_line(s3, capsys) -> None:
    assert gameday(["scorecard", f"s3://{BUCKET}/nothing-here"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"gameday: s3://{BUCKET}/nothing-here holds no archived journals (*.journal.json)"
    )
    assert gameday(["scorecard", "s3://no-such-bucket/x"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "gameday: cannot read s3://no-such-bucket/x: NoSuchBucket"
    )
    assert gameday(["run", "--sandbox", "--archive", "bucket/prefix"]) == 2
    assert "'bucket/prefix' is not an s3://bucket/prefix URL" in capsys.readouterr().err
