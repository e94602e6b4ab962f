"""S3 cross-region replication applied to moto's buckets (:mod:`sandbox.s3.replication`
is the model).

Each write to a bucket with a replication configuration (PutObject, a DeleteObject that
makes a delete marker) is matched against the bucket's rules AS THEY ARE AT THE WRITE;
a matching enabled rule schedules the replica in the destination bucket ``lag`` seconds
after the acknowledgement (a copy of the object's bytes, metadata and tags, or a delete
marker). A delivery thread applies what is due. Replicas are never replicated again.
The source object's replication status is ``PENDING`` from the write, ``COMPLETED`` once
every destination has its replica (``FAILED`` when one could not be written); the
replica's is ``REPLICA``; a write no enabled rule matched has none, and never gets one
(Amazon S3 User Guide, "Getting replication status information"; and "Managing or
pausing live replication": objects written while a rule is disabled are not replicated
when it is enabled again, S3 Batch Replication copies them).

Use it::

    replicator = BucketReplicator(time_scale=1.0)
    replicator.start()
    ...
    replicator.drain(timeout=10)   # wait until nothing is pending
    replicator.stop()
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.s3 import moto_patch
from sandbox.s3.replication import (
    DEFAULT_JITTER_SECONDS,
    DEFAULT_LAG_SECONDS,
    RTC_BOUND_SECONDS,
    Rule,
    lag_seconds,
    parse_rules,
    rule_for,
)

__all__ = ["BucketReplicator", "Delivery"]

logger = logging.getLogger(__name__)


@dataclass(order=True)
class Delivery:
    due: float
    seq: int
    source: str = field(compare=False)
    destination: str = field(compare=False)
    key: str = field(compare=False)
    source_key: Any = field(compare=False)  # moto's FakeKey; None: a delete marker
    rules: list[Rule] = field(compare=False)  # the enabled rules at the write


class BucketReplicator:
    """S3 live replication for every bucket of this process's moto S3 backend."""

    def __init__(
        self,
        lag_seconds: float = DEFAULT_LAG_SECONDS,
        jitter_seconds: float = DEFAULT_JITTER_SECONDS,
        bound_seconds: float = RTC_BOUND_SECONDS,
        time_scale: float = 1.0,
        seed: int | None = None,
    ) -> None:
        scale = max(1e-6, float(time_scale))
        self.lag = float(lag_seconds) * scale
        self.jitter = float(jitter_seconds) * scale
        self.bound = float(bound_seconds) * scale
        self._rng = random.Random(seed)
        self._queue: list[Delivery] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self._outstanding: dict[int, tuple[int, tuple[str, ...]]] = {}  # id(key) -> due, outcomes

    # lifecycle (sandbox.lifecycle.Emulator)
    def start(self) -> None:
        moto_patch.activate(self)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="s3-replicator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        moto_patch.deactivate(self)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def drain(self, timeout: float) -> bool:
        """Wait (bounded) until every scheduled replica is delivered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.02)
        return self.pending() == 0

    # the hook (sandbox.s3.moto_patch)
    def on_write(
        self, backend: Any, bucket_name: str, key_name: str, key: Any, deleted: bool
    ) -> None:
        """Schedule the replicas of one acknowledged write, with the rules as they are
        now (a rule disabled now never replicates this write, whatever follows)."""
        bucket = backend.buckets.get(bucket_name)
        stored = getattr(bucket, "replication", None)
        if not stored:
            return
        rules = [r for r in parse_rules(stored) if r.enabled]
        now = time.monotonic()
        destinations = sorted({r.destination for r in rules})
        if key is not None and destinations:
            setattr(key, moto_patch.STATUS_ATTRIBUTE, "PENDING")
            self._outstanding[id(key)] = (len(destinations), ())
        for destination in destinations:
            candidates = [r for r in rules if r.destination == destination]
            if deleted and not any(r.delete_markers for r in candidates):
                continue
            delivery = Delivery(
                due=now + lag_seconds(self.lag, self.jitter, self.bound, self._rng),
                seq=next(self._seq),
                source=bucket_name,
                destination=destination,
                key=key_name,
                source_key=key,
                rules=candidates,
            )
            with self._cond:
                heapq.heappush(self._queue, delivery)
                self._cond.notify_all()

    def _run(self) -> None:
        from moto.backends import get_backend
        from moto.core import DEFAULT_ACCOUNT_ID

        while not self._stop.is_set():
            with self._cond:
                if not self._queue:
                    self._cond.wait(timeout=0.5)
                    continue
                wait = self._queue[0].due - time.monotonic()
                if wait > 0:
                    self._cond.wait(timeout=min(wait, 0.5))
                    continue
                delivery = self._queue[0]
            backend = get_backend("s3")[DEFAULT_ACCOUNT_ID]["global"]
            try:
                replicated = self._deliver(backend, delivery)
            except Exception:  # noqa: BLE001 - a missing destination fails that replica only
                logger.warning("replica of %s/%s to %s failed", delivery.source,
                               delivery.key, delivery.destination, exc_info=True)  # fmt: skip
                self._settle(delivery, "failed")
            else:
                self._settle(delivery, "replicated" if replicated else "skipped")
            with self._cond:
                self._queue.remove(delivery)
                heapq.heapify(self._queue)
            self.delivered += 1

    def _settle(self, delivery: Delivery, outcome: str) -> None:
        """The source object's status once every replica of its write is settled:
        ``FAILED`` if one failed, else ``COMPLETED`` if one was written, else none (its
        tags matched no rule after all)."""
        source = delivery.source_key
        if source is None:
            return
        with self._cond:
            left, outcomes = self._outstanding.get(id(source), (1, ()))
            outcomes = (*outcomes, outcome)
            if left > 1:
                self._outstanding[id(source)] = (left - 1, outcomes)
                return
            self._outstanding.pop(id(source), None)
        if "failed" in outcomes:
            setattr(source, moto_patch.STATUS_ATTRIBUTE, "FAILED")
        elif "replicated" in outcomes:
            setattr(source, moto_patch.STATUS_ATTRIBUTE, "COMPLETED")
        else:
            setattr(source, moto_patch.STATUS_ATTRIBUTE, None)

    def _deliver(self, backend: Any, delivery: Delivery) -> bool:
        """Tags are read at delivery (moto sets a PutObject's tags just after the write)
        and matched against the rules of the write's time."""
        source = delivery.source_key
        if source is None:
            rule = rule_for(delivery.rules, delivery.key, {}, delivery.destination)
            if rule is None or not rule.delete_markers:
                return False
        else:
            tags = _object_tags(backend, source)
            if rule_for(delivery.rules, delivery.key, tags, delivery.destination) is None:
                return False
        moto_patch.local.replicating = True
        try:
            if source is None:
                backend.delete_object(delivery.destination, delivery.key)
                return True
            key = backend.put_object(delivery.destination, delivery.key, bytes(source.value))
            setattr(key, moto_patch.STATUS_ATTRIBUTE, "REPLICA")
            key.set_metadata(dict(source.metadata))
            if tags:
                backend.put_object_tagging(key, tags)
            return True
        finally:
            moto_patch.local.replicating = False


def _object_tags(backend: Any, key: Any) -> dict[str, str]:
    tag_set = backend.get_object_tagging(key).get("Tags", [])
    return {str(t["Key"]): str(t["Value"]) for t in tag_set}
