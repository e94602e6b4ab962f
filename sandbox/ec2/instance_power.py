"""EC2 instance power states with durations: what moto's instant StopInstances and
StartInstances lack.

AWS (Amazon EC2 User Guide, "Stop and start Amazon EC2 instances" and "Amazon EC2
instance state changes", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html):
"When you stop an instance, it enters the stopping state, and then the stopped state";
"When you start an instance, it enters the pending state, and then the running state".
A stopping instance cannot be started and a pending one cannot be stopped: the call
answers ``IncorrectInstanceState`` (EC2 API reference, "Error codes": "The instance is
in an incorrect state for the requested operation"); stopping an instance already
stopping or stopped, or starting one pending or running, changes nothing.

AWS publishes no duration for either transition (it depends on the OS shutdown and
boot). The defaults are stated conservative choices, parameters so a test picks its
own, multiplied by the sandbox's time scale: :data:`STOPPING_SECONDS` (a graceful OS
shutdown of a small Linux instance) and :data:`PENDING_SECONDS` (boot to a serving
application). This module imports no moto: :mod:`sandbox.ec2.instances_patch` wires it in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "STOPPING_SECONDS",
    "PENDING_SECONDS",
    "STATE_CODES",
    "IncorrectInstanceState",
    "InstancePower",
    "Transition",
]

STOPPING_SECONDS = 30.0  # no published figure: a conservative graceful shutdown
PENDING_SECONDS = 60.0  # no published figure: a conservative boot to a serving app
# the codes EC2 describes with each state name (EC2 API reference, InstanceState)
STATE_CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}
_ENDS = {"stopping": "stopped", "pending": "running"}


class IncorrectInstanceState(Exception):
    """The call is not allowed in the instance's current state (AWS's error code)."""

    code = "IncorrectInstanceState"


@dataclass(frozen=True)
class Transition:
    """An instance in ``state`` until ``ends_at`` (monotonic), then in its end state."""

    instance_id: str
    state: str
    ends_at: float

    @property
    def end_state(self) -> str:
        return _ENDS[self.state]


class InstancePower:
    """The transitional states of instances: :meth:`stop` and :meth:`start` say what
    a call does from an instance's current state, :meth:`due` hands back the
    transitions that have ended (their end state is the instance's state from then)."""

    def __init__(
        self,
        stopping_s: float = STOPPING_SECONDS,
        pending_s: float = PENDING_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if stopping_s < 0 or pending_s < 0:
            raise ValueError("transition durations must be >= 0")
        self.stopping_s, self.pending_s = stopping_s, pending_s
        self._clock = clock
        self._lock = threading.Lock()
        self._transitions: dict[str, Transition] = {}

    def state_of(self, instance_id: str, settled: str) -> str:
        """The instance's state: its transition's, else ``settled`` (what moto holds)."""
        with self._lock:
            found = self._transitions.get(instance_id)
        return found.state if found is not None else settled

    def stop(self, instance_id: str, settled: str) -> str | None:
        """The state a StopInstances puts the instance in: ``stopping`` from running;
        None (no change) when stopping or stopped already; refused when pending."""
        return self._begin(instance_id, settled, "stopping", "running", ("stopping", "stopped"))

    def start(self, instance_id: str, settled: str) -> str | None:
        """The state a StartInstances puts the instance in: ``pending`` from stopped;
        None (no change) when pending or running already; refused when stopping."""
        return self._begin(instance_id, settled, "pending", "stopped", ("pending", "running"))

    def _begin(
        self, instance_id: str, settled: str, state: str, source: str, unchanged: tuple[str, ...]
    ) -> str | None:
        with self._lock:
            current = self._transitions.get(instance_id)
            now = current.state if current is not None else settled
            if now in unchanged:
                return None
            if now != source:
                verb = "stopped" if state == "stopping" else "started"
                raise IncorrectInstanceState(
                    f"The instance '{instance_id}' is not in a state from which it can be {verb}."
                )
            seconds = self.stopping_s if state == "stopping" else self.pending_s
            self._transitions[instance_id] = Transition(instance_id, state, self._clock() + seconds)
            return state

    def forget(self, instance_id: str) -> None:
        """The instance left the transitions (terminated)."""
        with self._lock:
            self._transitions.pop(instance_id, None)

    def due(self) -> list[Transition]:
        """The transitions that have ended, removed (their end state now holds)."""
        now = self._clock()
        with self._lock:
            ended = [t for t in self._transitions.values() if t.ends_at <= now]
            for transition in ended:
                del self._transitions[transition.instance_id]
        return sorted(ended, key=lambda t: t.ends_at)

    def next_due(self) -> float | None:
        """Seconds until the next transition ends (None: none under way)."""
        with self._lock:
            ends = [t.ends_at for t in self._transitions.values()]
        return None if not ends else max(0.0, min(ends) - self._clock())
