"""The data-plane checks a sampler runs, one per ``kind``; each is a callable
``check(timeout) -> detail`` that raises on failure, with its arguments checked at
construction (:class:`SpecError`) without touching the target.

Kinds: ``http`` (URL, expected status/body; ``requests_per_sample`` N > 1: N requests
at once make one sample, failed if any fails, so each sample covers a round of a load
balancer's rotation over N backends and a partial outage is seen by every sample),
``http_dns`` (the URL's host resolved
against a chosen nameserver, answer cached for its TTL like a client would, Host header
and SNI kept), ``tcp`` (connect), ``postgres`` (connect + query with connect and
statement timeouts, psycopg 3), ``dynamodb`` (GetItem or PutItem; its client's
connect/read timeouts are configuration ``aws_probe_client_timeout``, default 2 s, never
below 1 s, and its connection is warmed by one DescribeTable before the first tick: the
per-sample deadline stays the sampler's, see chaosaws_ext.core.clients), ``s3``
(HeadBucket of ``bucket`` in ``region``, the same client rules: the bucket answers).
"""

from __future__ import annotations

import http.client
import ipaddress
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, probe_client_config
from chaosaws_ext.core.timeline import wall_now

__all__ = [
    "CheckFailed",
    "Check",
    "HttpCheck",
    "RoundCheck",
    "DnsHttpCheck",
    "TcpCheck",
    "PostgresCheck",
    "DynamoDbCheck",
    "S3BucketCheck",
    "SpecError",
    "SniHTTPSConnection",
    "build_check",
    "parse_nameserver",
    "error_class",
    "SAMPLER_KINDS",
]

SAMPLER_KINDS = ("http", "http_dns", "tcp", "postgres", "dynamodb", "s3")
Check = Callable[[float], str | None]  # check(timeout) -> detail; raises on failure


class SpecError(ValueError):
    """A sampler or marker spec is wrong (message names the key)."""


class CheckFailed(Exception):
    """A check saw the target answer wrongly; ``kind`` is the error class."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message or kind)
        self.kind = kind


def error_class(error: BaseException) -> str:
    """A short, stable class for a failure: timeout, refused, reset, dns, status, ..."""
    if isinstance(error, CheckFailed):
        return error.kind
    if isinstance(error, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected):
        return "reset"
    if isinstance(error, socket.gaierror):
        return "dns"
    if isinstance(error, ssl.SSLError):
        return "tls"
    name = type(error).__name__
    text = str(error).lower()
    if "timeout" in text or "timed out" in text:
        return "timeout"
    if "refused" in text:
        return "refused"
    return name


class SniHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address while presenting (and verifying) another name."""

    def __init__(self, address: str, port: int, server_name: str, **kwargs: Any) -> None:
        super().__init__(address, port, **kwargs)
        self._server_name = server_name

    def connect(self) -> None:  # pragma: no cover - exercised against real TLS only
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)


class HttpCheck:
    """GET a URL on a fresh connection; ok when status and body match."""

    def __init__(
        self,
        url: str,
        expect_status: list[int] | None = None,
        expect_body: str | None = None,
        verify_tls: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SpecError(f"url must be http(s)://host[:port]/path, got {url!r}")
        self.url = url
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.expect_status = list(expect_status or [200])
        self.expect_body = expect_body
        self.headers = dict(headers or {})
        self.context = ssl.create_default_context()
        if not verify_tls:
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE

    def request(self, timeout: float, address: str | None = None) -> str | None:
        host_header = self.host if self.port in (80, 443) else f"{self.host}:{self.port}"
        if self.https:
            conn: http.client.HTTPConnection = SniHTTPSConnection(
                address or self.host, self.port, self.host, timeout=timeout, context=self.context
            )
        else:
            conn = http.client.HTTPConnection(address or self.host, self.port, timeout=timeout)
        try:
            conn.request(
                "GET",
                self.path,
                headers={"Host": host_header, "Connection": "close", **self.headers},
            )
            response = conn.getresponse()
            body = response.read(65536)
        finally:
            conn.close()
        if response.status not in self.expect_status:
            raise CheckFailed("status", f"HTTP {response.status}")
        if self.expect_body is not None and self.expect_body not in body.decode("utf-8", "replace"):
            raise CheckFailed("body", "expected text not in the body")
        return address

    def __call__(self, timeout: float) -> str | None:
        return self.request(timeout)


ADDRESS_TTL_S = 86400  # an address in a URL never changes: keep it as long as a client would


def resolve_a(
    host: str, nameserver: tuple[str, int] | None, timeout: float
) -> tuple[list[str], int]:
    """The A records of ``host`` in the answer's order and the answer's TTL, asked of
    ``nameserver`` (None: the system's resolvers), never from a cache: each caller keeps
    the answer for its TTL, as a client's resolver would. An address is its own answer
    (a client asks no DNS for it; kept a day). dnspython's errors pass."""
    try:
        return [str(ipaddress.ip_address(host))], ADDRESS_TTL_S
    except ValueError:
        pass
    import dns.resolver

    if nameserver is None:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [nameserver[0]]
        resolver.port = nameserver[1]
    resolver.cache = None
    answer = resolver.resolve(host, "A", lifetime=timeout, search=False)
    ttl = answer.rrset.ttl if answer.rrset is not None else 0
    return [str(record) for record in answer], ttl


def parse_nameserver(nameserver: str | None, key: str = "nameserver") -> tuple[str, int] | None:
    """``ip`` or ``ip:port`` (``[v6]:port``) as (ip, port); None for empty (the system's
    resolvers); :class:`SpecError` naming ``key`` otherwise."""
    if not nameserver:
        return None
    host, port = nameserver, "53"
    if nameserver.count(":") == 1 or nameserver.startswith("["):
        host, _, port = nameserver.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise SpecError(f"{key} must be 'ip' or 'ip:port', got {nameserver!r}") from None
    if not port.isdigit():
        raise SpecError(f"{key} must be 'ip' or 'ip:port', got {nameserver!r}")
    return host, int(port)


class DnsHttpCheck:
    """HTTP(S) through a DNS name resolved against one nameserver, honouring the TTL.

    The A answer is cached until its TTL expires, as a client resolver would; that is
    how a Route 53 failover is seen by clients. ``detail`` is the address used.
    """

    def __init__(self, url: str, nameserver: str | None, **http: Any) -> None:
        self.http = HttpCheck(url, **http)
        self.nameserver: str | None = None  # None: the system's resolvers
        self.ns_port = 53
        parsed = parse_nameserver(nameserver)
        if parsed is not None:
            self.nameserver, self.ns_port = parsed
        self._lock = threading.Lock()
        self._cached: tuple[str, float] | None = None  # (address, expires monotonic)

    def resolve(self, timeout: float) -> str:
        now = time.monotonic()
        with self._lock:
            if self._cached and now < self._cached[1]:
                return self._cached[0]
        import dns.exception

        server = None if self.nameserver is None else (self.nameserver, self.ns_port)
        try:
            addresses, ttl = resolve_a(self.http.host, server, timeout)
        except dns.exception.Timeout as error:
            raise CheckFailed("dns_timeout", str(error)) from error
        except dns.exception.DNSException as error:
            raise CheckFailed("dns", str(error)) from error
        address = addresses[0]
        with self._lock:
            self._cached = (address, now + ttl)
        return address

    def __call__(self, timeout: float) -> str | None:
        start = time.monotonic()
        address = self.resolve(timeout)
        remaining = max(0.001, timeout - (time.monotonic() - start))
        try:
            return self.http.request(remaining, address)
        except Exception as error:  # keep the class, add the address used
            raise CheckFailed(error_class(error), f"{error} via {address}") from error


class RoundCheck:
    """``count`` requests of one check at once, within the sample's timeout: they take
    consecutive places in a load balancer's round robin, so they cover one round over
    ``count`` backends in the time of one request; fails when any request does (the
    sample then stands for "every backend serves")."""

    MAX = 16

    def __init__(self, check: Check, count: int) -> None:
        self.check, self.count = check, count

    def __call__(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        errors: list[BaseException | None] = [None] * self.count

        def one(index: int) -> None:
            try:
                self.check(max(0.001, deadline - time.monotonic()))
            except Exception as error:  # noqa: BLE001 - re-raised by the caller below
                errors[index] = error

        others = [
            threading.Thread(target=one, args=(i,), name="round-check", daemon=True)
            for i in range(1, self.count)
        ]
        for thread in others:
            thread.start()
        one(0)
        for thread in others:  # each request has its own socket timeout: they end
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in others):
            raise CheckFailed("timeout", f"a request of the round of {self.count} timed out")
        for error in errors:
            if error is not None:
                raise error
        return None


def _requests_per_sample(spec: dict[str, Any]) -> int:
    value = spec.get("requests_per_sample")
    if value in (None, ""):
        return 1
    try:
        count = int(value)  # env substitution gives strings
    except (TypeError, ValueError):
        count = 0
    if isinstance(value, float) and not value.is_integer():
        count = 0
    if not 1 <= count <= RoundCheck.MAX:
        raise SpecError(
            f"requests_per_sample must be an integer between 1 and {RoundCheck.MAX}, got {value!r}"
        )
    return count


class TcpCheck:
    def __init__(self, host: str, port: int) -> None:
        if not host or not isinstance(port, int) or not 0 < port < 65536:
            raise SpecError(f"tcp needs host and a port 1-65535, got {host!r}:{port!r}")
        self.host, self.port = host, port

    def __call__(self, timeout: float) -> str | None:
        with socket.create_connection((self.host, self.port), timeout=timeout):
            return None


class PostgresCheck:
    """Connect and run one query on a fresh connection (connect and statement timeouts)."""

    def __init__(self, dsn: str, query: str = "SELECT 1") -> None:
        if not dsn:
            raise SpecError("postgres needs a dsn")
        self.dsn, self.query = dsn, query

    def __call__(self, timeout: float) -> str | None:
        import psycopg

        statement_ms = max(1, int(timeout * 1000))
        with psycopg.connect(
            self.dsn,
            connect_timeout=max(2, math.ceil(timeout)),  # libpq's minimum is 2 s
            autocommit=True,
            options=f"-c statement_timeout={statement_ms}",
        ) as conn:
            conn.execute(self.query).fetchone()
        return None


class DynamoDbCheck:
    """GetItem (or PutItem) on one key, no retries; the client's timeouts are the floored
    probe timeouts (chaosaws_ext.core.clients.probe_client_config), the deadline the Sampler's.

    Without ``key``, the table's key schema is read once (DescribeTable) and the item
    ``gameday-health`` (string keys; 0 for a number sort key) is used: a GetItem of a
    missing item succeeds, which is all a data-plane check needs.
    """

    def __init__(
        self,
        table: str,
        key: dict[str, Any] | None = None,
        operation: str = "get",
        region: str | None = None,
        configuration: Configuration | None = None,
        secrets: Secrets | None = None,
    ) -> None:
        if not table:
            raise SpecError("dynamodb needs table")
        if key is not None and (not isinstance(key, dict) or not key):
            raise SpecError("dynamodb key must be a mapping of key attributes (or omitted)")
        if operation not in ("get", "put"):
            raise SpecError(f"dynamodb operation must be 'get' or 'put', got {operation!r}")
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        self.table, self.operation, self.region = table, operation, region
        self.key: dict[str, Any] | None = None
        if key is not None:
            self.key = {name: serializer.serialize(value) for name, value in key.items()}
        self.configuration, self.secrets = configuration, secrets
        self._probe_client: Any = None
        self._lock = threading.Lock()

    def _client(self) -> Any:
        """One client for every tick (so the warmed connection is reused), with the
        floored probe timeouts: the tick's deadline is the Sampler's, not botocore's."""
        with self._lock:
            if self._probe_client is None:
                self._probe_client = aws_client(
                    "dynamodb",
                    self.configuration,
                    self.secrets,
                    region=self.region,
                    config=probe_client_config(self.configuration),
                )
            return self._probe_client

    def warm(self) -> None:
        """One cheap call before t0 (DescribeTable; it also yields the default key) so
        the first samples do not pay for the TLS handshake."""
        client = self._client()
        if self.key is None:
            self._item_key(client)
        else:
            client.describe_table(TableName=self.table)

    def _item_key(self, client: Any) -> dict[str, Any]:
        if self.key is None:
            table = client.describe_table(TableName=self.table)["Table"]
            types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
            self.key = {
                k["AttributeName"]: (
                    {"N": "0"} if types.get(k["AttributeName"]) == "N" else {"S": "gameday-health"}
                )
                for k in table["KeySchema"]
            }
        return self.key

    def __call__(self, timeout: float) -> str | None:
        client = self._client()
        key = self._item_key(client)
        if self.operation == "get":
            client.get_item(TableName=self.table, Key=key)
        else:
            item = dict(key)
            item["gameday_probe_at"] = {"S": wall_now()}
            client.put_item(TableName=self.table, Item=item)
        return None


class S3BucketCheck:
    """HeadBucket of one bucket, no retries, on the measurement client (floored probe
    timeouts, warmed by the same call before t0)."""

    def __init__(
        self,
        bucket: str,
        region: str | None = None,
        configuration: Configuration | None = None,
        secrets: Secrets | None = None,
    ) -> None:
        if not bucket:
            raise SpecError("s3 needs bucket")
        self.bucket, self.region = bucket, region
        self.configuration, self.secrets = configuration, secrets
        self._probe_client: Any = None
        self._lock = threading.Lock()

    def _client(self) -> Any:
        with self._lock:
            if self._probe_client is None:
                self._probe_client = aws_client(
                    "s3",
                    self.configuration,
                    self.secrets,
                    region=self.region,
                    config=probe_client_config(self.configuration),
                )
            return self._probe_client

    def warm(self) -> None:
        self._client().head_bucket(Bucket=self.bucket)

    def __call__(self, timeout: float) -> str | None:
        self._client().head_bucket(Bucket=self.bucket)
        return None


def build_check(
    spec: dict[str, Any],
    configuration: Configuration | None = None,
    secrets: Secrets | None = None,
) -> Check:
    """A check from one sampler spec (see the control's argument schema)."""
    kind = spec.get("kind")
    if kind not in SAMPLER_KINDS:
        raise SpecError(f"kind must be one of {', '.join(SAMPLER_KINDS)}, got {kind!r}")
    http_args = {
        "expect_status": spec.get("expect_status"),
        "expect_body": spec.get("expect_body"),
        "verify_tls": bool(spec.get("verify_tls", True)),
        "headers": spec.get("headers"),
    }
    if kind in ("http", "http_dns"):
        if not isinstance(spec.get("url"), str):
            raise SpecError(f"{kind} needs url")
        status = http_args["expect_status"]
        if status is not None:
            if isinstance(status, int):
                http_args["expect_status"] = [status]
            elif not (isinstance(status, list) and all(isinstance(s, int) for s in status)):
                raise SpecError("expect_status must be an int or a list of ints")
        if kind == "http":
            count = _requests_per_sample(spec)
            check = HttpCheck(spec["url"], **http_args)
            return check if count == 1 else RoundCheck(check, count)
        nameserver = spec.get("nameserver")
        if nameserver is not None and not isinstance(nameserver, str):
            raise SpecError("http_dns nameserver must be 'ip', 'ip:port' or empty (system)")
        return DnsHttpCheck(spec["url"], nameserver, **http_args)
    if kind == "tcp":
        port = spec.get("port")
        try:
            port = int(port)  # env substitution gives strings
        except (TypeError, ValueError):
            raise SpecError(f"tcp port must be an integer, got {port!r}") from None
        return TcpCheck(str(spec.get("host") or ""), port)
    if kind == "postgres":
        return PostgresCheck(str(spec.get("dsn") or ""), str(spec.get("query") or "SELECT 1"))
    if kind == "s3":
        return S3BucketCheck(
            str(spec.get("bucket") or ""), spec.get("region"), configuration, secrets
        )
    return DynamoDbCheck(
        str(spec.get("table") or ""),
        spec.get("key"),
        str(spec.get("operation") or "get"),
        spec.get("region"),
        configuration,
        secrets,
    )
