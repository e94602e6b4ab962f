"""Wire :mod:`sandbox.ec2.instance_power` into moto: StopInstances and StartInstances
take time, as on AWS, and whoever follows an instance's power (the sandbox's API
server of that instance) is told each state as it begins.

moto sets ``stopped``/``running`` at once. :class:`InstancePowerEmulator` wraps moto's
``InstanceBackend.stop_instances``/``start_instances``/``terminate_instances`` in THIS
process: a stop leaves the instance ``stopping`` for the scaled stopping duration, then
``stopped``; a start leaves it ``pending`` for the scaled boot duration, then
``running``; a start while stopping, or a stop while pending, answers
``IncorrectInstanceState`` and changes nothing (see the model for the sources). One
thread ends the transitions and calls the listeners (never from the API call itself).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.instances import InstanceBackend

from sandbox.ec2.instance_power import (
    PENDING_SECONDS,
    STATE_CODES,
    STOPPING_SECONDS,
    IncorrectInstanceState,
    InstancePower,
)
from sandbox.lifecycle import Lifecycle
from sandbox.moto_patching import patch, restore
from sandbox.timing import MIN_SCALED_S

__all__ = ["InstancePowerEmulator", "PowerListener"]

log = logging.getLogger(__name__)

PowerListener = Callable[[str, str], None]  # (instance id, state it entered)
_IDLE_WAKE_S = 0.5


class InstancePowerEmulator(Lifecycle):
    """Durations of StopInstances/StartInstances in moto; ``subscribe`` to follow."""

    def __init__(
        self,
        time_scale: float = 1.0,
        stopping_seconds: float = STOPPING_SECONDS,
        pending_seconds: float = PENDING_SECONDS,
    ) -> None:
        self.power = InstancePower(
            stopping_s=max(MIN_SCALED_S, stopping_seconds * time_scale),
            pending_s=max(MIN_SCALED_S, pending_seconds * time_scale),
        )
        self._originals: dict[tuple[type, str], Any] = {}
        self._listeners: list[PowerListener] = []
        self._instances: dict[str, Any] = {}  # id -> moto Instance under transition
        self._events: collections.deque[tuple[str, str]] = collections.deque()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, listener: PowerListener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        if self._thread is not None:
            return
        patch(self._originals, InstanceBackend, "stop_instances", self._wrap_stop)
        patch(self._originals, InstanceBackend, "start_instances", self._wrap_start)
        patch(self._originals, InstanceBackend, "terminate_instances", self._wrap_terminate)
        self._halt.clear()
        self._thread = threading.Thread(target=self._loop, name="ec2-power", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        restore(self._originals)
        self._halt.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    # -- the wrapped backend calls ------------------------------------------------------
    def _current(self, instances: list[Any]) -> dict[str, str]:
        return {i.id: self.power.state_of(i.id, i._state.name) for i in instances}

    def _settle(self, instances: list[Any], began: dict[str, str]) -> None:
        """After moto's call: each instance in the state the model says, listeners told
        of every transition that began."""
        for instance in instances:
            state = self.power.state_of(instance.id, instance._state.name)
            instance._state.name, instance._state.code = state, STATE_CODES[state]
            if instance.id in began:
                self._instances[instance.id] = instance
                self._notify(instance.id, began[instance.id])

    def _wrap_stop(self, original: Any) -> Any:
        def stop_instances(backend: Any, instance_ids: list[str]) -> Any:
            instances = backend.get_multi_instances_by_id(instance_ids)
            current = self._current(instances)
            self._refuse(current, "pending", "stopped")
            result = original(backend, instance_ids)
            began = {
                i.id: s
                for i in instances
                if (s := self.power.stop(i.id, current[i.id])) is not None
            }
            self._settle(instances, began)
            return result

        return stop_instances

    def _wrap_start(self, original: Any) -> Any:
        def start_instances(backend: Any, instance_ids: list[str]) -> Any:
            instances = backend.get_multi_instances_by_id(instance_ids)
            current = self._current(instances)
            self._refuse(current, "stopping", "started")
            result = original(backend, instance_ids)
            began = {
                i.id: s
                for i in instances
                if (s := self.power.start(i.id, current[i.id])) is not None
            }
            self._settle(instances, began)
            return result

        return start_instances

    def _wrap_terminate(self, original: Any) -> Any:
        def terminate_instances(backend: Any, instance_ids: list[str]) -> Any:
            result = original(backend, instance_ids)
            for instance_id in instance_ids:
                self.power.forget(instance_id)
                self._instances.pop(instance_id, None)
                self._notify(instance_id, "terminated")
            return result

        return terminate_instances

    @staticmethod
    def _refuse(current: dict[str, str], forbidden: str, verb: str) -> None:
        """AWS refuses the whole call (nothing changes) when one instance is in
        ``forbidden``."""
        for instance_id, state in sorted(current.items()):
            if state == forbidden:
                raise EC2ClientError(
                    IncorrectInstanceState.code,
                    f"The instance '{instance_id}' is not in a state from which it can be {verb}.",
                )

    # -- the transitions' thread ------------------------------------------------------
    def _notify(self, instance_id: str, state: str) -> None:
        self._events.append((instance_id, state))
        self._wake.set()

    def _loop(self) -> None:
        while not self._halt.is_set():
            for transition in self.power.due():
                instance = self._instances.pop(transition.instance_id, None)
                state = transition.end_state
                if instance is not None:
                    instance._state.name, instance._state.code = state, STATE_CODES[state]
                self._events.append((transition.instance_id, state))
            while self._events:
                instance_id, state = self._events.popleft()
                log.info("instance %s: %s", instance_id, state)
                for listener in list(self._listeners):
                    try:
                        listener(instance_id, state)
                    except Exception:  # a follower's failure must not stop the clock
                        log.exception("power listener failed for %s -> %s", instance_id, state)
            wait = self.power.next_due()
            self._wake.wait(_IDLE_WAKE_S if wait is None else min(wait, _IDLE_WAKE_S))
            self._wake.clear()
