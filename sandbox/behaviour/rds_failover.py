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

Transitions run on ``threading.Timer`` threads (no sleep loops); :meth:`uninstall`
cancels pending timers, settles their DBs to the end state and restores moto's methods.
This module is "AWS": it imports nothing from chaosaws_ext, probes or gameday.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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

__all__ = [
    "RdsFailoverEmulator",
    "ChangeCallback",
    "INSTANCE_FAILOVER_SECONDS",
    "CLUSTER_FAILOVER_SECONDS",
    "REBOOT_SECONDS",
]

logger = logging.getLogger("sandbox.rds_failover")

# Published AWS figures (RDS User Guide): a Multi-AZ DB instance failover "typically
# completes within 60-120 seconds" -> midpoint 90 s; a Multi-AZ DB cluster fails over
# "typically under 35 seconds" -> 30 s (Aurora failover is of the same order).
INSTANCE_FAILOVER_SECONDS = 90.0
CLUSTER_FAILOVER_SECONDS = 30.0
# No published figure for a plain reboot; an assumption of the same order as a failover.
REBOOT_SECONDS = 60.0

_MISSING = object()
_WRAPPED = ("reboot_db_instance", "failover_db_cluster", "describe_db_instances")

MSG_INSTANCE_FAILOVER_STARTED = "Multi-AZ instance failover started."
MSG_INSTANCE_RESTARTED = "DB instance restarted"
MSG_INSTANCE_FAILOVER_COMPLETED = "Multi-AZ instance failover completed."
MSG_REBOOT_STARTED = "DB instance shutdown"

# ChangeCallback(db_id, available, writer_az): called when a DB leaves or regains
# availability, from the request thread (start) or a timer thread (end). Keep it quick.
ChangeCallback = Callable[[str, bool, str], None]

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


def _other_az(az: str) -> str:
    """The standby AZ moto never assigns: the next AZ letter of the same region."""
    region, letter = az[:-1], az[-1:]
    return f"{region}{'b' if letter == 'a' else 'a'}"


def _make_event(backend: Any, source_id: str, source_type: str, arn: str, message: str) -> None:
    event = Event.__new__(Event)  # moto's Event only knows a fixed map of event types
    event.source_identifier = source_id
    event.source_type = source_type
    event.message = message
    event.event_categories = ["failover"] if "failover" in message.lower() else ["availability"]
    event.source_arn = arn
    event.date = datetime.now(UTC)
    backend.events.append(event)


@dataclass
class _Pending:
    """One transition in flight: what to do at the end of its window."""

    db_id: str
    finish: Callable[[], None]
    timer: threading.Timer | None = None
    done: threading.Event = field(default_factory=threading.Event)


class RdsFailoverEmulator:
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
        if time_scale <= 0 or min(failover_seconds, reboot_seconds, cluster_failover_seconds) < 0:
            raise ValueError("windows must be >= 0 and time_scale > 0")
        self.failover_window = failover_seconds * time_scale
        self.reboot_window = reboot_seconds * time_scale
        self.cluster_failover_window = cluster_failover_seconds * time_scale
        self.account_id = account_id
        self.regions = tuple(regions)
        self._lock = threading.RLock()
        self._installed: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._pending: dict[str, _Pending] = {}
        self._timers: list[threading.Timer] = []
        self._listeners: list[ChangeCallback] = []

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
        with self._lock:
            pending = list(self._pending.values())
        for item in pending:
            if item.timer is not None:
                item.timer.cancel()
            self._complete(item)
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            if timer is not threading.current_thread():
                timer.join(timeout=1.0)
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

    def __enter__(self) -> RdsFailoverEmulator:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # -- data plane ---------------------------------------------------------------
    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback(db_id, available, writer_az)`` on every transition.

        Returns a function that removes the subscription.
        """
        with self._lock:
            self._listeners.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return remove

    def is_available(self, db_id: str) -> bool:
        """False while the DB instance or cluster is inside a reboot/failover window."""
        with self._lock:
            if db_id in self._pending:
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
        with self._lock:
            pending = list(self._pending.values())
        for item in pending:
            if not item.done.wait(timeout):
                return False
        return True

    # -- internals ----------------------------------------------------------------
    def _find(self, db_id: str) -> tuple[str, Any] | None:
        for backend, _ in self._installed.values():
            if db_id in backend.databases:
                return "instance", backend.databases[db_id]
            if db_id in backend.clusters:
                return "cluster", backend.clusters[db_id]
        return None

    def _notify(self, db_id: str, available: bool, az: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(db_id, available, az)
            except Exception:  # noqa: BLE001 - a broken listener must not break "AWS"
                logger.exception("RDS failover listener failed for %s", db_id)

    def _start(self, db_id: str, window: float, finish: Callable[[], None]) -> None:
        item = _Pending(db_id=db_id, finish=finish)
        with self._lock:
            self._pending[db_id] = item
            item.timer = threading.Timer(window, self._complete, args=(item,))
            item.timer.daemon = True
            item.timer.name = f"rds-failover-{db_id}"
            item.timer.start()
            self._timers = [t for t in self._timers if t.is_alive()] + [item.timer]

    def _complete(self, item: _Pending) -> None:
        with self._lock:
            if self._pending.get(item.db_id) is not item or item.done.is_set():
                return
            try:
                item.finish()
            finally:
                del self._pending[item.db_id]
                item.done.set()
            az = self.writer_az(item.db_id) if self._find(item.db_id) else ""
        self._notify(item.db_id, True, az)

    @staticmethod
    def _ensure_secondary(db: Any) -> None:
        if getattr(db, "db_cluster_identifier", None):
            return
        if db.multi_az and not getattr(db, "secondary_availability_zone", None):
            db.secondary_availability_zone = _other_az(db.availability_zone)
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
                if db.status != "available" or db_instance_identifier in self._pending:
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
                    cluster.status != "available" or db_cluster_identifier in self._pending
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
