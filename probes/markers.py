"""Write markers for RPO, and DynamoDB replication lag.

A :class:`MarkerWriter` appends sequence-numbered markers at a cadence through a
backend and records which were acknowledged (monotonic and wall ack times). After
recovery, the backend's ``present`` tells which of them exist on the recovered primary
(or the other region's replica); :func:`probes.recovery.compute_rpo` turns that into
the RPO. A :class:`LagPoller` in region B records when each acknowledged marker first
becomes visible there, for any :class:`ReplicaReader` (DynamoDB items here, S3 objects
in :mod:`probes.s3_markers`). ``cleanup`` deletes our markers afterwards.

Backends:

- :class:`PostgresMarkers`: table ``gameday_markers(run_id, seq, written_at)``, created
  if missing; one fresh connection per write (a failover breaks connections anyway).
- :class:`DynamoMarkers`: items in an existing table, keyed
  ``gameday-marker#<run_id>#<seq>`` on its partition key (string); a string sort key
  gets ``gameday-marker``, a number sort key gets the seq. Writes and lag polls use the
  measurement client of each region (floored timeouts, no retries), warmed by one
  DescribeTable when the writer and the poller start.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, probe_client_config, region_of
from chaosaws_ext.core.timeline import wall_now
from probes.recovery import Marker
from probes.samplers import Cadence, SpecError

__all__ = [
    "MarkerBackend",
    "PostgresMarkers",
    "DynamoMarkers",
    "MarkerWriter",
    "LagPoller",
    "ReplicaReader",
]

logger = logging.getLogger(__name__)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class MarkerBackend(Protocol):
    def prepare(self) -> None: ...
    def write(self, run_id: str, seq: int, written_at: str, timeout: float) -> None: ...
    def present(self, run_id: str, seqs: list[int]) -> set[int]: ...
    def cleanup(self, run_id: str, seqs: list[int]) -> int: ...


BATCH_GET_KEYS = 100  # BatchGetItem's limit per call
BATCH_GET_RETRIES = 10  # UnprocessedKeys retried at most this often per batch
BATCH_GET_BACKOFF_S = 0.05  # doubled per retry, at most 1 s


def batch_get(
    client: Any,
    table: str,
    keys: list[dict[str, Any]],
    projection: str,
    names: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The items of ``keys`` that exist (strongly consistent), 100 keys a call. Keys
    DynamoDB leaves unprocessed (throttling) are retried, bounded, with exponential
    backoff as the DynamoDB API reference (BatchGetItem) asks."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_KEYS):
        request: dict[str, Any] = {
            table: {
                "Keys": keys[start : start + BATCH_GET_KEYS],
                "ConsistentRead": True,
                "ProjectionExpression": projection,
                **({"ExpressionAttributeNames": names} if names else {}),
            }
        }
        for attempt in range(BATCH_GET_RETRIES):
            response = client.batch_get_item(RequestItems=request)
            found += response.get("Responses", {}).get(table, [])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(1.0, BATCH_GET_BACKOFF_S * 2**attempt))
    return found


class ReplicaReader(Protocol):
    """What the lag poller needs of a backend: which markers exist in a region."""

    poll_limit: int | None  # markers asked about per poll (None: all the waiting ones)

    def warm(self, region: str) -> None: ...
    def present_in(
        self, region: str, run_id: str, seqs: list[int], timeout: float | None = None
    ) -> set[int]: ...


class PostgresMarkers:
    """Markers as rows of a table we create if missing."""

    def __init__(self, dsn: str, table: str = "gameday_markers", read_dsn: str | None = None):
        if not dsn:
            raise SpecError("markers.dsn is required for postgres markers")
        if not _IDENT.match(table):
            raise SpecError(f"markers.table must be a plain SQL identifier, got {table!r}")
        self.dsn, self.table, self.read_dsn = dsn, table, read_dsn or dsn

    def _connect(self, dsn: str, timeout: float) -> Any:
        import psycopg

        return psycopg.connect(
            dsn,
            connect_timeout=max(2, math.ceil(timeout)),
            autocommit=True,
            options=f"-c statement_timeout={max(1, int(timeout * 1000))}",
        )

    def prepare(self) -> None:
        with self._connect(self.dsn, 10) as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (run_id text NOT NULL, "
                "seq bigint NOT NULL, written_at timestamptz NOT NULL, "
                "PRIMARY KEY (run_id, seq))"
            )

    def write(self, run_id: str, seq: int, written_at: str, timeout: float) -> None:
        with self._connect(self.dsn, timeout) as conn:
            conn.execute(
                f"INSERT INTO {self.table} (run_id, seq, written_at) VALUES (%s, %s, %s)",
                (run_id, seq, written_at),
            )

    def present(self, run_id: str, seqs: list[int]) -> set[int]:
        with self._connect(self.read_dsn, 30) as conn:
            rows = conn.execute(
                f"SELECT seq FROM {self.table} WHERE run_id = %s", (run_id,)
            ).fetchall()
        return {int(row[0]) for row in rows}

    def cleanup(self, run_id: str, seqs: list[int]) -> int:
        with self._connect(self.dsn, 30) as conn:
            cursor = conn.execute(f"DELETE FROM {self.table} WHERE run_id = %s", (run_id,))
            return cursor.rowcount

    def runs_left(self) -> dict[str, datetime]:
        """Run id -> last write of every run with markers in the table (the orphan
        search: one indexed GROUP BY, whatever the table's size); {} without the table."""
        import psycopg

        with self._connect(self.dsn, 30) as conn:
            try:
                rows = conn.execute(
                    f"SELECT run_id, max(written_at) FROM {self.table} GROUP BY run_id"
                ).fetchall()
            except psycopg.errors.UndefinedTable:
                return {}
        return {str(run_id): written for run_id, written in rows}


class DynamoMarkers:
    """Markers as items of an existing (global) table, namespaced by run id."""

    def __init__(
        self,
        table: str,
        region: str | None = None,
        read_region: str | None = None,
        replica_region: str | None = None,
        configuration: Configuration | None = None,
        secrets: Secrets | None = None,
    ) -> None:
        if not table:
            raise SpecError("markers.table is required for dynamodb markers")
        self.table = table
        self.region = region_of(configuration, region)
        self.read_region = read_region or self.region
        self.replica_region = replica_region
        self.configuration, self.secrets = configuration, secrets
        self.hash_key: str = ""
        self.range_key: tuple[str, str] | None = None
        # BatchGetItem reads 100 keys a call: bounded per poll; the oldest first
        self.poll_limit: int | None = 1000

    def client(self, region: str, probe: bool = False) -> Any:
        """The default client (retries), or with ``probe`` the measurement client: no
        retries and the floored probe timeouts (chaosaws_ext.core.clients.probe_client_config),
        one per region, so the connection warmed before t0 is the one the ticks use.
        Callers keep their own deadlines; those never shorten the client's timeouts."""
        config = probe_client_config(self.configuration) if probe else None
        return aws_client("dynamodb", self.configuration, self.secrets, region, config=config)

    def warm(self, region: str) -> None:
        """One cheap call (DescribeTable) on the measurement client of ``region``; a
        failure is only logged: the markers and the lag will show it."""
        try:
            self.client(region, probe=True).describe_table(TableName=self.table)
        except Exception as error:  # noqa: BLE001 - measured by the markers, not here
            logger.warning("markers: warm-up call in %s failed: %s", region, error)

    def prepare(self) -> None:
        table = self.client(self.region).describe_table(TableName=self.table)["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        for key in table["KeySchema"]:
            name = key["AttributeName"]
            if key["KeyType"] == "HASH":
                if types.get(name) != "S":
                    raise SpecError(
                        f"table {self.table}: partition key {name} must be a string for markers"
                    )
                self.hash_key = name
            else:
                self.range_key = (name, types.get(name, "S"))
        self.warm(self.region)

    def key(self, run_id: str, seq: int) -> dict[str, Any]:
        key: dict[str, Any] = {self.hash_key: {"S": f"gameday-marker#{run_id}#{seq:09d}"}}
        if self.range_key:
            name, kind = self.range_key
            key[name] = {"N": str(seq)} if kind == "N" else {"S": "gameday-marker"}
        return key

    def write(self, run_id: str, seq: int, written_at: str, timeout: float) -> None:
        item = self.key(run_id, seq)
        item.update(
            {
                "gameday_run_id": {"S": run_id},
                "gameday_seq": {"N": str(seq)},
                "gameday_written_at": {"S": written_at},
            }
        )
        self.client(self.region, probe=True).put_item(TableName=self.table, Item=item)

    def present_in(
        self, region: str, run_id: str, seqs: list[int], timeout: float | None = None
    ) -> set[int]:
        """The markers of ``seqs`` that exist in ``region`` (batched reads)."""
        client = self.client(region, probe=timeout is not None)
        keys = [self.key(run_id, s) for s in seqs]
        items = batch_get(client, self.table, keys, "gameday_seq")
        return {int(item["gameday_seq"]["N"]) for item in items}

    def present(self, run_id: str, seqs: list[int]) -> set[int]:
        return self.present_in(self.read_region, run_id, seqs)

    def cleanup_run(self, run_id: str, max_pages: int = 200) -> int:
        """Delete every marker of ``run_id`` in every region, without knowing the seqs
        (after a crash): a bounded scan filtered on ``gameday_run_id``. Idempotent."""
        self.prepare()
        # each item deleted by its own key, whoever chose it (the ticket API's markers,
        # probes.ticket_markers, carry the API's created_at as the sort key)
        names = [self.hash_key] + ([self.range_key[0]] if self.range_key else [])
        deleted = 0
        for region in dict.fromkeys(
            [self.region] + [r for r in (self.replica_region, self.read_region) if r]
        ):
            client = self.client(region)
            request: dict[str, Any] = {
                "TableName": self.table,
                "FilterExpression": "gameday_run_id = :run",
                "ExpressionAttributeValues": {":run": {"S": run_id}},
                "ExpressionAttributeNames": {f"#k{n}": name for n, name in enumerate(names)},
                "ProjectionExpression": ", ".join(f"#k{n}" for n in range(len(names))),
                "ConsistentRead": True,
            }
            for _ in range(max_pages):
                page = client.scan(**request)
                for item in page.get("Items", []):
                    key = {name: item[name] for name in names if name in item}
                    client.delete_item(TableName=self.table, Key=key)
                    deleted += 1
                if not page.get("LastEvaluatedKey"):
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return deleted

    def runs_left(self, region: str, max_pages: int, page_size: int) -> tuple[dict[str, str], bool]:
        """(run id -> last ``gameday_written_at``, truncated) of the markers in ``region``:
        a scan filtered on our attributes, at most ``max_pages`` x ``page_size`` items
        evaluated (``truncated`` when items were left unexamined)."""
        client = self.client(region)
        request: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "attribute_exists(gameday_run_id) "
            "AND attribute_exists(gameday_seq)",
            "ProjectionExpression": "gameday_run_id, gameday_written_at",
            "Limit": page_size,
        }
        runs: dict[str, str] = {}
        for _ in range(max_pages):
            try:
                page = client.scan(**request)
            except client.exceptions.ResourceNotFoundException:
                return runs, False  # no table in this region: no marker left there
            for item in page.get("Items", []):
                run_id = item["gameday_run_id"]["S"]
                written = item.get("gameday_written_at", {}).get("S", "")
                runs[run_id] = max(runs.get(run_id, ""), written)
            if not page.get("LastEvaluatedKey"):
                return runs, False
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return runs, True

    def cleanup(self, run_id: str, seqs: list[int]) -> int:
        deleted = 0
        regions = [self.region] + [
            r for r in (self.replica_region, self.read_region) if r and r != self.region
        ]
        for region in dict.fromkeys(regions):
            client = self.client(region)
            for seq in seqs:
                client.delete_item(TableName=self.table, Key=self.key(run_id, seq))
                deleted += region == self.region
        return deleted


class MarkerWriter:
    """Writes marker ``seq`` = 1, 2, ... every ``interval`` s without stalling on a hang."""

    def __init__(
        self,
        backend: MarkerBackend,
        run_id: str,
        interval: float,
        executor: ThreadPoolExecutor,
        timeout: float | None = None,
        max_in_flight: int = 4,
    ) -> None:
        self.backend, self.run_id, self.interval = backend, run_id, interval
        self.timeout = timeout or max(0.05, interval * 0.8)
        self.executor, self.max_in_flight = executor, max_in_flight
        self._lock = threading.Lock()
        self._markers: list[Marker] = []
        self._running = 0
        self.skipped = 0
        self._cadence = Cadence(interval, self._tick, "markers")

    @property
    def started_mono(self) -> float | None:
        return self._cadence.started_mono

    def start(self) -> None:
        self.backend.prepare()
        self._cadence.start()

    def stop(self, wait: float = 5.0) -> None:
        self._cadence.stop()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self._lock:
                if self._running == 0:
                    return
            time.sleep(0.01)

    def _tick(self, now: float) -> None:
        with self._lock:
            if self._running >= self.max_in_flight:
                self.skipped += 1
                return
            self._running += 1
            marker = Marker(seq=len(self._markers) + 1, sent_mono=now, sent_wall=wall_now())
            self._markers.append(marker)
        try:
            future = self.executor.submit(
                self.backend.write, self.run_id, marker.seq, marker.sent_wall, self.timeout
            )
        except RuntimeError:
            with self._lock:
                self._running -= 1
            marker.error = "not started"
            return
        future.add_done_callback(lambda f, m=marker: self._done(m, f))

    def _done(self, marker: Marker, future: Future) -> None:
        now = time.monotonic()
        with self._lock:
            self._running -= 1
            error = future.exception()
            if error is None:
                marker.acked, marker.ack_mono, marker.ack_wall = True, now, wall_now()
            else:
                marker.error = type(error).__name__

    def markers(self) -> list[Marker]:
        with self._lock:
            return list(self._markers)


class LagPoller:
    """Polls region B for acknowledged, not yet seen markers; stamps first visibility."""

    def __init__(
        self,
        backend: ReplicaReader,
        writer: MarkerWriter,
        region: str,
        interval: float,
        executor: ThreadPoolExecutor,
    ) -> None:
        self.backend, self.writer, self.region = backend, writer, region
        self.interval, self.executor = interval, executor
        self._busy = threading.Lock()
        self._cadence = Cadence(interval, self._tick, "lag")
        self.last_poll_mono: float | None = None  # send time of the last poll that answered

    def start(self) -> None:
        self.backend.warm(self.region)
        self._cadence.start()

    def stop(self) -> None:
        self._cadence.stop()
        with self._busy:  # let a running poll finish (bounded by its client timeouts)
            pass

    def _tick(self, now: float) -> None:
        if not self._busy.acquire(blocking=False):
            return  # previous poll still running: skip, never queue
        try:
            self.executor.submit(self._poll, now).add_done_callback(lambda _f: self._busy.release())
        except RuntimeError:
            self._busy.release()

    def _poll(self, _tick: float) -> None:
        sent = time.monotonic()  # only markers acked before this poll was sent count
        waiting = [
            m
            for m in self.writer.markers()
            if m.acked and m.seen_mono is None and (m.ack_mono or 0) <= sent
        ]
        if self.backend.poll_limit is not None:
            waiting = waiting[: self.backend.poll_limit]
        if not waiting:
            self.last_poll_mono = sent
            return
        try:
            found = self.backend.present_in(
                self.region,
                self.writer.run_id,
                [m.seq for m in waiting],
                timeout=max(0.05, self.interval * 0.8),
            )
        except Exception as error:  # the replica region may be the one failing
            logger.debug("lag poll failed: %s", error)
            return
        for marker in waiting:
            if marker.seq in found:
                marker.seen_mono = sent
        self.last_poll_mono = sent

    def all_seen(self) -> bool:
        return all(m.seen_mono is not None for m in self.writer.markers() if m.acked)
