"""``chaos run`` (the real CLI) of experiments/s3-replication-pause.yaml against moto
with the sandbox's S3 replication emulation: the journal's failover RPO equals the
ground truth the emulator saw (marker writes acknowledged while no rule was enabled,
timed on the same monotonic clock) within the writer interval, the catch-up is "never"
as S3 documents, the plan's RPO 0 is missed and said to be a finding, the report shows
it, and nothing is left behind (configuration restored, markers deleted both sides)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from reports.html import build_report_html
from sandbox.s3.replicator import BucketReplicator
from sandbox.s3.seed import seed_replicated_buckets
from tests.conftest import OTHER_REGION, REGION
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable

pytestmark = pytest.mark.e2e
ACCOUNT = "123456789012"
PAUSE, INTERVAL, LAG = 3.0, 0.1, 0.3
EXPERIMENT = REPO / "experiments" / "s3-replication-pause.yaml"


class RecordingReplicator(BucketReplicator):
    """The emulator, noting each marker write and whether an enabled rule took it."""

    def __init__(self) -> None:
        super().__init__(lag_seconds=LAG, jitter_seconds=0.1, seed=5)
        self.writes: list[tuple[str, float, bool]] = []
        self._lock = threading.Lock()

    def on_write(self, backend: Any, bucket_name: str, key_name: str, key: Any, deleted: bool):
        super().on_write(backend, bucket_name, key_name, key, deleted)
        if key_name.startswith("gameday-marker/") and not deleted:
            taken = getattr(key, "sandbox_replication_status", None) == "PENDING"
            with self._lock:
                self.writes.append((key_name, time.monotonic(), taken))


def _versions(client: Any, bucket: str) -> list[str]:
    page = client.list_object_versions(Bucket=bucket, Prefix="gameday-marker/")
    return [v["Key"] for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]


def test_chaos_run_measures_the_failover_rpo_of_a_pause(moto_server: str, tmp_path: Path) -> None:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    replicator = RecordingReplicator()
    replicator.start()
    try:
        kwargs = {"endpoint_url": moto_server}
        primary = boto3.client("s3", region_name=REGION, **kwargs)
        replica = boto3.client("s3", region_name=OTHER_REGION, **kwargs)
        pair = seed_replicated_buckets(
            primary, replica, ACCOUNT, "production", REGION, OTHER_REGION
        )["knowledge_base"]
        before = primary.get_bucket_replication(Bucket=pair["source"])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
        env.update(
            AWS_ENDPOINT_URL=moto_server,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
            AWS_MAX_ATTEMPTS="1",
            GAMEDAY_ALLOWED_ACCOUNTS=ACCOUNT,
            GAMEDAY_LEDGER=str(tmp_path / "ledger.jsonl"),
            GAMEDAY_BUCKET=pair["source"],
            GAMEDAY_PAUSE_SECONDS=str(PAUSE),
            GAMEDAY_OTHER_REGION=OTHER_REGION,
            GAMEDAY_MARKER_INTERVAL=str(INTERVAL),
            GAMEDAY_BASELINE_SECONDS="1.5",
            GAMEDAY_SETTLE_SECONDS="1",
            GAMEDAY_CATCHUP_WINDOW="1",
            PYTHONPATH=str(REPO),
        )
        journal_path = tmp_path / "journal.json"
        done = subprocess.run(
            [str(chaos_executable()), "--no-version-check", "--no-log-file", "run",
             "--journal-path", str(journal_path), str(EXPERIMENT)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        journal = json.loads(journal_path.read_text())
        # the plan's RPO 0 is missed: the run deviates (exit 1), it does not fail
        assert done.returncode == 1, done.stdout + done.stderr
        assert journal["status"] == "completed" and journal["deviated"] is True
        recovery = journal["recovery"]
        replication = recovery["replication"]

        # ground truth: the marker writes the emulator took while no rule was enabled
        untaken = [t for _, t, taken in replicator.writes if not taken]
        assert untaken, replicator.writes[:5]
        truth_span = max(untaken) - min(untaken)
        failover = replication["failover"]
        assert failover["basis"] == "end of the pause"
        # a PUT in flight across the pause's start or end may fall either side of it
        assert abs(failover["missing"] - len(untaken)) <= 2
        # one writer interval, and the PUT's own latency: a marker acknowledged between
        # the resume call and the end-of-pause stamp may still be missing at the stamp
        assert abs(failover["rpo_s"] - truth_span) <= INTERVAL + 0.05
        # the pause lasted what was asked (longer on a loaded machine: the resume's own
        # calls), and the failover loses at most all of it
        assert replication["pause_s"] >= PAUSE
        assert failover["rpo_s"] <= replication["pause_s"] + INTERVAL
        catch = replication["catch_up"]
        assert catch["caught_up"] is False and catch["measured_s"] is None
        assert "Batch Replication" in catch["reason"]
        assert recovery["rpo"]["basis"] == "failover" and recovery["rpo"]["met"] is False
        assert replication["finding"].startswith("a finding about the DR plan, not a bug")
        assert replication["lag"]["count"] > 5 and replication["lag"]["unseen"] == 0

        html = build_report_html([journal])
        assert "Replication under the pause" in html and "Finding:" in html
        assert f"{failover['missing']} of {failover['acknowledged']} acknowledged" in html

        # nothing left behind: the configuration as it was, our markers gone both sides
        after = primary.get_bucket_replication(Bucket=pair["source"])
        assert after["ReplicationConfiguration"] == before["ReplicationConfiguration"]
        assert _versions(primary, pair["source"]) == []
        assert _versions(replica, pair["replica"]) == []
    finally:
        replicator.stop()
        requests.post(f"{moto_server}/moto-api/reset", timeout=10)
