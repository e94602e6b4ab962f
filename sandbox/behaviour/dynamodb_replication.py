"""DynamoDB global tables (multi-region eventual consistency) added to moto.

moto 5.2.5 ignores ``UpdateTable(ReplicaUpdates=...)`` and replicates nothing between
regions. :class:`GlobalTableReplicator` patches moto's DynamoDB classes in THIS process
(the one running ``ThreadedMotoServer`` or ``mock_aws``) so that:

- ``UpdateTable(ReplicaUpdates=[{"Create": {"RegionName": r}}])`` creates the replica
  table in ``r`` (same key schema, attributes, indexes and billing mode; streams on with
  ``NEW_AND_OLD_IMAGES``) and backfills the existing items; ``{"Delete": ...}`` removes
  it. ``MultiRegionConsistency="STRONG"`` on the same call selects MRSC (below).
- ``DescribeTable`` in any member region reports ``Replicas`` (the OTHER regions of the
  global table, ``ReplicaStatus`` ``ACTIVE``) and ``MultiRegionConsistency``.
- Every write to a member (PutItem, UpdateItem, DeleteItem, and what goes through them:
  batch writes, transactions, PartiQL) is taken from the table's change stream as its
  record is appended and applied to every other member ``lag`` seconds after it was
  accepted. AWS: replication is "typically within a second" and concurrent updates are
  resolved by "last writer wins" (Amazon DynamoDB Developer Guide, Global tables: how
  they work / consistency and conflict resolution). Default lag: 0.5 s.
- Conflicts: every write is stamped with the wall time at which its region accepted it
  (strictly increasing in this process). A replicated write is applied only if it is
  newer than what the target holds for that key (deletes leave a tombstone version), so
  all regions converge on the last accepted write whatever the delivery order.
- Replicated writes appear in the target's stream (as in AWS) but are never replicated
  again (no ping-pong).
- MRSC (``mode="STRONG"``): writes are applied to every member synchronously, and a
  write to an item that another region wrote less than ``conflict_window_seconds`` ago
  fails with ``ReplicatedWriteConflictException`` (the cheap model of two writes in
  flight at once; the window stands for the synchronous cross-region round trip, an
  assumption of ours: AWS publishes no figure).

Writes, scans, queries and reads of tables are serialised by one lock while the
replicator is installed so that a replicated write can never interleave with a local
one. One worker thread delivers due events from a bounded heap; it waits on a condition
(woken by new events and by :meth:`stop`), never sleeps blindly.

Use it::

    replicator = GlobalTableReplicator(lag_seconds=0.5).start()  # install() + thread
    replicator.make_global("orders", ["eu-south-1", "eu-west-1"])
    ...
    replicator.drain(timeout=5)  # wait until nothing is pending
    replicator.stop()            # joins the thread, restores moto's methods

This module is "AWS": it imports nothing from chaosaws_ext, probes or gameday.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    DynamodbException,
    MockValidationException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.responses import DynamoHandler

__all__ = [
    "GlobalTableReplicator",
    "ReplicatedWriteConflict",
    "make_global",
    "active_replicator",
    "DEFAULT_LAG_SECONDS",
]

logger = logging.getLogger("sandbox.dynamodb_replication")

# "Changes are typically replicated within a second" (DynamoDB Developer Guide, global
# tables, multi-region eventual consistency): half a second is our typical lag.
DEFAULT_LAG_SECONDS = 0.5
DEFAULT_MAX_PENDING = 10_000
DEFAULT_CONFLICT_WINDOW_SECONDS = 0.1
STREAM_SPEC = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


class ReplicatedWriteConflict(DynamodbException):
    """MRSC: a concurrent write to the same item from another region."""

    error_type = ERROR_TYPE_PREFIX + "ReplicatedWriteConflictException"

    def __init__(self, message: str):
        super().__init__(ReplicatedWriteConflict.error_type, message=message)


Version = tuple[float, str]  # (accepted at, origin region); compared as a tuple
_NO_VERSION: Version = (0.0, "")


@dataclass
class _GlobalTable:
    account_id: str
    name: str
    members: dict[str, Table] = field(default_factory=dict)  # region -> moto table object
    mode: str = "EVENTUAL"
    versions: dict[tuple[str, str], Version] = field(default_factory=dict)  # (region, key)

    def live_members(self) -> dict[str, Table]:
        """Members whose table still exists (a moto reset or DeleteTable drops them)."""
        live = {}
        for region, table in self.members.items():
            if _backend(self.account_id, region).tables.get(self.name) is table:
                live[region] = table
        return live


@dataclass(order=True)
class _Event:
    due: float  # time.monotonic() when it is delivered
    order: int
    group: _GlobalTable = field(compare=False)
    origin: str = field(compare=False)
    version: Version = field(compare=False)
    key_id: str = field(compare=False)
    keys: dict[str, Any] = field(compare=False)  # DynamoDB-JSON key attributes
    image: dict[str, Any] | None = field(compare=False)  # None = delete


def _backend(account_id: str, region: str) -> DynamoDBBackend:
    return get_backend("dynamodb")[account_id][region]


def _key_id(keys: dict[str, Any]) -> str:
    return json.dumps(keys, sort_keys=True)


# --- class-level patches, shared by whichever replicator is active -----------------

_lock = threading.RLock()  # serialises table reads/writes while installed
_local = threading.local()  # .replicating, .depth, .pending
_active: GlobalTableReplicator | None = None
_originals: dict[tuple[type, str], Any] = {}


def active_replicator() -> GlobalTableReplicator | None:
    """The installed replicator of this process, if any."""
    return _active


def _serialised(original: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            with _lock:
                replicator = _active
                if replicator is not None and wrapper.write:  # type: ignore[attr-defined]
                    replicator._before_local_write(args, kwargs)
                return original(*args, **kwargs)
        finally:
            _local.depth -= 1
            if _local.depth == 0:
                pending, _local.pending = getattr(_local, "pending", []), []
                replicator = _active
                if replicator is not None:
                    for event in pending:
                        replicator._enqueue(event)

    wrapper.write = False  # type: ignore[attr-defined]
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


def _transaction(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto rolls a failed transaction back by swapping in deep copies of the tables:
    drop the replication events of the rolled-back writes and follow the new objects."""

    def transact_write_items(backend: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        _local.depth = getattr(_local, "depth", 0) + 1
        _local.pending = getattr(_local, "pending", [])
        queued = len(_local.pending)
        try:
            with _lock:
                replicator = _active
                versions = replicator._versions_of(backend) if replicator else {}
                try:
                    return original(backend, *args, **kwargs)
                except Exception:
                    if replicator is not None:
                        del _local.pending[queued:]
                        replicator._rolled_back(backend, versions)
                    raise
        finally:
            _local.depth -= 1
            if _local.depth == 0:
                pending, _local.pending = _local.pending, []
                replicator = _active
                if replicator is not None:
                    for event in pending:
                        replicator._enqueue(event)

    transact_write_items.__wrapped__ = original  # type: ignore[attr-defined]
    return transact_write_items


def _stream_add(original: Callable[..., Any]) -> Callable[..., Any]:
    def add(shard: StreamShard, old: Item | None, new: Item | None) -> None:
        original(shard, old, new)
        replicator = _active
        if replicator is not None and not getattr(_local, "replicating", False):
            replicator._on_stream_record(shard.table, old, new)

    add.__wrapped__ = original  # type: ignore[attr-defined]
    return add


def _table_describe(original: Callable[..., Any]) -> Callable[..., Any]:
    def describe(table: Table, base_key: str = "TableDescription") -> dict[str, Any]:
        result = original(table, base_key)
        replicator = _active
        group = replicator._group_of(table) if replicator is not None else None
        if group is not None:
            result[base_key]["Replicas"] = [
                {"RegionName": region, "ReplicaStatus": "ACTIVE"}
                for region in sorted(group.live_members())
                if region != table.region_name
            ]
            result[base_key]["MultiRegionConsistency"] = group.mode
        return result

    describe.__wrapped__ = original  # type: ignore[attr-defined]
    return describe


def _handler_update_table(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_table(handler: DynamoHandler) -> Any:
        updates = handler.body.get("ReplicaUpdates") or []
        replicator = _active
        if updates and replicator is not None:
            table = handler.dynamodb_backend.get_table(handler.body["TableName"])
            mode = handler.body.get("MultiRegionConsistency") or "EVENTUAL"
            for update in updates:
                if "Create" in update:
                    replicator.create_replica(table, update["Create"]["RegionName"], mode)
                elif "Delete" in update:
                    replicator.delete_replica(table, update["Delete"]["RegionName"])
                else:
                    raise MockValidationException("ReplicaUpdates supports Create and Delete")
        return original(handler)

    update_table.__wrapped__ = original  # type: ignore[attr-defined]
    return update_table


_SERIALISED_READS = (
    (DynamoDBBackend, "get_item"),
    (DynamoDBBackend, "scan"),
    (DynamoDBBackend, "query"),
)
_SERIALISED_WRITES = ((Table, "put_item"), (Table, "delete_item"), (DynamoDBBackend, "update_item"))


def _patch_classes() -> None:
    for owner, name in _SERIALISED_READS + _SERIALISED_WRITES:
        original = getattr(owner, name)
        _originals[(owner, name)] = original
        wrapper = _serialised(original)
        wrapper.write = (owner, name) in _SERIALISED_WRITES  # type: ignore[attr-defined]
        setattr(owner, name, wrapper)
    for owner, name, factory in (
        (StreamShard, "add", _stream_add),
        (Table, "describe", _table_describe),
        (DynamoHandler, "update_table", _handler_update_table),
        (DynamoDBBackend, "transact_write_items", _transaction),
    ):
        original = getattr(owner, name)
        _originals[(owner, name)] = original
        setattr(owner, name, factory(original))


def _unpatch_classes() -> None:
    for (owner, name), original in _originals.items():
        setattr(owner, name, original)
    _originals.clear()


# --- the replicator ---------------------------------------------------------------


class GlobalTableReplicator:
    """Replicates writes between the members of emulated DynamoDB global tables.

    ``lag_seconds``: delay between a write's acceptance and its application elsewhere
    (AWS: "typically within a second"); ``jitter_seconds``: extra uniform random delay;
    ``time_scale``: multiplies both (0.1 = ten times faster than AWS, for tests);
    ``conflict_window_seconds`` (MRSC only, also scaled): how close two writes of one
    item from different regions must be to conflict; ``max_pending``: bound of the
    delivery queue (a writer blocks up to
    ``enqueue_timeout`` seconds when it is full, then the event is dropped and counted).
    """

    def __init__(
        self,
        lag_seconds: float = DEFAULT_LAG_SECONDS,
        time_scale: float = 1.0,
        jitter_seconds: float = 0.0,
        max_pending: int = DEFAULT_MAX_PENDING,
        conflict_window_seconds: float = DEFAULT_CONFLICT_WINDOW_SECONDS,
        enqueue_timeout: float = 5.0,
        seed: int | None = None,
    ):
        if lag_seconds < 0 or jitter_seconds < 0 or time_scale <= 0 or max_pending < 1:
            raise ValueError("lag and jitter must be >= 0, time_scale > 0, max_pending >= 1")
        self.lag_seconds = lag_seconds * time_scale
        self.jitter_seconds = jitter_seconds * time_scale
        self.conflict_window_seconds = conflict_window_seconds * time_scale
        self.max_pending = max_pending
        self.enqueue_timeout = enqueue_timeout
        self._random = random.Random(seed)
        self._groups: dict[tuple[str, str], _GlobalTable] = {}
        self._heap: list[_Event] = []
        self._in_flight = 0
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_accepted = 0.0
        self.stats = {"replicated": 0, "superseded": 0, "dropped": 0, "conflicts": 0}

    # lifecycle ----------------------------------------------------------------------

    def install(self) -> GlobalTableReplicator:
        """Patch moto's DynamoDB classes in this process (one replicator at a time)."""
        global _active
        with _lock:
            if _active is self:
                return self
            if _active is not None:
                raise RuntimeError("another GlobalTableReplicator is installed; stop it first")
            _patch_classes()
            _active = self
        return self

    def start(self) -> GlobalTableReplicator:
        """Install (if needed) and start the delivery thread."""
        self.install()
        with self._cond:
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._deliver, name="dynamodb-replicator", daemon=True
                )
                self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (pending events are discarded) and restore moto's methods."""
        global _active
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                logger.error("replicator thread did not stop within %ss", timeout)
        with _lock:
            if _active is self:
                _unpatch_classes()
                _active = None

    def __enter__(self) -> GlobalTableReplicator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pending(self) -> int:
        """Events accepted but not yet applied everywhere."""
        with self._cond:
            return len(self._heap) + self._in_flight

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until every pending event is applied; True when drained."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None:
                    return False
                self._cond.wait(remaining)
        return True

    # global tables ------------------------------------------------------------------

    def make_global(
        self,
        table_name: str,
        regions: Iterable[str],
        account_id: str = DEFAULT_ACCOUNT_ID,
        mode: str = "EVENTUAL",
    ) -> list[str]:
        """Seed: turn the table (existing in at least one of ``regions``) into a global
        table over ``regions``, creating the missing replicas. Returns the regions."""
        regions = list(dict.fromkeys(regions))
        with _lock:
            source = None
            for region in regions:
                source = _backend(account_id, region).tables.get(table_name)
                if source is not None:
                    break
            if source is None:
                raise ValueError(f"table {table_name} exists in none of {regions}")
            self._join(source, mode)
            for region in regions:
                if (
                    region != source.region_name
                    and region not in self._group_of(source).live_members()
                ):
                    self.create_replica(source, region, mode)
        return regions

    def create_replica(self, table: Table, region: str, mode: str = "EVENTUAL") -> Table:
        """Create the replica of ``table`` in ``region`` and backfill its items."""
        if mode not in ("EVENTUAL", "STRONG"):
            raise MockValidationException(f"unknown MultiRegionConsistency {mode}")
        with _lock:
            group = self._join(table, mode)
            members = group.live_members()
            if region in members:
                raise MockValidationException(
                    f"Failed to create a replica of table {table.name} in {region}: "
                    "a replica already exists there"
                )
            backend = _backend(table.account_id, region)
            if table.name in backend.tables:
                raise MockValidationException(
                    f"Failed to create a replica of table {table.name} in {region}: "
                    "a table with that name already exists there"
                )
            description = table.describe()["TableDescription"]
            replica = backend.create_table(
                table.name,
                schema=copy.deepcopy(table.schema),
                throughput=_throughput(table),
                attr=copy.deepcopy(table.attr),
                global_indexes=[
                    _index_input(index) for index in description.get("GlobalSecondaryIndexes", [])
                ],
                indexes=[
                    _index_input(index) for index in description.get("LocalSecondaryIndexes", [])
                ],
                streams=dict(STREAM_SPEC),
                billing_mode=table.billing_mode,
                sse_specification=None,
                tags=[],
                deletion_protection_enabled=False,
                warm_throughput=None,
            )
            group.members[region] = replica
            _local.replicating = True
            try:
                for item in list(_all_items(table)):
                    image = item.to_json()["Attributes"]
                    replica.put_item(copy.deepcopy(image))
                    keys = _keys_of(table, item)
                    version = group.versions.get((table.region_name, _key_id(keys)), _NO_VERSION)
                    group.versions[(region, _key_id(keys))] = version
            finally:
                _local.replicating = False
            logger.info("replica of %s created in %s", table.name, region)
            return replica

    def delete_replica(self, table: Table, region: str) -> None:
        """Delete the replica of ``table`` in ``region`` (the table there goes away)."""
        with _lock:
            group = self._group_of(table)
            members = group.live_members() if group else {}
            if region not in members or region == table.region_name and len(members) == 1:
                raise MockValidationException(
                    f"Failed to delete the replica of {table.name} in {region}: no such replica"
                )
            _backend(table.account_id, region).tables.pop(table.name, None)
            del group.members[region]  # type: ignore[union-attr]

    def regions_of(self, table_name: str, account_id: str = DEFAULT_ACCOUNT_ID) -> list[str]:
        """Live member regions of a global table (empty when it is not global)."""
        with _lock:
            group = self._groups.get((account_id, table_name))
            return sorted(group.live_members()) if group else []

    def _join(self, table: Table, mode: str) -> _GlobalTable:
        group = self._group_of(table)
        if group is None:
            group = _GlobalTable(account_id=table.account_id, name=table.name, mode=mode)
            group.members[table.region_name] = table
            self._groups[(table.account_id, table.name)] = group
        if not (table.stream_specification or {}).get("StreamEnabled"):
            table.set_stream_specification(dict(STREAM_SPEC))
        group.mode = mode if mode == "STRONG" else group.mode
        return group

    def _group_of(self, table: Table) -> _GlobalTable | None:
        group = self._groups.get((table.account_id, table.name))
        if group is not None and group.members.get(table.region_name) is table:
            return group
        return None

    # the write path (called with _lock held) ------------------------------------------

    def _versions_of(self, backend: DynamoDBBackend) -> dict[str, dict]:
        """Copy of the versions held in ``backend``'s region, per global table."""
        return {
            group.name: {k: v for k, v in group.versions.items() if k[0] == backend.region_name}
            for (account, _), group in self._groups.items()
            if account == backend.account_id and backend.region_name in group.members
        }

    def _rolled_back(self, backend: DynamoDBBackend, versions: dict[str, dict]) -> None:
        for name, saved in versions.items():
            group = self._groups[(backend.account_id, name)]
            restored = backend.tables.get(name)
            if restored is not None:
                group.members[backend.region_name] = restored
            for key in [k for k in group.versions if k[0] == backend.region_name]:
                del group.versions[key]
            group.versions.update(saved)

    def _before_local_write(self, args: tuple, kwargs: dict[str, Any]) -> None:
        """MRSC only: refuse a write racing an unreplicated write from another region."""
        if getattr(_local, "replicating", False):
            return
        target = args[0]
        if isinstance(target, DynamoDBBackend):
            name = kwargs.get("table_name", args[1] if len(args) > 1 else "")
            table = target.tables.get(name) if isinstance(name, str) else None
            key_attrs = kwargs.get("key", args[2] if len(args) > 2 else None)
        else:
            table = target
            key_attrs = None
        group = self._group_of(table) if isinstance(table, Table) else None
        if group is None or group.mode != "STRONG":
            return
        if key_attrs is None:  # Table.put_item(item_attrs) / delete_item(hash, range)
            if len(args) > 1 and isinstance(args[1], dict):
                key_attrs = args[1]
            elif len(args) > 1 and isinstance(args[1], DynamoType):
                key_attrs = {table.hash_key_attr: args[1].to_json()}
                if table.range_key_attr and len(args) > 2 and args[2] is not None:
                    key_attrs[table.range_key_attr] = args[2].to_json()
        if not isinstance(key_attrs, dict):
            return
        keys = {k: key_attrs[k] for k in table.table_key_attrs if k in key_attrs}
        accepted, origin = group.versions.get((table.region_name, _key_id(keys)), _NO_VERSION)
        if (
            origin
            and origin != table.region_name
            and time.time() - accepted < self.conflict_window_seconds
        ):
            self.stats["conflicts"] += 1
            raise ReplicatedWriteConflict(
                "Transaction conflict: the item was modified concurrently in "
                f"another region ({origin})"
            )

    def _on_stream_record(self, table: Table, old: Item | None, new: Item | None) -> None:
        group = self._group_of(table)
        if group is None:
            return
        record = new if new is not None else old
        if record is None:
            return
        keys = _keys_of(table, record)
        key_id = _key_id(keys)
        now = max(time.time(), self._last_accepted + 1e-6)
        self._last_accepted = now
        version: Version = (now, table.region_name)
        group.versions[(table.region_name, key_id)] = version
        image = copy.deepcopy(new.to_json()["Attributes"]) if new is not None else None
        if group.mode == "STRONG":  # synchronous replication
            for region, member in group.live_members().items():
                if region != table.region_name:
                    self._apply_to(group, region, member, version, key_id, keys, image)
            return
        delay = self.lag_seconds
        if self.jitter_seconds:
            delay += self._random.uniform(0, self.jitter_seconds)
        event = _Event(
            due=time.monotonic() + delay,
            order=next(self._order),
            group=group,
            origin=table.region_name,
            version=version,
            key_id=key_id,
            keys=keys,
            image=image,
        )
        if getattr(_local, "depth", 0) > 0:
            _local.pending = getattr(_local, "pending", [])
            _local.pending.append(event)
        else:
            self._enqueue(event)

    def _enqueue(self, event: _Event) -> None:
        """Queue an event (outside the table lock); blocks, bounded, when full."""
        deadline = time.monotonic() + self.enqueue_timeout
        with self._cond:
            while len(self._heap) >= self.max_pending and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.stats["dropped"] += 1
                    logger.error("replication queue full: dropped a write to %s", event.key_id)
                    return
                self._cond.wait(remaining)
            if self._stopping:
                return
            heapq.heappush(self._heap, event)
            self._cond.notify_all()

    # the delivery thread --------------------------------------------------------------

    def _deliver(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    if self._heap and self._heap[0].due <= now:
                        break
                    self._cond.wait(self._heap[0].due - now if self._heap else 1.0)
                if self._stopping:
                    return
                ready = []
                now = time.monotonic()
                while self._heap and self._heap[0].due <= now:
                    ready.append(heapq.heappop(self._heap))
                self._in_flight = len(ready)
                self._cond.notify_all()
            try:
                for event in ready:
                    self._apply(event)
            except Exception:  # noqa: BLE001 - the thread must survive a bad event
                logger.exception("replication of an event failed")
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._cond.notify_all()

    def _apply(self, event: _Event) -> None:
        with _lock:
            for region, member in event.group.live_members().items():
                if region != event.origin:
                    self._apply_to(
                        event.group,
                        region,
                        member,
                        event.version,
                        event.key_id,
                        event.keys,
                        event.image,
                    )

    def _apply_to(
        self,
        group: _GlobalTable,
        region: str,
        table: Table,
        version: Version,
        key_id: str,
        keys: dict[str, Any],
        image: dict[str, Any] | None,
    ) -> None:
        """Last writer wins: apply only if newer than what ``region`` holds."""
        if version <= group.versions.get((region, key_id), _NO_VERSION):
            self.stats["superseded"] += 1
            return
        _local.replicating = True
        try:
            if image is None:
                range_value = (
                    DynamoType(keys[table.range_key_attr]) if table.range_key_attr else None
                )
                table.delete_item(DynamoType(keys[table.hash_key_attr]), range_value)
            else:
                table.put_item(copy.deepcopy(image))
        finally:
            _local.replicating = False
        group.versions[(region, key_id)] = version
        self.stats["replicated"] += 1


def make_global(
    table_name: str,
    regions: Iterable[str],
    account_id: str = DEFAULT_ACCOUNT_ID,
    mode: str = "EVENTUAL",
) -> list[str]:
    """:meth:`GlobalTableReplicator.make_global` on the installed replicator."""
    if _active is None:
        raise RuntimeError("no GlobalTableReplicator installed: start one first")
    return _active.make_global(table_name, regions, account_id=account_id, mode=mode)


def _keys_of(table: Table, item: Item) -> dict[str, Any]:
    keys = {table.hash_key_attr: item.hash_key.to_json()}
    if table.range_key_attr is not None and item.range_key is not None:
        keys[table.range_key_attr] = item.range_key.to_json()
    return keys


def _all_items(table: Table) -> Iterable[Item]:
    for value in table.items.values():
        if table.has_range_key:
            yield from value.values()
        else:
            yield value


def _throughput(table: Table) -> dict[str, int] | None:
    if table.billing_mode == "PAY_PER_REQUEST":
        return None
    return {
        "ReadCapacityUnits": table.throughput.get("ReadCapacityUnits", 0),
        "WriteCapacityUnits": table.throughput.get("WriteCapacityUnits", 0),
    }


def _index_input(description: dict[str, Any]) -> dict[str, Any]:
    """A CreateTable index definition from a DescribeTable index description."""
    index = {
        "IndexName": description["IndexName"],
        "KeySchema": description["KeySchema"],
        "Projection": description.get("Projection", {"ProjectionType": "ALL"}),
    }
    throughput = description.get("ProvisionedThroughput")
    if throughput:
        index["ProvisionedThroughput"] = {
            "ReadCapacityUnits": throughput.get("ReadCapacityUnits", 0),
            "WriteCapacityUnits": throughput.get("WriteCapacityUnits", 0),
        }
    return index
