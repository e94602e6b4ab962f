"""Hooks in moto's DynamoDB classes for the global table replicator of this process.

While a replicator is active: table writes, scans, queries and reads are serialised by
one lock (:data:`lock`) so that a replicated write never interleaves with a local one;
every record appended to a table's change stream is handed to the replicator (unless it
is itself a replicated write); ``DescribeTable`` reports ``Replicas`` and
``MultiRegionConsistency`` (and ``GlobalTableVersion`` 2019.11.21);
``UpdateTable(ReplicaUpdates=...)`` creates and deletes replicas; a failed transaction
drops the replication of its rolled-back writes. Resource-based policies answer as
AWS does where moto differs (API Reference, PutResourcePolicy / DeleteResourcePolicy):
every revision id is new (moto reuses a millisecond clock), ``ExpectedRevisionId``
with no policy in place and DeleteResourcePolicy of a table without policy fail with
``PolicyNotFoundException``, and an update within the replicator's
``policy_update_block_seconds`` of the previous one is refused with
``ResourceInUseException`` ("Subsequent updates to a policy for a given resource are
blocked for 15 seconds after a successful update", Amazon DynamoDB Developer Guide,
Resource-based policy considerations; the error code is our assumption). The
replicator (:mod:`sandbox.dynamodb.replicator`) is reached by duck typing: this module
does not import it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from moto.dynamodb.exceptions import (
    MockValidationException,
    PolicyNotFoundException,
    ResourceInUseException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.responses import DynamoHandler

__all__ = ["activate", "active_replicator", "deactivate", "local", "lock"]


lock = threading.RLock()  # serialises table reads/writes while installed
local = threading.local()  # .replicating, .depth, .pending
_lock, _local = lock, local
_active: Any = None
_originals: dict[tuple[type, str], Any] = {}
_policy_updated: dict[tuple[str, str, str], float] = {}  # (account, region, arn) -> monotonic


def active_replicator() -> Any:
    """The installed replicator of this process, if any."""
    return _active


def activate(replicator: Any) -> None:
    """Patch moto's DynamoDB classes for ``replicator`` (one replicator at a time)."""
    global _active
    with _lock:
        if _active is replicator:
            return
        if _active is not None:
            raise RuntimeError("another GlobalTableReplicator is installed; stop it first")
        _patch_classes()
        _active = replicator


def deactivate(replicator: Any) -> None:
    """Restore moto's classes if ``replicator`` is the installed one."""
    global _active
    with _lock:
        if _active is replicator:
            _unpatch_classes()
            _active = None


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
            result[base_key]["GlobalTableVersion"] = CURRENT_GLOBAL_TABLE_VERSION
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


# "Version 2019.11.21 (Current)" (Amazon DynamoDB Developer Guide, global tables versions)
CURRENT_GLOBAL_TABLE_VERSION = "2019.11.21"


def _update_allowed(backend: DynamoDBBackend, resource_arn: str) -> None:
    """Refuse a policy update too soon after the last one (ResourceInUseException)."""
    block = float(getattr(_active, "policy_update_block_seconds", 0.0) or 0.0)
    last = _policy_updated.get((backend.account_id, backend.region_name, resource_arn))
    if last is not None and time.monotonic() - last < block:
        raise ResourceInUseException(
            f"Attempt to change a resource which is still in use: the resource policy of "
            f"{resource_arn} was updated less than {block:g} s ago"
        )


def _updated(backend: DynamoDBBackend, resource_arn: str) -> None:
    _policy_updated[(backend.account_id, backend.region_name, resource_arn)] = time.monotonic()


def _put_resource_policy(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_resource_policy(
        backend: DynamoDBBackend, resource_arn: str, policy_doc: str, expected_revision_id: Any
    ) -> Any:
        _update_allowed(backend, resource_arn)
        held = backend.resource_policies.get(resource_arn)
        if expected_revision_id and expected_revision_id != "NO_POLICY" and held is None:
            raise PolicyNotFoundException(
                "Resource-based policy not found for the provided ResourceArn: Requested "
                f"update for policy with revision id {expected_revision_id}, but no policy "
                "is associated with the target resource"
            )
        policy = original(backend, resource_arn, policy_doc, expected_revision_id)
        renewed = held is not None and policy is not held
        if renewed and int(policy.revision_id) <= int(held.revision_id):  # type: ignore[union-attr]
            policy.revision_id = str(int(held.revision_id) + 1)  # type: ignore[union-attr]
        if policy is not held:
            _updated(backend, resource_arn)
        return policy

    put_resource_policy.__wrapped__ = original  # type: ignore[attr-defined]
    return put_resource_policy


def _delete_resource_policy(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_resource_policy(
        backend: DynamoDBBackend, resource_arn: str, expected_revision_id: Any
    ) -> None:
        table_name = resource_arn.split("/")[-1]
        if table_name in backend.tables and resource_arn not in backend.resource_policies:
            raise PolicyNotFoundException(
                f"Resource-based policy not found for the provided ResourceArn: {resource_arn}"
            )
        _update_allowed(backend, resource_arn)
        original(backend, resource_arn, expected_revision_id)
        _updated(backend, resource_arn)

    delete_resource_policy.__wrapped__ = original  # type: ignore[attr-defined]
    return delete_resource_policy


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
        (DynamoDBBackend, "put_resource_policy", _put_resource_policy),
        (DynamoDBBackend, "delete_resource_policy", _delete_resource_policy),
    ):
        original = getattr(owner, name)
        _originals[(owner, name)] = original
        setattr(owner, name, factory(original))


def _unpatch_classes() -> None:
    for (owner, name), original in _originals.items():
        setattr(owner, name, original)
    _originals.clear()
    _policy_updated.clear()
