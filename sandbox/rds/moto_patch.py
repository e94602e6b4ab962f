"""RDS failover as AWS does it, added to moto (which makes a forced failover a no-op).

moto 5.2.5 answers ``RebootDBInstance(ForceFailover=True)`` without changing anything
(no status change, no AZ swap, no event, no ``SecondaryAvailabilityZone``) and performs
``FailoverDBCluster`` instantly. :class:`RdsFailoverEmulator` wraps the moto RDS backends
of THIS process (the one running ``ThreadedMotoServer`` or ``mock_aws``) so that:

- a Multi-AZ DB instance rebooted with ``ForceFailover=True`` goes ``rebooting`` for the
  failover window, then ``available`` with primary and secondary AZ swapped; a plain
  reboot goes ``rebooting`` for the reboot window and keeps its AZ;
- ``describe_db_instances`` reports ``SecondaryAvailabilityZone`` for Multi-AZ instances;
- a cluster failover goes ``failing-over`` for the cluster window, then ``available``
  with the target instance as writer;
- the RDS events AWS publishes for these steps appear in ``describe_events``;
- the data plane (a DB proxy) can ask :meth:`is_available` / :meth:`writer_az` and
  subscribe with :meth:`on_change` to refuse connections during the window.

The windows, the pending transitions and the listeners are the model of
:mod:`sandbox.rds.failover`; this module applies it to moto. :meth:`uninstall` settles
pending windows (their DBs end in the final state) and restores moto's methods.
This module is "AWS": it imports nothing from chaosaws_ext, probes or gameday.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds import responses as rds_responses
from moto.rds.exceptions import (
    DBInstanceNotFoundError,
    InvalidDBClusterStateFault,
    InvalidDBInstanceStateFault,
    InvalidParameterCombination,
)
from moto.rds.models import Event

from sandbox.lifecycle import Lifecycle
from sandbox.rds.failover import (
    CLUSTER_FAILOVER_SECONDS,
    INSTANCE_FAILOVER_SECONDS,
    MSG_INSTANCE_FAILOVER_COMPLETED,
    MSG_INSTANCE_FAILOVER_STARTED,
    MSG_INSTANCE_RESTARTED,
    MSG_REBOOT_STARTED,
    REBOOT_SECONDS,
    ChangeCallback,
    ChangeListeners,
    FailoverWindows,
    PendingWindows,
    other_az,
)

__all__ = [
    "RdsFailoverEmulator",
    "ChangeCallback",
    "INSTANCE_FAILOVER_SECONDS",
    "CLUSTER_FAILOVER_SECONDS",
    "REBOOT_SECONDS",
    "MSG_INSTANCE_FAILOVER_COMPLETED",
    "MSG_INSTANCE_FAILOVER_STARTED",
    "MSG_INSTANCE_RESTARTED",
    "MSG_REBOOT_STARTED",
]

logger = logging.getLogger(__name__)

_MISSING = object()
_WRAPPED = ("reboot_db_instance", "failover_db_cluster", "describe_db_instances")

# ForceFailover is parsed by moto's response layer but not passed to the backend; a
# class-level shim hands it over through a thread-local (requests are synchronous).
_request = threading.local()
_shim_lock = threading.Lock()
_shim_users = 0
_original_response_reboot: Callable[..., Any] | None = None


def _response_reboot_with_force_failover(self: Any) -> Any:
    assert _original_response_reboot is not None
    _request.force_failover = bool(self.params.get("ForceFailover"))
    try:
        return _original_response_reboot(self)
    finally:
        _request.force_failover = False


def _acquire_response_shim() -> None:
    global _shim_users, _original_response_reboot
    with _shim_lock:
        if _shim_users == 0:
            _original_response_reboot = rds_responses.RDSResponse.reboot_db_instance
            rds_responses.RDSResponse.reboot_db_instance = _response_reboot_with_force_failover
        _shim_users += 1


def _release_response_shim() -> None:
    global _shim_users, _original_response_reboot
    with _shim_lock:
        _shim_users -= 1
        if _shim_users == 0 and _original_response_reboot is not None:
            rds_responses.RDSResponse.reboot_db_instance = _original_response_reboot
            _original_response_reboot = None


def _make_event(backend: Any, source_id: str, source_type: str, arn: str, message: str) -> None:
    event = Event.__new__(Event)  # moto's Event only knows a fixed map of event types
    event.source_identifier = source_id
    event.source_type = source_type
    event.message = message
    event.event_categories = ["failover"] if "failover" in message.lower() else ["availability"]
    event.source_arn = arn
    event.date = datetime.now(UTC)
    backend.events.append(event)


class RdsFailoverEmulator(Lifecycle):
    """Adds timed failover behaviour to moto's RDS backends of one account and regions.

    Windows: ``failover_seconds`` (instance), ``cluster_failover_seconds``,
    ``reboot_seconds`` (plain reboot), each multiplied by ``time_scale`` (for example
    ``time_scale=0.01`` turns a 90 s failover into 0.9 s for a demo).
    """

    def __init__(
        self,
        failover_seconds: float = INSTANCE_FAILOVER_SECONDS,
        reboot_seconds: float = REBOOT_SECONDS,
        cluster_failover_seconds: float = CLUSTER_FAILOVER_SECONDS,
        time_scale: float = 1.0,
        account_id: str = DEFAULT_ACCOUNT_ID,
        regions: Iterable[str] = ("eu-south-1", "eu-west-1"),
    ) -> None:
        self.windows = FailoverWindows.scaled(
            failover_seconds, reboot_seconds, cluster_failover_seconds, time_scale
        )
        self.failover_window = self.windows.instance_failover
        self.reboot_window = self.windows.reboot
        self.cluster_failover_window = self.windows.cluster_failover
        self.account_id = account_id
        self.regions = tuple(regions)
        self._lock = threading.RLock()
        self._installed: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._pending = PendingWindows(self._lock, on_end=self._ended)
        self._listeners = ChangeListeners()

    # -- install / uninstall -------------------------------------------------------
    def install(self) -> RdsFailoverEmulator:
        """Wrap the backends' methods. Returns self.

        Idempotent, and safe to call again after ``/moto-api/reset`` (a reset wipes the
        wrappers from the backends; calling ``install()`` again puts them back).
        """
        with self._lock:
            if not self._installed:
                _acquire_response_shim()
            for region in self.regions:
                backend = get_backend("rds")[self.account_id][region]
                current = backend.__dict__.get("reboot_db_instance")
                if getattr(current, "emulator", None) is self:
                    continue
                saved = {name: backend.__dict__.get(name, _MISSING) for name in _WRAPPED}
                originals = {name: getattr(backend, name) for name in _WRAPPED}
                wrappers = {
                    "reboot_db_instance": self._wrap_reboot(backend, originals),
                    "failover_db_cluster": self._wrap_cluster_failover(backend, originals),
                    "describe_db_instances": self._wrap_describe(backend, originals),
                }
                for name, wrapper in wrappers.items():
                    wrapper.emulator = self  # type: ignore[attr-defined]
                    setattr(backend, name, wrapper)
                self._installed[region] = (backend, saved)
            logger.info(
                "RDS failover emulation on (%s): instance %.2fs, cluster %.2fs, reboot %.2fs",
                ", ".join(self.regions),
                self.failover_window,
                self.cluster_failover_window,
                self.reboot_window,
            )
        return self

    def uninstall(self) -> None:
        """Cancel pending windows (their DBs end in the final state), restore moto."""
        self._pending.settle()
        with self._lock:
            if not self._installed:
                return
            for backend, saved in self._installed.values():
                for name, value in saved.items():
                    if value is _MISSING:
                        backend.__dict__.pop(name, None)
                    else:
                        setattr(backend, name, value)
            self._installed.clear()
            _release_response_shim()

    def start(self) -> None:
        """:meth:`install`, as every emulator starts (:mod:`sandbox.lifecycle`)."""
        self.install()

    stop = uninstall

    # -- data plane ---------------------------------------------------------------
    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback(db_id, available, writer_az)`` on every transition.

        Returns a function that removes the subscription.
        """
        return self._listeners.add(callback)

    def is_available(self, db_id: str) -> bool:
        """False while the DB instance or cluster is inside a reboot/failover window."""
        with self._lock:
            if self._pending.is_pending(db_id):
                return False
            found = self._find(db_id)
            return found is not None and found[1].status == "available"

    def writer_az(self, db_id: str) -> str:
        """The AZ serving writes: an instance's primary AZ, a cluster's writer's AZ."""
        with self._lock:
            found = self._find(db_id)
            if found is None:
                raise KeyError(f"no DB instance or cluster {db_id!r}")
            kind, model = found
            if kind == "instance":
                return str(model.availability_zone)
            writer = model.writer
            return str(writer.availability_zone) if writer is not None else ""

    def wait_idle(self, timeout: float) -> bool:
        """Block until no window is pending (bounded). True when idle."""
        return self._pending.wait_idle(timeout)

    # -- internals ----------------------------------------------------------------
    def _find(self, db_id: str) -> tuple[str, Any] | None:
        for backend, _ in self._installed.values():
            if db_id in backend.databases:
                return "instance", backend.databases[db_id]
            if db_id in backend.clusters:
                return "cluster", backend.clusters[db_id]
        return None

    def _notify(self, db_id: str, available: bool, az: str) -> None:
        self._listeners.notify(db_id, available, az)

    def _start(self, db_id: str, window: float, finish: Callable[[], None]) -> None:
        self._pending.begin(db_id, window, finish)

    def _ended(self, db_id: str) -> None:
        with self._lock:
            az = self.writer_az(db_id) if self._find(db_id) else ""
        self._notify(db_id, True, az)

    @staticmethod
    def _ensure_secondary(db: Any) -> None:
        if getattr(db, "db_cluster_identifier", None):
            return
        if db.multi_az and not getattr(db, "secondary_availability_zone", None):
            db.secondary_availability_zone = other_az(db.availability_zone)
        if not db.multi_az and getattr(db, "secondary_availability_zone", None):
            db.secondary_availability_zone = None

    def _wrap_describe(self, backend: Any, originals: dict[str, Any]) -> Callable[..., Any]:
        original = originals["describe_db_instances"]

        def describe_db_instances(*args: Any, **kwargs: Any) -> Any:
            found = original(*args, **kwargs)
            for db in found:
                self._ensure_secondary(db)
            return found

        return describe_db_instances

    def _wrap_reboot(self, backend: Any, originals: dict[str, Any]) -> Callable[..., Any]:
        original = originals["reboot_db_instance"]

        def reboot_db_instance(db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
            force = bool(kwargs.pop("force_failover", getattr(_request, "force_failover", False)))
            if db_instance_identifier not in backend.databases:
                raise DBInstanceNotFoundError(db_instance_identifier)
            with self._lock:
                db = backend.databases[db_instance_identifier]
                if db.status != "available" or self._pending.is_pending(db_instance_identifier):
                    raise InvalidDBInstanceStateFault(
                        f"Instance {db_instance_identifier} is not in available state."
                    )
                if force and not db.multi_az:
                    raise InvalidParameterCombination(
                        "ForceFailover is only allowed for a Multi-AZ DB instance."
                    )
                self._ensure_secondary(db)
                result = original(db_instance_identifier, *args, **kwargs)
                db.status = "rebooting"
                if force:
                    self._start_instance_failover(backend, db)
                else:
                    self._start_reboot(backend, db)
                az = db.availability_zone
            self._notify(db_instance_identifier, False, az)
            return result

        return reboot_db_instance

    def _start_instance_failover(self, backend: Any, db: Any) -> None:
        db_id = db.db_instance_identifier
        _make_event(backend, db_id, "db-instance", db.arn, MSG_INSTANCE_FAILOVER_STARTED)

        def finish() -> None:
            db.availability_zone, db.secondary_availability_zone = (
                db.secondary_availability_zone,
                db.availability_zone,
            )
            db.status = "available"
            _make_event(backend, db_id, "db-instance", db.arn, MSG_INSTANCE_RESTARTED)
            _make_event(backend, db_id, "db-instance", db.arn, MSG_INSTANCE_FAILOVER_COMPLETED)
            logger.info("%s failed over to %s", db_id, db.availability_zone)

        self._start(db_id, self.failover_window, finish)

    def _start_reboot(self, backend: Any, db: Any) -> None:
        db_id = db.db_instance_identifier
        _make_event(backend, db_id, "db-instance", db.arn, MSG_REBOOT_STARTED)

        def finish() -> None:
            db.status = "available"
            _make_event(backend, db_id, "db-instance", db.arn, MSG_INSTANCE_RESTARTED)

        self._start(db_id, self.reboot_window, finish)

    def _wrap_cluster_failover(self, backend: Any, originals: dict[str, Any]) -> Callable[..., Any]:
        original = originals["failover_db_cluster"]

        def failover_db_cluster(
            db_cluster_identifier: str, target_db_instance_identifier: str | None = None
        ) -> Any:
            with self._lock:
                cluster = backend.clusters.get(db_cluster_identifier)
                if cluster is not None and (
                    cluster.status != "available" or self._pending.is_pending(db_cluster_identifier)
                ):
                    raise InvalidDBClusterStateFault(
                        f"DBCluster {db_cluster_identifier} is not in available state."
                    )
                old_writer = None
                if cluster is not None and cluster.members:  # .members designates a writer
                    old_writer = cluster.writer
                # moto validates and switches the writer at once; take the switch back
                # and replay it at the end of the window.
                result = original(db_cluster_identifier, target_db_instance_identifier)
                new_writer = result.writer
                if old_writer is not None and new_writer is not old_writer:
                    new_writer.is_cluster_writer = False
                    old_writer.is_cluster_writer = True
                cluster.status = "failing-over"
                az = old_writer.availability_zone if old_writer is not None else ""
                target_id = new_writer.db_instance_identifier
                _make_event(
                    backend,
                    db_cluster_identifier,
                    "db-cluster",
                    cluster.db_cluster_arn,
                    f"Started cross AZ failover to DB instance: {target_id}",
                )

                def finish() -> None:
                    if old_writer is not None:
                        old_writer.is_cluster_writer = False
                    new_writer.is_cluster_writer = True
                    cluster.status = "available"
                    _make_event(
                        backend,
                        db_cluster_identifier,
                        "db-cluster",
                        cluster.db_cluster_arn,
                        f"Completed failover to DB instance: {target_id}",
                    )
                    logger.info("%s writer is now %s", db_cluster_identifier, target_id)

                self._start(db_cluster_identifier, self.cluster_failover_window, finish)
            self._notify(db_cluster_identifier, False, az)
            return result

        return failover_db_cluster
