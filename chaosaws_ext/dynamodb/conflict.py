"""What the replica write-conflict fault writes and how its outcome is judged.

Holds the item keys namespaced by run id, the table's facts (the plan is in
:mod:`.planning`), the simultaneous writers (one thread per region, released together by a
barrier), the in-process record of the last batch (read by the convergence probe) and
the pure analysis of what converged, who won and which acknowledged writes were lost.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.dynamodb import FAULT

__all__ = [
    "FAULT",
    "RUN_ID_ATTRIBUTE",
    "KeySchema",
    "Write",
    "ConflictBatch",
    "TableFacts",
    "describe_global_table",
    "run_writers",
    "remember_batch",
    "last_batch",
    "analyse_key",
    "MAX_KEYS",
    "MAX_WRITES_PER_REGION",
]

logger = logging.getLogger("chaosaws_ext")

KEY_PREFIX = "chaos-"
RUN_ID_ATTRIBUTE = "chaos_run_id"
WRITER_ATTRIBUTE = "chaos_writer_region"
SEQ_ATTRIBUTE = "chaos_seq"
CLIENT_TS_ATTRIBUTE = "chaos_client_ts"
MAX_KEYS = 25
MAX_WRITES_PER_REGION = 1000
CONFLICT_ERROR = "ReplicatedWriteConflictException"
# DescribeGlobalTable "only applies to Version 2017.11.29 (Legacy)... If you are using
# global tables Version 2019.11.21 you can use DescribeTable instead" (boto3
# DynamoDB.Client.describe_global_table); legacy replicas are not in DescribeTable.Replicas.
LEGACY_GLOBAL_TABLE_VERSION = "2017.11.29"
ALL_REGIONS = "all"  # regions: all writes from every active replica
WRITE_ATTEMPTS = 4
UNDO_CONFLICT_WAIT_S = 15.0  # MRSC: an undo delete meeting in-flight writes is retried
UNDO_CONFLICT_ATTEMPTS = 12
# Refusals that end the burst at once (the inject fails naming the missing permission).
DENIED_ERRORS = frozenset({"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"})
TRANSIENT_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
BARRIER_TIMEOUT = 10.0  # every writer is ready within milliseconds of the others


@dataclass(frozen=True)
class KeySchema:
    hash_name: str
    hash_type: str
    range_name: str | None = None
    range_type: str | None = None

    @classmethod
    def from_description(cls, table: dict[str, Any]) -> KeySchema:
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        hash_name = range_name = None
        for element in table["KeySchema"]:
            if element["KeyType"] == "HASH":
                hash_name = element["AttributeName"]
            else:
                range_name = element["AttributeName"]
        assert hash_name is not None
        return cls(
            hash_name, types[hash_name], range_name, types[range_name] if range_name else None
        )

    def problem(self) -> str | None:
        """Why our items cannot be namespaced in this table, or None."""
        if self.hash_type != "S":
            return (
                f"partition key {self.hash_name} is of type {self.hash_type}; only string (S) "
                "partition keys can carry the chaos-<run id>- prefix"
            )
        if self.range_type not in (None, "S", "N"):
            return f"sort key {self.range_name} is binary; only S or N sort keys are supported"
        return None

    def item_key(self, run_id: str, index: int) -> dict[str, Any]:
        """The DynamoDB-JSON key of our ``index``-th item (JSON-safe, for the ledger)."""
        key: dict[str, Any] = {self.hash_name: {"S": f"{KEY_PREFIX}{run_id}-{index}"}}
        if self.range_name:
            key[self.range_name] = (
                {"S": f"{KEY_PREFIX}conflict"} if self.range_type == "S" else {"N": "0"}
            )
        return key

    def label(self, key: dict[str, Any]) -> str:
        return next(iter(key[self.hash_name].values()))


@dataclass
class TableFacts:
    """What DescribeTable says about the global table, from one region."""

    name: str
    region: str
    arn: str
    schema: KeySchema
    replica_regions: list[str]  # including ``region``, ACTIVE only
    inactive: list[str]
    strong: bool  # multi-region strong consistency (MRSC)
    tags: dict[str, str]
    version: str | None = None  # GlobalTableVersion: 2019.11.21, 2017.11.29 (legacy) or None


@dataclass
class Write:
    region: str
    key: int  # index into ConflictBatch.keys
    seq: int
    client_ts: float  # wall clock, stored in the item
    sent: float  # monotonic, just before the call
    acked: float | None = None  # monotonic, when the call returned OK
    error: str | None = None  # error code when it failed


@dataclass
class ConflictBatch:
    run_id: str
    table: str
    regions: list[str]
    schema: KeySchema
    keys: list[dict[str, Any]]
    strong: bool
    writes: list[Write] = field(default_factory=list)
    t0: float | None = None  # monotonic, stamp_injected
    burst_s: float = 0.0


_lock = threading.Lock()
_batches: dict[str, ConflictBatch] = {}


def remember_batch(batch: ConflictBatch) -> None:
    with _lock:
        _batches[batch.run_id] = batch


def last_batch(run_id: str) -> ConflictBatch | None:
    with _lock:
        return _batches.get(run_id)


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    return type(error).__name__


def describe_global_table(
    table_name: str, region: str, configuration: Configuration, secrets: Secrets
) -> TableFacts:
    """Read-only: the table's key schema, replica regions and tags, or ActivityFailed."""
    client = aws_client("dynamodb", configuration, secrets, region=region)
    try:
        table = client.describe_table(TableName=table_name)["Table"]
    except ClientError as error:
        if _error_code(error) == "ResourceNotFoundException":
            raise ActivityFailed(
                f"refusing {FAULT}: table {table_name} not found in {region}"
            ) from error
        raise ActivityFailed(
            f"cannot describe table {table_name} in {region}: {_error_code(error)}"
        ) from error
    active, inactive = [region], []
    for replica in table.get("Replicas") or []:
        name = replica["RegionName"]
        if name == region:
            continue
        (active if replica.get("ReplicaStatus") == "ACTIVE" else inactive).append(name)
    if table.get("GlobalTableVersion") == LEGACY_GLOBAL_TABLE_VERSION:
        logger.warning(
            "table %s is a legacy global table (2017.11.29): DescribeTable lists none of its "
            "replicas; legacy global tables are not supported, upgrade to 2019.11.21",
            table_name,
        )
    tags = table_tags(table["TableArn"], region, configuration, secrets)
    return TableFacts(
        name=table_name,
        region=region,
        arn=table["TableArn"],
        schema=KeySchema.from_description(table),
        replica_regions=sorted(set(active)),
        inactive=sorted(inactive),
        strong=table.get("MultiRegionConsistency") == "STRONG",
        tags=tags,
        version=table.get("GlobalTableVersion"),
    )


def table_tags(
    arn: str, region: str, configuration: Configuration, secrets: Secrets
) -> dict[str, str]:
    """Read-only: a table's (or replica's) tags; empty, with a warning, when unreadable."""
    client = aws_client("dynamodb", configuration, secrets, region=region)
    try:
        listed = client.list_tags_of_resource(ResourceArn=arn)
    except ClientError as error:
        logger.warning("cannot list tags of %s: %s", arn, _error_code(error))
        return {}
    return {t["Key"]: t["Value"] for t in listed.get("Tags", [])}


def _item(batch: ConflictBatch, write: Write) -> dict[str, Any]:
    item = dict(batch.keys[write.key])
    item[RUN_ID_ATTRIBUTE] = {"S": batch.run_id}
    item[WRITER_ATTRIBUTE] = {"S": write.region}
    item[SEQ_ATTRIBUTE] = {"N": str(write.seq)}
    item[CLIENT_TS_ATTRIBUTE] = {"N": f"{write.client_ts:.6f}"}
    item["chaos_fault"] = {"S": FAULT}
    return item


def run_writers(
    batch: ConflictBatch,
    region: str,
    per_region: int,
    barrier: threading.Barrier,
    deadline: float,
    configuration: Configuration,
    secrets: Secrets,
) -> list[Write]:
    """One region's writes: wait for the barrier, then ``per_region`` rounds over the keys.

    Runs in its own thread; a failed write is recorded, except a refused permission
    (DENIED_ERRORS), which raises: the inject fails naming it.
    """
    # No SDK retries: botocore retries ReplicatedWriteConflictException, which would hide
    # the very conflict MRSC reports. Throttling and 5xx are retried here, bounded.
    client = aws_client("dynamodb", configuration, secrets, region=region, config=NO_RETRIES)
    done: list[Write] = []
    barrier.wait(max(0.0, min(BARRIER_TIMEOUT, deadline - time.monotonic())))
    for seq in range(1, per_region + 1):
        for index in range(len(batch.keys)):
            if time.monotonic() >= deadline:
                logger.warning("%s: write deadline reached in %s at seq %s", FAULT, region, seq)
                return done
            write = Write(region=region, key=index, seq=seq, client_ts=0.0, sent=0.0)
            write.client_ts = time.time()
            write.sent = time.monotonic()
            _put(client, batch, write, deadline)
            done.append(write)
    return done


def _put(client: Any, batch: ConflictBatch, write: Write, deadline: float) -> None:
    """One write; transient errors retried (bounded, exponential back-off), not conflicts."""
    item = _item(batch, write)
    for attempt in range(WRITE_ATTEMPTS):
        try:
            client.put_item(TableName=batch.table, Item=item)
            write.acked = time.monotonic()
            write.error = None
            return
        except (ClientError, BotoCoreError) as error:
            write.error = _error_code(error)
            if write.error in DENIED_ERRORS:
                raise  # no permission: every other write would fail the same way
            transient = isinstance(error, BotoCoreError) or write.error in TRANSIENT_ERRORS
            backoff = 0.05 * 2**attempt
            if not transient or time.monotonic() + backoff >= deadline:
                return
            time.sleep(backoff)


def analyse_key(
    batch: ConflictBatch,
    index: int,
    final: tuple[str, int] | None,
    converged_at: float | None,
    seen: list[list[Any]],
) -> dict[str, Any]:
    """Judge one key: the winner, whether it is the last writer, what was lost.

    ``final`` is the (writer region, seq) every region holds at convergence. A write is
    *silently lost* when it was acknowledged, was its region's last acknowledged write
    to the key (so nothing of that region superseded it) and is not the final value:
    a concurrent write from another region overwrote it. All writes of a batch are
    concurrent by construction (one burst from every region, released by one barrier).
    """
    writes = [w for w in batch.writes if w.key == index]
    acked = [w for w in writes if w.acked is not None]
    last_by_region: dict[str, Write] = {}
    for write in acked:
        if write.region not in last_by_region or write.seq > last_by_region[write.region].seq:
            last_by_region[write.region] = write
    winner = next(
        (w for w in acked if final is not None and (w.region, w.seq) == tuple(final)), None
    )
    last = max(acked, key=lambda w: w.client_ts, default=None)
    report: dict[str, Any] = {
        "key": batch.schema.label(batch.keys[index]),
        "writes": len(writes),
        "acknowledged": len(acked),
        "conflicts": sum(1 for w in writes if w.error == CONFLICT_ERROR),
        "converged": converged_at is not None,
        "converged_after_s": None if converged_at is None else round(converged_at, 3),
        "winner": None if winner is None else [winner.region, winner.seq],
        "last_writer": None if last is None else [last.region, last.seq],
        "winner_is_last_writer": winner is not None and winner is last,
        # certainly superseded: another acknowledged write was sent after the winner acked
        "lww_consistent": winner is not None
        and not any(w.sent > (winner.acked or 0) for w in acked if w is not winner),
        # the winner's [sent, acked] overlaps the last writer's: client time cannot order them
        "order_ambiguous": winner is not None
        and last is not None
        and winner is not last
        and winner.sent < (last.acked or 0)
        and last.sent < (winner.acked or 0),
        "seen": seen,
    }
    if batch.strong:
        report["lost"] = None  # MRSC rejects the concurrent write instead of losing one
        report["lost_writes"] = []
    else:
        lost = [
            [w.region, w.seq]
            for w in last_by_region.values()
            if final is None or (w.region, w.seq) != tuple(final)
        ]
        report["lost"] = len(lost) if final is not None else None
        report["lost_writes"] = sorted(lost)
    return report
