"""Write markers as tickets POSTed through the ticket API, as a client writes them.

Marker ``seq`` of run ``run_id`` is the ticket ``gameday-marker#<run_id>#<seq:09d>`` (the
key :class:`probes.markers.DynamoMarkers` gives its items), POSTed as JSON to ``url``;
it is acknowledged when the API answers 2xx (the API's contract: a 2xx only once the
ticket is stored). An answer that never comes within the timeout, a refused connection
or a 5xx leaves it "not acknowledged", never "lost". The body carries no
``customer_id`` or ``status``, so the markers stay out of the table's customer and status
indexes (sparse indexes), and our attributes ``gameday_run_id``, ``gameday_seq``,
``gameday_written_at``: the DynamoDB markers' orphan search and crash cleanup
(``chaosaws_ext.controls.measurement``) find and delete them the same way.

The API is reached as clients reach it: with ``nameserver``, the URL's host is resolved
there (the answer kept for its TTL) and the writes go round the answered addresses in
turn, one per write, as many clients each picking one do (an ALB's name answers one
address per AZ node; the node of a blackholed zone never answers); without it, the
system resolver. After recovery the markers are read back from ``table`` in
``read_region`` (default ``region``: what a failover to another region's replica would
find, read there; a Query on the partition key: the API chooses the sort key
``created_at``), or through the API (``read_url``: GET ``<read_url>/<ticket id>``, 200
present, 404 absent). Cleanup deletes every marker the run wrote, acknowledged or not (a
write whose answer was lost may be stored), in ``region``, ``replica_region`` and
``read_region``.
"""

from __future__ import annotations

import http.client
import itertools
import json
import logging
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, probe_client_config, region_of
from probes.checks import SniHTTPSConnection, parse_nameserver, resolve_a
from probes.markers import batch_get
from probes.samplers import SpecError

__all__ = ["TicketApiMarkers", "TicketNotAcknowledged", "checked_url", "marker_ticket_id"]

logger = logging.getLogger(__name__)
READ_WORKERS = 8  # read-back and cleanup calls in parallel (one Query per marker)
READ_TIMEOUT_S = 10.0  # each read-back through the API (after recovery: no hurry)


class TicketNotAcknowledged(Exception):
    """The API answered, but not 2xx: the ticket is not acknowledged."""


def marker_ticket_id(run_id: str, seq: int) -> str:
    return f"gameday-marker#{run_id}#{seq:09d}"


def checked_url(url: Any, key: str) -> str:
    """``url`` when it is http(s)://host...; :class:`SpecError` naming ``markers.<key>``."""
    parts = urlsplit(str(url or ""))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError(f"markers.{key} must be http(s)://host[:port]/path, got {url!r}")
    return str(url)


class _Endpoint:
    """One URL, reached by name through a chosen nameserver (or the system's)."""

    def __init__(self, url: str, nameserver: tuple[str, int] | None) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = str(parts.hostname)
        self.port = parts.port or (443 if self.https else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.host_header = self.host if self.port in (80, 443) else f"{self.host}:{self.port}"
        self.nameserver = nameserver
        self._lock = threading.Lock()
        self._answer: tuple[list[str], float] = ([], 0.0)  # (addresses, expires monotonic)
        self._turn = itertools.count()
        self._tls = ssl.create_default_context()

    def address(self, timeout: float) -> str:
        """The address of the next request: the next one of the cached answer (an
        address in the URL is used as it is, as a client does: no DNS)."""
        if self.nameserver is None:
            return self.host
        now = time.monotonic()
        with self._lock:
            addresses, expires = self._answer
        if not addresses or now >= expires:
            found, ttl = resolve_a(self.host, self.nameserver, timeout)
            addresses = sorted(found)
            with self._lock:
                self._answer = (addresses, now + ttl)
        return addresses[next(self._turn) % len(addresses)]

    def request(
        self, method: str, path: str, body: bytes | None, timeout: float
    ) -> tuple[int, bytes]:
        """(status, body) of one request on a fresh connection within ``timeout``."""
        deadline = time.monotonic() + timeout
        address = self.address(timeout)
        remaining = max(0.001, deadline - time.monotonic())
        connection: http.client.HTTPConnection
        if self.https:  # SNI and certificate checked against the name, whatever address
            connection = SniHTTPSConnection(
                address, self.port, self.host, timeout=remaining, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(address, self.port, timeout=remaining)
        headers = {"Host": self.host_header, "Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read(65536)
        finally:
            connection.close()


class TicketApiMarkers:
    """Markers as tickets written through the API; read back from the table (or API)."""

    def __init__(
        self,
        url: str,
        table: str,
        region: str | None = None,
        read_url: str | None = None,
        nameserver: str | None = None,
        replica_region: str | None = None,
        configuration: Configuration | None = None,
        secrets: Secrets | None = None,
        read_region: str | None = None,
    ) -> None:
        self.url = checked_url(url, "url")
        if not table:
            raise SpecError("markers.table is required for ticket-api markers")
        self.read_url = checked_url(read_url, "read_url").rstrip("/") if read_url else None
        resolver = parse_nameserver(nameserver, "markers.nameserver")
        self.endpoint = _Endpoint(self.url, resolver)
        self.reader = _Endpoint(self.read_url, resolver) if self.read_url else None
        self.table = table
        self.region = region_of(configuration, region)
        self.replica_region = replica_region
        self.read_region = read_region or self.region
        self.configuration, self.secrets = configuration, secrets
        self.hash_key = ""
        self.key_names: list[str] = []
        self.key_types: dict[str, str] = {}
        # each acknowledged ticket's full key, from the API's answer (the API chooses the
        # sort key): what the lag poller reads the replica by, batched
        self._stored: dict[int, dict[str, dict[str, str]]] = {}
        self._stored_lock = threading.Lock()

    # BatchGetItem reads 100 keys a call: bounded per poll, the oldest first (as
    # DynamoMarkers)
    poll_limit: int | None = 1000

    def client(self, region: str, probe: bool = False) -> Any:
        """The default client, or with ``probe`` the measurement client (no retries, the
        probe timeouts: what the lag poller's ticks use, as DynamoMarkers does)."""
        config = probe_client_config(self.configuration) if probe else None
        return aws_client("dynamodb", self.configuration, self.secrets, region, config=config)

    def prepare(self) -> None:
        """The table's partition key (where the API stores ``ticket_id``); raises when
        the table is not there: no marker is written to an API whose store we cannot read."""
        table = self.client(self.region).describe_table(TableName=self.table)["Table"]
        schema = table["KeySchema"]
        self.hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
        self.key_names = [k["AttributeName"] for k in schema]
        self.key_types = {
            a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])
        }
        try:  # the name resolved before the first write (t0 comes later): the cache warm
            self.endpoint.address(timeout=5.0)
        except Exception as error:  # noqa: BLE001 - the writes will show it
            logger.warning("markers: resolving %s failed: %s", self.endpoint.host, error)

    def body(self, run_id: str, seq: int, written_at: str) -> dict[str, Any]:
        return {
            "ticket_id": marker_ticket_id(run_id, seq),
            "subject": f"gameday write marker {seq} of run {run_id}",
            "gameday_run_id": run_id,
            "gameday_seq": seq,
            "gameday_written_at": written_at,
        }

    def write(self, run_id: str, seq: int, written_at: str, timeout: float) -> None:
        payload = json.dumps(self.body(run_id, seq, written_at)).encode()
        status, answer = self.endpoint.request("POST", self.endpoint.path, payload, timeout)
        if not 200 <= status < 300:
            raise TicketNotAcknowledged(f"HTTP {status}")
        key = self._key_from_answer(answer)
        if key is not None:
            with self._stored_lock:
                self._stored[seq] = key

    def _key_from_answer(self, answer: bytes) -> dict[str, dict[str, str]] | None:
        """The stored ticket's full key when the API answers the ticket (as the sandbox's
        does: the 201's body), else None (then read by partition key, one Query each)."""
        try:
            ticket = json.loads(answer)
        except ValueError:
            return None
        if not isinstance(ticket, dict) or not self.key_names:
            return None
        key: dict[str, dict[str, str]] = {}
        for name in self.key_names:
            value, kind = ticket.get(name), self.key_types.get(name, "S")
            if value is None or isinstance(value, (dict, list)) or kind not in ("S", "N"):
                return None
            key[name] = {kind: str(value)}
        return key

    # -- the lag poller (replication to replica_region) ----------------------------------
    def warm(self, region: str) -> None:
        """One cheap call (DescribeTable) on the measurement client of ``region`` before
        the first poll; a failure is only logged: the lag will show it."""
        try:
            self.client(region, probe=True).describe_table(TableName=self.table)
        except Exception as error:  # noqa: BLE001 - measured by the markers, not here
            logger.warning("markers: warm-up call in %s failed: %s", region, error)

    def present_in(
        self, region: str, run_id: str, seqs: list[int], timeout: float | None = None
    ) -> set[int]:
        """The markers of ``seqs`` stored in ``region``: by the key the API answered
        (BatchGetItem, 100 at a time, strongly consistent in that replica), else by a
        Query on the partition key. ``timeout`` is the poller's (unused: the client's
        own timeouts bound each call)."""
        if not self.hash_key:
            self.prepare()
        client = self.client(region, probe=timeout is not None)
        with self._stored_lock:
            known = {seq: self._stored[seq] for seq in seqs if seq in self._stored}
        seq_of = {key[self.hash_key].get("S", ""): seq for seq, key in known.items()}
        items = batch_get(client, self.table, list(known.values()), "#id", {"#id": self.hash_key})
        ids = [item[self.hash_key].get("S", "") for item in items]
        found = {seq_of[i] for i in ids if i in seq_of}
        unknown = [seq for seq in seqs if seq not in known]
        if unknown:
            there = self._each(
                lambda s: bool(self._stored_keys(client, marker_ticket_id(run_id, s))), unknown
            )
            found |= {seq for seq, yes in zip(unknown, there, strict=True) if yes}
        return found

    # -- after recovery ----------------------------------------------------------------
    def _stored_keys(self, client: Any, ticket_id: str) -> list[dict[str, Any]]:
        """The keys of every item stored under ``ticket_id`` (strongly consistent)."""
        keys: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#id = :id",
            "ExpressionAttributeNames": {
                "#id": self.hash_key,
                **{f"#k{n}": name for n, name in enumerate(self.key_names)},
            },
            "ExpressionAttributeValues": {":id": {"S": ticket_id}},
            "ProjectionExpression": ", ".join(f"#k{n}" for n in range(len(self.key_names))),
            "ConsistentRead": True,
        }
        for _ in range(10):  # a ticket has one item; bounded pages all the same
            page = client.query(**request)
            keys += page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return keys

    def _read_through_api(self, ticket_id: str) -> bool:
        assert self.reader is not None
        path = f"{self.reader.path.rstrip('/')}/{quote(ticket_id, safe='')}"
        status, _ = self.reader.request("GET", path, None, READ_TIMEOUT_S)
        if status == 200:
            return True
        if status == 404:
            return False
        raise TicketNotAcknowledged(f"reading {ticket_id} back: HTTP {status}")

    def _each(self, function: Any, items: list[Any]) -> list[Any]:
        with ThreadPoolExecutor(READ_WORKERS, thread_name_prefix="ticket-markers") as pool:
            return list(pool.map(function, items))

    def present(self, run_id: str, seqs: list[int]) -> set[int]:
        if not seqs:
            return set()
        if not self.hash_key and self.reader is None:
            self.prepare()
        if self.reader is not None:
            found = self._each(lambda s: self._read_through_api(marker_ticket_id(run_id, s)), seqs)
        else:
            client = self.client(self.read_region)
            found = self._each(
                lambda s: bool(self._stored_keys(client, marker_ticket_id(run_id, s))), seqs
            )
        return {seq for seq, there in zip(seqs, found, strict=True) if there}

    def cleanup(self, run_id: str, seqs: list[int]) -> int:
        """Delete every marker of ``seqs`` (acknowledged or not); the count deleted in
        ``region``. Idempotent."""
        if not self.hash_key:
            self.prepare()
        deleted = 0
        regions = (self.region, self.replica_region, self.read_region)
        for region in dict.fromkeys(r for r in regions if r):
            client = self.client(region)

            def delete(seq: int, client: Any = client) -> int:
                with self._stored_lock:
                    known = self._stored.get(seq)
                if known is not None:  # the key the API answered: no Query needed
                    old = client.delete_item(
                        TableName=self.table, Key=known, ReturnValues="ALL_OLD"
                    )
                    return 1 if old.get("Attributes") else 0
                keys = self._stored_keys(client, marker_ticket_id(run_id, seq))
                for key in keys:
                    client.delete_item(TableName=self.table, Key=key)
                return len(keys)

            counts = self._each(delete, seqs)
            deleted += sum(counts) if region == self.region else 0
        return deleted
