"""Write markers as S3 objects, for the replication measurement of a bucket with
cross-region replication.

Marker ``seq`` of run ``run_id`` is the object ``gameday-marker/<run_id>/<seq:09d>`` in
the source bucket, acknowledged by its PutObject response (the writer is
:class:`probes.markers.MarkerWriter`). Its first visibility in the destination bucket is
found by listing the run's prefix there (ListObjectsV2: S3 is strongly consistent for
LIST after a PUT, Amazon S3 User Guide, "Amazon S3 data consistency model"; one call
answers up to 1,000 markers where a HEAD answers one). The source object's
``ReplicationStatus`` (HeadObject: PENDING, COMPLETED, FAILED, or none when no enabled
rule matched the write) is what the DR guide's Example 3 script reads.

The destination bucket is the one of the source's first enabled replication rule
(read before the fault, while the rules are enabled) unless named. ``cleanup`` deletes
every version of the run's markers in both buckets (DeleteObjects with version ids: a
delete of a version is never replicated, so nothing is left behind either side);
``runs_left`` finds the runs left in the source by the prefix when the ledger is lost.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, probe_client_config, region_of
from probes.samplers import SpecError

__all__ = ["S3Markers", "MARKER_PREFIX"]

logger = logging.getLogger(__name__)
MARKER_PREFIX = "gameday-marker/"
_MAX_PAGES = 100  # 100 x 1,000 keys: far more markers than a run writes


class S3Markers:
    """Markers as objects of a replicated bucket, namespaced by run id."""

    def __init__(
        self,
        bucket: str,
        region: str | None = None,
        replica_region: str | None = None,
        replica_bucket: str | None = None,
        configuration: Configuration | None = None,
        secrets: Secrets | None = None,
    ) -> None:
        if not bucket:
            raise SpecError("markers.bucket is required for s3 markers")
        if not replica_region:
            raise SpecError("markers.replica_region is required for s3 markers")
        self.bucket = bucket
        self.region = region_of(configuration, region)
        self.replica_region = replica_region
        self.replica_bucket = replica_bucket or ""
        self.configuration, self.secrets = configuration, secrets
        self._clients: dict[tuple[str, bool], Any] = {}
        self.poll_limit: int | None = None  # one listing answers every waiting marker

    def client(self, region: str, probe: bool = False) -> Any:
        """One client per region (and kind): the default one, or with ``probe`` the
        measurement client (no retries, floored timeouts), warmed before t0."""
        if (region, probe) not in self._clients:
            config = probe_client_config(self.configuration) if probe else None
            self._clients[(region, probe)] = aws_client(
                "s3", self.configuration, self.secrets, region, config=config
            )
        return self._clients[(region, probe)]

    def _bucket_in(self, region: str) -> str:
        return self.replica_bucket if region == self.replica_region else self.bucket

    def key(self, run_id: str, seq: int) -> str:
        return f"{MARKER_PREFIX}{run_id}/{seq:09d}"

    def warm(self, region: str) -> None:
        """One cheap call (HeadBucket) on the measurement client of ``region``."""
        try:
            self.client(region, probe=True).head_bucket(Bucket=self._bucket_in(region))
        except Exception as error:  # noqa: BLE001 - measured by the markers, not here
            logger.warning("markers: warm-up call in %s failed: %s", region, error)

    def prepare(self) -> None:
        """The destination bucket from the replication configuration (rules enabled)."""
        if not self.replica_bucket:
            client = self.client(self.region)
            rules = client.get_bucket_replication(Bucket=self.bucket)[
                "ReplicationConfiguration"
            ].get("Rules", [])
            # enabled first; any rule after a crash mid-pause (the cleanup's case)
            ordered = sorted(rules, key=lambda r: r.get("Status") != "Enabled")
            if not ordered:
                raise SpecError(
                    f"bucket {self.bucket} has no replication rule: name "
                    "markers.replica_bucket or configure replication first"
                )
            self.replica_bucket = str(ordered[0]["Destination"]["Bucket"]).split(":::")[-1]
        self.warm(self.region)

    def write(self, run_id: str, seq: int, written_at: str, timeout: float) -> None:
        self.client(self.region, probe=True).put_object(
            Bucket=self.bucket,
            Key=self.key(run_id, seq),
            Body=written_at.encode(),
            Metadata={"gameday-run-id": run_id, "gameday-seq": str(seq)},
        )

    def _listed(self, client: Any, bucket: str, run_id: str) -> set[int]:
        found: set[int] = set()
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{MARKER_PREFIX}{run_id}/"}
        for _ in range(_MAX_PAGES):
            page = client.list_objects_v2(**request)
            for item in page.get("Contents", []):
                tail = item["Key"].rsplit("/", 1)[-1]
                if tail.isdigit():
                    found.add(int(tail))
            if not page.get("IsTruncated"):
                break
            request["ContinuationToken"] = page["NextContinuationToken"]
        return found

    def present_in(
        self, region: str, run_id: str, seqs: list[int], timeout: float | None = None
    ) -> set[int]:
        """The markers of ``seqs`` that exist in the bucket of ``region``."""
        client = self.client(region, probe=timeout is not None)
        return self._listed(client, self._bucket_in(region), run_id) & set(seqs)

    def present(self, run_id: str, seqs: list[int]) -> set[int]:
        """Read back in the other region: what a failover to it would find."""
        return self.present_in(self.replica_region, run_id, seqs)

    def replication_status(self, run_id: str, seqs: list[int]) -> dict[int, str | None]:
        """Each source marker's ``ReplicationStatus`` (None: no rule replicated it)."""
        client = self.client(self.region)
        status: dict[int, str | None] = {}
        for seq in seqs:
            head = client.head_object(Bucket=self.bucket, Key=self.key(run_id, seq))
            status[seq] = head.get("ReplicationStatus")
        return status

    def _delete_run(self, client: Any, bucket: str, run_id: str) -> int:
        """Every version and delete marker under the run's prefix; objects deleted."""
        deleted = 0
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{MARKER_PREFIX}{run_id}/"}
        for _ in range(_MAX_PAGES):
            page = client.list_object_versions(**request)
            versions = page.get("Versions", []) + page.get("DeleteMarkers", [])
            objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]
            for start in range(0, len(objects), 1000):
                client.delete_objects(
                    Bucket=bucket, Delete={"Objects": objects[start : start + 1000], "Quiet": True}
                )
            deleted += len({v["Key"] for v in page.get("Versions", [])})
            if not page.get("IsTruncated"):
                break
            request["KeyMarker"] = page.get("NextKeyMarker")
            request["VersionIdMarker"] = page.get("NextVersionIdMarker")
        return deleted

    def cleanup(self, run_id: str, seqs: list[int]) -> int:
        """Delete the run's markers in both buckets; the count deleted in the source."""
        if not self.replica_bucket:
            self.prepare()
        deleted = self._delete_run(self.client(self.region), self.bucket, run_id)
        if self.replica_bucket:
            self._delete_run(self.client(self.replica_region), self.replica_bucket, run_id)
        return deleted

    def runs_left(self) -> dict[str, datetime]:
        """Run id -> last write of every run with markers left in the source bucket."""
        client = self.client(self.region)
        runs: dict[str, datetime] = {}
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": MARKER_PREFIX}
        for _ in range(_MAX_PAGES):
            page = client.list_objects_v2(**request)
            for item in page.get("Contents", []):
                run_id = item["Key"][len(MARKER_PREFIX) :].split("/", 1)[0]
                written = item["LastModified"]
                runs[run_id] = max(runs.get(run_id, written), written)
            if not page.get("IsTruncated"):
                break
            request["ContinuationToken"] = page["NextContinuationToken"]
        return runs
