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
- Replicated writes appear in the target's stream (as in AWS) but are never replicated
  again (no ping-pong).
- MRSC (``mode="STRONG"``): writes are applied to every member synchronously, and a
  racing write fails with ``ReplicatedWriteConflictException``.
- Resource-based policies (MREC): while a member's policy denies replication
  (:mod:`sandbox.dynamodb.resource_policy`: the statements AWS FIS's
  ``aws:dynamodb:global-table-pause-replication`` appends, evaluated against this
  replicator's wall clock, ``wall``), writes to that member (inbound) and from it
  (outbound) are held, not applied. When the denial ends (the statement removed, or its
  ``DateLessThan aws:CurrentTime`` passed) the held writes are applied: DynamoDB keeps a
  table's changes for 24 hours ("All data in DynamoDB Streams is subject to a 24-hour
  lifetime", Amazon DynamoDB Developer Guide, Change data capture for DynamoDB
  Streams), so a held write older than that (scaled) is dropped and counted
  (``stats["expired"]``). A removed statement is noticed within ``policy_recheck_seconds``
  (AWS publishes no figure: ours); an expiry at its moment. A policy update within
  ``policy_update_block_seconds`` (AWS: 15 s, scaled) of the previous one is refused
  (:mod:`sandbox.dynamodb.moto_patch`). Not emulated: the replica
  status ``REPLICATION_NOT_AUTHORIZED`` and the conversion to a single-region table after
  20 hours of it (same guide, "DynamoDB global tables security").

The rules (last writer wins, the MRSC conflict, the bounded delivery queue) are the model
of :mod:`sandbox.dynamodb.replication`; the hooks in moto's classes are
:mod:`sandbox.dynamodb.moto_patch`; here: the model applied to moto's tables.

Use it::

    replicator = GlobalTableReplicator(lag_seconds=0.5)
    replicator.start()           # install() + the delivery thread
    replicator.make_global("orders", ["eu-south-1", "eu-west-1"])
    ...
    replicator.drain(timeout=5)  # wait until nothing is pending
    replicator.stop()            # joins the thread, restores moto's methods

This module is "AWS": it imports nothing from chaosaws_ext, probes or gameday.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from moto.dynamodb.models.table import Table

from sandbox.dynamodb import moto_patch, resource_policy
from sandbox.dynamodb.moto_patch import active_replicator
from sandbox.dynamodb.moto_patch import local as _local
from sandbox.dynamodb.moto_patch import lock as _lock
from sandbox.dynamodb.replication import (
    DEFAULT_CONFLICT_WINDOW_SECONDS,
    DEFAULT_LAG_SECONDS,
    DEFAULT_MAX_PENDING,
    NO_VERSION,
    AcceptClock,
    DeliveryQueue,
    Version,
    conflicts,
    is_newer,
    key_id,
)
from sandbox.lifecycle import Lifecycle

__all__ = [
    "GlobalTableReplicator",
    "ReplicatedWriteConflict",
    "make_global",
    "active_replicator",
    "DEFAULT_LAG_SECONDS",
]

logger = logging.getLogger(__name__)

STREAM_SPEC = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
# "All data in DynamoDB Streams is subject to a 24-hour lifetime" (Amazon DynamoDB
# Developer Guide, Change data capture for DynamoDB Streams): held writes older are lost
STREAM_RETENTION_SECONDS = 24 * 3600.0
# How soon a removed Deny statement is noticed (AWS publishes no figure: ours)
DEFAULT_POLICY_RECHECK_SECONDS = 0.1
# "Subsequent updates to a policy for a given resource are blocked for 15 seconds after
# a successful update of the policy for the same resource." (Amazon DynamoDB Developer
# Guide, Resource-based policy considerations); scaled by time_scale
POLICY_UPDATE_BLOCK_SECONDS = 15.0


class ReplicatedWriteConflict(DynamodbException):
    """MRSC: a concurrent write to the same item from another region."""

    error_type = ERROR_TYPE_PREFIX + "ReplicatedWriteConflictException"

    def __init__(self, message: str):
        super().__init__(ReplicatedWriteConflict.error_type, message=message)


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


@dataclass(frozen=True)
class _Event:
    """One accepted write, to be applied to the other members of its global table."""

    group: _GlobalTable
    origin: str
    version: Version
    key_id: str
    keys: dict[str, Any]  # DynamoDB-JSON key attributes
    image: dict[str, Any] | None  # None = delete
    target: str | None = None  # one member only (a held write), else every other member


class _Recheck:
    """The delivery queue's wake-up for held writes (one pending at a time)."""


def _backend(account_id: str, region: str) -> DynamoDBBackend:
    return get_backend("dynamodb")[account_id][region]


# --- the replicator ---------------------------------------------------------------


class GlobalTableReplicator(Lifecycle):
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
        wall: Callable[[], float] = time.time,
        policy_recheck_seconds: float = DEFAULT_POLICY_RECHECK_SECONDS,
        policy_update_block_seconds: float = POLICY_UPDATE_BLOCK_SECONDS,
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
        self._queue = DeliveryQueue(self._apply, max_pending, enqueue_timeout)
        self._clock = AcceptClock(wall)
        self._wall = wall
        self.policy_recheck_seconds = policy_recheck_seconds
        self.policy_update_block_seconds = policy_update_block_seconds * time_scale
        self.stream_retention_seconds = STREAM_RETENTION_SECONDS * time_scale
        self._held: list[_Event] = []
        self._recheck_due: float | None = None  # monotonic due of the pending _Recheck
        self.stats = {
            "replicated": 0,
            "superseded": 0,
            "dropped": 0,
            "conflicts": 0,
            "held": 0,
            "expired": 0,
        }

    # lifecycle ----------------------------------------------------------------------

    def install(self) -> GlobalTableReplicator:
        """Patch moto's DynamoDB classes in this process (one replicator at a time)."""
        moto_patch.activate(self)
        return self

    def start(self) -> None:
        """Install (if needed) and start the delivery thread."""
        self.install()
        self._queue.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (pending events are discarded) and restore moto's methods."""
        self._queue.stop(timeout)
        moto_patch.deactivate(self)

    @property
    def running(self) -> bool:
        return self._queue.running

    def pending(self) -> int:
        """Events accepted but not yet applied everywhere (held ones included)."""
        with _lock:
            held = len(self._held)
        return self._queue.pending() + held - (1 if self._recheck_due is not None else 0)

    def held(self) -> int:
        """Writes held by a resource policy that denies replication."""
        with _lock:
            return len(self._held)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until every pending event is applied; True when drained."""
        return self._queue.drain(timeout)

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
                    version = group.versions.get((table.region_name, key_id(keys)), NO_VERSION)
                    group.versions[(region, key_id(keys))] = version
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
        held = group.versions.get((table.region_name, key_id(keys)), NO_VERSION)
        if conflicts(held, table.region_name, time.time(), self.conflict_window_seconds):
            _accepted, origin = held
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
        item_key = key_id(keys)
        version = self._clock.stamp(table.region_name)
        group.versions[(table.region_name, item_key)] = version
        image = copy.deepcopy(new.to_json()["Attributes"]) if new is not None else None
        if group.mode == "STRONG":  # synchronous replication
            for region, member in group.live_members().items():
                if region != table.region_name:
                    self._apply_to(group, region, member, version, item_key, keys, image)
            return
        delay = self.lag_seconds
        if self.jitter_seconds:
            delay += self._random.uniform(0, self.jitter_seconds)
        event = _Event(group, table.region_name, version, item_key, keys, image)
        due = time.monotonic() + delay
        if getattr(_local, "depth", 0) > 0:
            _local.pending = getattr(_local, "pending", [])
            _local.pending.append((event, due))
        else:
            self._enqueue((event, due))

    def _enqueue(self, scheduled: tuple[_Event, float]) -> None:
        """Queue an event (outside the table lock); blocks, bounded, when full."""
        event, due = scheduled
        if not self._queue.put(event, due):
            self.stats["dropped"] += 1
            logger.error("replication queue full: dropped a write to %s", event.key_id)

    def _apply(self, item: _Event | _Recheck) -> None:
        with _lock:
            denials: dict[tuple[str, str, tuple[str, ...]], bool] = {}  # one read per member
            if isinstance(item, _Recheck):
                self._recheck_due = None
                held, self._held = self._held, []
                for event in held:
                    self._deliver(event, denials)
            else:
                self._deliver(item, denials)
            self._schedule_recheck()

    def _deliver(
        self, event: _Event, denials: dict[tuple[str, str, tuple[str, ...]], bool]
    ) -> None:
        """Apply ``event`` to its target(s), holding it for a member whose resource policy
        denies replication (to it, or from the origin) now. Called with _lock held;
        ``denials`` caches the policy verdicts of this delivery round."""
        wall = self._wall()
        now = datetime.fromtimestamp(wall, UTC)
        if wall - event.version[0] > self.stream_retention_seconds:
            self.stats["expired"] += 1
            logger.error("a write to %s held past the stream retention: lost", event.key_id)
            return

        def denied(region: str, actions: tuple[str, ...]) -> bool:
            key = (event.group.name, region, actions)
            if key not in denials:
                denials[key] = self._denial(event.group, region, actions, now)
            return denials[key]

        outbound = denied(event.origin, resource_policy.OUTBOUND_ACTIONS)
        for region, member in event.group.live_members().items():
            if region == event.origin or event.target not in (None, region):
                continue
            if outbound or denied(region, resource_policy.INBOUND_ACTIONS):
                self._held.append(dataclasses.replace(event, target=region))
                self.stats["held"] += 1
                continue
            self._apply_to(
                event.group, region, member, event.version, event.key_id, event.keys, event.image
            )

    def _policy_of(self, group: _GlobalTable, region: str) -> str | None:
        table = group.members.get(region)
        if table is None:
            return None
        policy = _backend(group.account_id, region).resource_policies.get(table.table_arn)
        return policy.policy_doc if policy is not None else None

    def _denial(
        self, group: _GlobalTable, region: str, actions: tuple[str, ...], now: datetime
    ) -> bool:
        return resource_policy.replication_denied(
            self._policy_of(group, region), actions, group.account_id, now
        )

    def _schedule_recheck(self) -> None:
        """One wake-up while writes are held: at the earliest self-expiry of a denial, or
        ``policy_recheck_seconds`` from now (a statement removed by hand). _lock held."""
        if not self._held or self._recheck_due is not None:
            return
        wall = self._wall()
        now = datetime.fromtimestamp(wall, UTC)
        delay = self.policy_recheck_seconds
        members = {
            (event.group.name, region, actions): (event.group, region, actions)
            for event in self._held
            for region, actions in (
                (event.origin, resource_policy.OUTBOUND_ACTIONS),
                (event.target or "", resource_policy.INBOUND_ACTIONS),
            )
        }
        for group, region, actions in members.values():
            ends = resource_policy.denial_ends_at(
                self._policy_of(group, region), actions, group.account_id, now
            )
            if ends is not None:
                delay = min(delay, max(0.0, ends.timestamp() - wall))
        self._recheck_due = time.monotonic() + delay
        if not self._queue.put(_Recheck(), self._recheck_due):
            self._recheck_due = None  # queue full: the next delivery schedules it again

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
        if not is_newer(version, group.versions.get((region, key_id), NO_VERSION)):
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
    active = active_replicator()
    if active is None:
        raise RuntimeError("no GlobalTableReplicator installed: start one first")
    return list(active.make_global(table_name, regions, account_id=account_id, mode=mode))


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
