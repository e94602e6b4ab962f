"""One FIS experiment executed: targets resolved, actions ordered, stop conditions watched.

:class:`ExperimentRun` is one thread per experiment. It moves the experiment through
FIS's states (:mod:`sandbox.fis.states`): ``initiating`` (every action id, parameter and
target checked, targets resolved once for the whole experiment), ``running`` (an action
starts when every action of its ``startAfter`` has ended; actions without it start
together; each lasts its scaled duration and is reverted exactly at its end), then
``completed``; or ``stopping`` -> ``stopped`` (StopExperiment or a stop-condition alarm:
running actions reverted, pending ones cancelled); or ``failed`` (an unsupported action,
no target, an action whose call failed), with a reason saying which.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.fis import states
from sandbox.fis.actions import ACTIONS, UNSUPPORTED_REASON, ActionContext, ActionSpec, Started
from sandbox.fis.durations import DurationError, scaled_duration
from sandbox.fis.stop_conditions import alarm_arns, triggered
from sandbox.fis.targets import ClientFactory, Resource, TargetError, resolve_target
from sandbox.timing import Timings

__all__ = ["ExperimentRun", "ExperimentSpec", "MAX_EXPERIMENT_S"]

log = logging.getLogger(__name__)

# An action's duration is "from one minute to 12 hours" (AWS FIS user guide, "AWS FIS
# actions reference"): 12 h scaled bounds the experiment loop.
MAX_EXPERIMENT_S = 12 * 3600.0
EMPTY_TARGETS_REASON = "Target resolution returned empty set for target {target}."
_NEVER = float("inf")


@dataclass(frozen=True)
class ExperimentSpec:
    """What an experiment runs: the copy moto made of its template at StartExperiment."""

    experiment_id: str
    region: str
    account: str
    actions: dict[str, dict[str, Any]]
    targets: dict[str, dict[str, Any]]
    stop_conditions: list[dict[str, Any]]
    empty_target_mode: str = "fail"


class _Ended(Exception):
    """The experiment reached a final state inside a step."""


class ExperimentRun:
    """Executes one experiment on its own thread; :meth:`snapshot` is its current state."""

    def __init__(
        self,
        spec: ExperimentSpec,
        *,
        client: ClientFactory,
        timings: Timings,
        rng: random.Random,
        poll_s: float,
    ) -> None:
        self.spec = spec
        self._client = client
        self._timings = timings
        self._rng = rng
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop_reason: str | None = None
        self.status = states.PENDING
        self.reason = states.REASONS[states.PENDING]
        self.end_time: float | None = None
        self.actions: dict[str, dict[str, Any]] = {
            name: {"state": {"status": states.ACTION_PENDING, "reason": "Initial state"}}
            for name in spec.actions
        }
        self.resolved: dict[str, list[Resource]] = {}
        self._reverts: dict[str, Callable[[], None] | None] = {}
        self._thread = threading.Thread(
            target=self._main, name=f"fis-{spec.experiment_id[:8]}", daemon=True
        )

    # -- control ---------------------------------------------------------------------
    def start(self) -> None:
        self._set(states.INITIATING)
        self._thread.start()

    def request_stop(self, reason: str = "Experiment stopped by StopExperiment.") -> None:
        with self._lock:
            if self.status in states.FINAL_STATES or self._stop_reason is not None:
                return
            self._stop_reason = reason
            self.status, self.reason = states.STOPPING, states.REASONS[states.STOPPING]
        self._wake.set()

    def join(self, timeout: float) -> bool:
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def finished(self) -> bool:
        return self.status in states.FINAL_STATES

    def snapshot(self) -> tuple[dict[str, str], dict[str, dict[str, Any]], float | None]:
        with self._lock:
            return (
                {"status": self.status, "reason": self.reason},
                copy.deepcopy(self.actions),
                self.end_time,
            )

    # -- state -------------------------------------------------------------------------
    def _set(self, status: str, reason: str | None = None) -> None:
        with self._lock:
            if self.status in states.FINAL_STATES:
                return
            if self._stop_reason is not None and status not in states.FINAL_STATES:
                return  # a stop was asked: the thread only moves to stopped now
            self.status = status
            self.reason = reason or states.REASONS[status]
            if status in states.FINAL_STATES:
                self.end_time = time.time()
        log.info("FIS experiment %s: %s (%s)", self.spec.experiment_id, status, self.reason)

    def _set_action(self, name: str, status: str, reason: str | None = None) -> None:
        with self._lock:
            action = self.actions[name]
            action["state"] = {
                "status": status,
                "reason": reason or states.ACTION_REASONS.get(status, status),
            }
            now = time.time()
            if status == states.ACTION_INITIATING:
                action["startTime"] = now
            if status in states.FINAL_ACTION_STATES and status != states.ACTION_CANCELLED:
                action.setdefault("startTime", now)
                action["endTime"] = now

    def _action_status(self, name: str) -> str:
        with self._lock:
            return str(self.actions[name]["state"]["status"])

    def _stopping(self) -> str | None:
        with self._lock:
            return self._stop_reason

    # -- the thread ----------------------------------------------------------------------
    def _main(self) -> None:
        try:
            plan = self._initiate()
            self._set(states.RUNNING)
            self._execute(plan)
        except _Ended:
            pass
        except Exception as error:  # an emulator bug must still end the experiment
            log.exception("FIS experiment %s", self.spec.experiment_id)
            self._end(states.FAILED, f"Experiment failed: {type(error).__name__}: {error}")

    def _fail(self, reason: str) -> None:
        self._end(states.FAILED, reason)
        raise _Ended

    def _initiate(self) -> dict[str, tuple[ActionSpec, float | None]]:
        plan: dict[str, tuple[ActionSpec, float | None]] = {}
        for name, action in self.spec.actions.items():
            action_id = str(action.get("actionId", ""))
            spec = ACTIONS.get(action_id)
            if spec is None:
                self._fail(UNSUPPORTED_REASON.format(name=name, action_id=action_id) + ".")
            assert spec is not None
            parameters = action.get("parameters") or {}
            missing = [p for p in spec.required if not parameters.get(p)]
            if missing:
                self._fail(f"Action {name} ({action_id}) lacks parameter {missing[0]}.")
            duration = None
            if spec.duration_parameter and parameters.get(spec.duration_parameter):
                try:
                    duration = scaled_duration(parameters[spec.duration_parameter], self._timings)
                except DurationError as error:
                    self._fail(f"Action {name} ({action_id}): {error}.")
            for after in action.get("startAfter") or []:
                if after not in self.spec.actions:
                    self._fail(f"Action {name} starts after unknown action {after}.")
            named = action.get("targets") or {}
            if spec.target_key is not None and spec.target_key not in named:
                self._fail(f"Action {name} ({action_id}) needs target {spec.target_key}.")
            for key, target in named.items():
                if spec.target_key is not None and key != spec.target_key:
                    self._fail(f"Action {name} ({action_id}) has no target key {key}.")
                if target not in self.spec.targets:
                    self._fail(f"Action {name} names unknown target {target}.")
            plan[name] = (spec, duration)
        used = {t for a in self.spec.actions.values() for t in (a.get("targets") or {}).values()}
        for target_name in sorted(used):
            try:
                self.resolved[target_name] = resolve_target(
                    self._client,
                    self.spec.targets[target_name],
                    self.spec.region,
                    self.spec.account,
                    self._rng,
                )
            except TargetError as error:
                self._fail(f"Target {target_name}: {error}.")
            if not self.resolved[target_name] and self.spec.empty_target_mode != "skip":
                self._fail(EMPTY_TARGETS_REASON.format(target=target_name))
        return plan

    def _ready(self, name: str) -> bool:
        done = {states.ACTION_COMPLETED, states.ACTION_SKIPPED}
        after = self.spec.actions[name].get("startAfter") or []
        return all(self._action_status(a) in done for a in after)

    def _start_action(self, name: str, spec: ActionSpec) -> float:
        """Start ``name``; returns when it ends (monotonic), inf if it already ended."""
        action = self.spec.actions[name]
        targets = {
            key: self.resolved.get(target, [])
            for key, target in (action.get("targets") or {}).items()
        }
        if targets and not any(targets.values()):
            self._set_action(
                name, states.ACTION_SKIPPED, "Action skipped: its targets resolved to nothing."
            )
            return _NEVER
        self._set_action(name, states.ACTION_INITIATING)
        context = ActionContext(
            client=self._client,
            region=self.spec.region,
            account=self.spec.account,
            timings=self._timings,
            parameters={k: str(v) for k, v in (action.get("parameters") or {}).items()},
            targets=targets,
        )
        try:
            started: Started = spec.run(context)
        except Exception as error:
            reason = f"Action {name} ({action.get('actionId')}) failed: {error}"
            self._set_action(name, states.ACTION_FAILED, reason)
            self._fail(reason + ".")
        self._reverts[name] = started.revert
        if started.duration_s is None:
            self._finish_action(name, states.ACTION_COMPLETED)
            return _NEVER
        self._set_action(name, states.ACTION_RUNNING)
        return time.monotonic() + started.duration_s

    def _finish_action(self, name: str, status: str, reason: str | None = None) -> None:
        revert = self._reverts.pop(name, None)
        if status == states.ACTION_STOPPED:
            self._set_action(name, states.ACTION_STOPPING)
        problem = None
        if revert is not None:
            try:
                revert()
            except Exception as error:
                log.exception("FIS action %s: revert failed", name)
                problem = f"revert failed: {error}"
        self._set_action(
            name, status if problem is None else states.ACTION_FAILED, problem or reason
        )

    def _end(self, status: str, reason: str) -> None:
        """Revert what runs, cancel what waits, then the final state."""
        for name in list(self.spec.actions):
            current = self._action_status(name)
            if current in (states.ACTION_RUNNING, states.ACTION_INITIATING):
                self._finish_action(name, states.ACTION_STOPPED)
            elif current == states.ACTION_PENDING:
                self._set_action(name, states.ACTION_CANCELLED)
        with self._lock:
            self._stop_reason = None  # let the final state through
        self._set(status, reason)

    def _execute(self, plan: dict[str, tuple[ActionSpec, float | None]]) -> None:
        ends: dict[str, float] = {}
        arns = alarm_arns(self.spec.stop_conditions)
        next_poll = time.monotonic()
        bound = time.monotonic() + self._timings.scaled(MAX_EXPERIMENT_S) + 60.0
        while time.monotonic() < bound:
            stop = self._stopping()
            if stop is not None:
                self._end(states.STOPPED, stop)
                return
            now = time.monotonic()
            for name, end in list(ends.items()):
                if end <= now:
                    del ends[name]
                    self._finish_action(name, states.ACTION_COMPLETED)
            for name, (spec, _duration) in plan.items():
                if self._action_status(name) == states.ACTION_PENDING and self._ready(name):
                    end = self._start_action(name, spec)
                    if end != _NEVER:
                        ends[name] = end
            if all(self._action_status(n) in states.FINAL_ACTION_STATES for n in plan):
                self._end(states.COMPLETED, states.REASONS[states.COMPLETED])
                return
            if arns and time.monotonic() >= next_poll:
                alarm = triggered(self._client, arns)
                if alarm is not None:
                    self._end(states.STOPPED, f"Experiment stopped by stop condition {alarm}.")
                    return
                next_poll = time.monotonic() + self._poll_s
            wake_at = min([*ends.values(), next_poll if arns else _NEVER, bound])
            self._wake.wait(max(0.0, min(wake_at - time.monotonic(), 1.0)))
            self._wake.clear()
        self._end(states.FAILED, "Experiment failed: it ran past the 12 h FIS maximum.")
