"""Hooks in moto's S3 backend for the replicator of this process, and a faithful
GetBucketReplication.

moto 5 stores the whole PutBucketReplication document but answers GetBucketReplication
with every rule's ``Filter`` as ``{"Prefix": ""}`` and ``DeleteMarkerReplication``
``Disabled``: a client restoring what it read would widen the rules. While installed,
the answer is built from what was stored. ``put_object`` and ``delete_object`` (without
a version id) call the active replicator with the write, unless the write is itself a
replica (:data:`local`.replicating). GetObject/HeadObject answer the object's
``x-amz-replication-status`` (``PENDING``, ``COMPLETED``, ``FAILED`` on a source object,
``REPLICA`` on a replica; absent when no rule replicated the write), which moto never
sets: the replicator keeps it in :data:`STATUS_ATTRIBUTE` of the key (Amazon S3 User
Guide, "Getting replication status information").
"""

from __future__ import annotations

import threading
from typing import Any

from moto.s3.exceptions import ReplicationConfigurationNotFoundError
from moto.s3.models import FakeKey, S3Backend
from moto.s3.responses import S3Response

__all__ = ["activate", "deactivate", "local", "stored_rules_for_api", "STATUS_ATTRIBUTE"]

STATUS_ATTRIBUTE = "sandbox_replication_status"

local = threading.local()  # .replicating: True while the replicator writes a replica
_lock = threading.RLock()
_active: Any = None
_originals: dict[str, Any] = {}

_RULE_FIELDS = (
    "ID",
    "Priority",
    "Prefix",
    "Filter",
    "Status",
    "SourceSelectionCriteria",
    "ExistingObjectReplication",
    "Destination",
    "DeleteMarkerReplication",
)


_CONTAINERS = frozenset({"Filter", "And", "SourceSelectionCriteria", "Destination"})


def _api_value(value: Any, name: str = "") -> Any:
    """xmltodict's parse without its XML attributes (``@xmlns``); an empty element
    (``<Prefix></Prefix>``, ``<Filter/>``) is None there: the API's "" or {}."""
    if value is None:
        return {} if name in _CONTAINERS else ""
    if isinstance(value, dict):
        return {k: _api_value(v, k) for k, v in value.items() if not k.startswith("@")}
    return value


def stored_rules_for_api(stored: dict[str, Any]) -> dict[str, Any]:
    rules = stored.get("Rule") or []
    rules = rules if isinstance(rules, list) else [rules]
    api_rules = []
    for rule in rules:
        out = {k: _api_value(rule[k], k) for k in _RULE_FIELDS if k in rule}
        if "Priority" in out:
            out["Priority"] = int(out["Priority"])
        both = (out.get("Filter") or {}).get("And")
        if isinstance(both, dict) and isinstance(both.get("Tag"), dict):
            both["Tags"] = [both.pop("Tag")]
        elif isinstance(both, dict) and "Tag" in both:
            both["Tags"] = both.pop("Tag")
        api_rules.append(out)
    return {"Role": stored["Role"], "Rules": api_rules}


def _get_bucket_replication(self: S3Response) -> Any:
    from moto.core.responses import ActionResult

    self.data["Action"] = "GetBucketReplication"
    stored = self.backend.get_bucket_replication(self.bucket_name)
    if not stored:
        raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
    return self.serialized(ActionResult({"ReplicationConfiguration": stored_rules_for_api(stored)}))


def _put_object(self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any):
    key = _originals["put_object"](self, bucket_name, key_name, *args, **kwargs)
    replicator = _active
    if replicator is not None and not getattr(local, "replicating", False):
        replicator.on_write(self, bucket_name, key_name, key, deleted=False)
    return key


def _delete_object(
    self: S3Backend, bucket_name: str, key_name: str, version_id: str | None = None, **kwargs: Any
):
    result = _originals["delete_object"](self, bucket_name, key_name, version_id, **kwargs)
    replicator = _active
    if (
        replicator is not None
        and version_id is None  # a delete of one version is never replicated
        and not getattr(local, "replicating", False)
    ):
        replicator.on_write(self, bucket_name, key_name, None, deleted=True)
    return result


def _response_dict(self: FakeKey) -> dict[str, Any]:
    headers = dict(_originals["response_dict"].fget(self))
    status = getattr(self, STATUS_ATTRIBUTE, None)
    if status:
        headers["x-amz-replication-status"] = status
    return headers


def activate(replicator: Any) -> None:
    global _active
    with _lock:
        if _active is replicator:
            return
        if _active is not None:
            raise RuntimeError("another S3 replicator is installed; stop it first")
        _originals["put_object"] = S3Backend.put_object
        _originals["delete_object"] = S3Backend.delete_object
        _originals["get_bucket_replication"] = S3Response.get_bucket_replication
        _originals["response_dict"] = FakeKey.__dict__["response_dict"]
        FakeKey.response_dict = property(_response_dict)  # type: ignore[assignment,method-assign]
        S3Backend.put_object = _put_object  # type: ignore[method-assign]
        S3Backend.delete_object = _delete_object  # type: ignore[method-assign,assignment]
        S3Response.get_bucket_replication = _get_bucket_replication  # type: ignore[method-assign]
        _active = replicator


def deactivate(replicator: Any) -> None:
    global _active
    with _lock:
        if _active is not replicator:
            return
        S3Backend.put_object = _originals.pop("put_object")  # type: ignore[method-assign]
        S3Backend.delete_object = _originals.pop("delete_object")  # type: ignore[method-assign]
        S3Response.get_bucket_replication = _originals.pop("get_bucket_replication")  # type: ignore[method-assign]
        FakeKey.response_dict = _originals.pop("response_dict")  # type: ignore[method-assign]
        _active = None
