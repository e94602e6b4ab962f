"""Probes over the live measurement of this ``chaos run`` (started by the control).

- ``wait_for_recovery``: the method's last step; returns once the outage is followed by
  K consecutive successes on every judging sampler (or no outage was seen for
  ``quiet_period`` seconds after t0); fails at ``timeout`` with ActivityFailed.
- ``wait_for_replication_caught_up``: the DR drill's failback waits, bounded, for every
  marker acknowledged so far to be in the replica before traffic moves back;
- ``verify_restored_markers``: a restore drill's step once the restored instance
  answers: reads the run's markers back from it (:mod:`probes.drills`);
- ``rto_within_target`` / ``rpo_within_target``: verdicts for the after-hypothesis, used
  with the tolerance ``{type: jsonpath, path: "$.met", expect: true}`` so that a missed
  target makes the run deviate (``chaos run`` exits 1).

They need the measurement control (``chaosaws_ext.controls.measurement``) declared in
the experiment's ``controls:``; without it they fail with that advice.
"""

from __future__ import annotations

import time
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.numbers import checked_integer, checked_number
from chaosaws_ext.core.timeline import mark_phase
from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from probes import drills
from probes import session as measurement
from probes.dr_targets import TargetsError, meets, target_for

__all__ = [
    "wait_for_recovery",
    "hold_symptoms",
    "wait_for_replication_caught_up",
    "verify_restored_markers",
    "rto_within_target",
    "rpo_within_target",
]

_NO_CONTROL = (
    "no measurement running: declare the control chaosaws_ext.controls.measurement "
    "in the experiment's controls: block"
)


def _session() -> measurement.MeasurementSession:
    session = measurement.current()
    if session is None or session.started_mono is None:
        raise ActivityFailed(_NO_CONTROL)
    return session


def _before_method(service: str | None) -> dict[str, Any] | None:
    """The steady-state hypothesis also runs before the method: nothing to judge yet."""
    session = measurement.current()
    if session is None:
        raise ActivityFailed(_NO_CONTROL)
    if session.started_mono is not None:
        return None
    return {
        "service": service or session.spec.service,
        "measured_s": None,
        "met": True,
        "phase": "before-method",
        "reason": "nothing measured yet: sampling starts with the method",
    }


def wait_for_recovery(
    timeout: float = 600.0,
    consecutive: int | None = None,
    quiet_period: float = 60.0,
    service: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Wait until the service is back: an outage then ``consecutive`` successes (K).
    With several services measured, until every one is back (or ``service`` only);
    the result then carries each one's under ``services``.

    ``consecutive`` defaults to the control's K. Returns ``{"outage", "rto_s",
    "waited_s"}``. When no sample has failed ``quiet_period`` s after t0, returns with
    ``outage: false`` (the fault did not reach the data plane). Fails with ActivityFailed
    at ``timeout`` s (the outage never ended) or at once when no fault was stamped.
    """
    # values substituted from env vars may arrive as strings; checked before anything
    where = "wait_for_recovery"
    timeout = checked_number(timeout, "timeout", above=True, activity=where)
    quiet_period = checked_number(quiet_period, "quiet_period", above=True, activity=where)
    if consecutive not in (None, ""):
        consecutive = checked_integer(
            consecutive, "consecutive", minimum=1, maximum=1000, activity=where
        )
    else:
        consecutive = None
    main = _session()
    sessions = main.sessions()
    if service not in (None, ""):
        chosen = main.session_of(service)
        if chosen is None:
            raise ActivityFailed(f"wait_for_recovery: {_not_measured(main, service)}")
        sessions = [chosen]
    if consecutive is not None:
        for session in sessions:
            session.spec.consecutive = consecutive
    start = time.monotonic()
    deadline = start + timeout
    poll = min(0.05, min(s.interval for s in sessions) / 2)
    while True:
        states = [_recovery_state(session, quiet_period) for session in sessions]
        now = time.monotonic()
        if all(state is not None for state in states):
            outage = any(state["outage"] for state in states if state)
            result: dict[str, Any] = {
                "outage": outage,
                "rto_s": max(state["rto_s"] for state in states if state),
                "waited_s": round(now - start, 3),
            }
            if len(sessions) > 1:
                result["services"] = {
                    s.spec.service: state for s, state in zip(sessions, states, strict=True)
                }
            return result
        if now >= deadline:
            waiting = [s for s, state in zip(sessions, states, strict=True) if state is None]
            parts = []
            for session in waiting:
                failing = any(r.outage for r in _judged(session))
                state = "still failing" if failing else "no outage seen yet"
                parts.append(
                    f"{session.spec.service}: {state}; K={session.spec.consecutive}, window "
                    f"{session.spec.recovery_window_s:g}s, interval {session.interval:g}s"
                )
            raise ActivityFailed(
                f"wait_for_recovery: not recovered within {timeout:g}s ({'; '.join(parts)})"
            )
        time.sleep(min(poll, max(0.0, deadline - now)))


def _judged(session: measurement.MeasurementSession) -> list[Any]:
    by_sampler = session.rto_by_sampler(settled=True) or {}
    return [by_sampler[s.name] for s in session.samplers if s.judge]


def _recovery_state(
    session: measurement.MeasurementSession, quiet_period: float
) -> dict[str, Any] | None:
    """``{outage, rto_s}`` once ``session``'s service is back (or saw no outage for
    ``quiet_period`` s after t0); None while waiting. ActivityFailed without a t0."""
    t0 = session.t0()
    if t0 is None:
        raise ActivityFailed(
            "wait_for_recovery: no t0: the fault action did not call stamp_injected and "
            "no method action ran before this probe"
        )
    outages = [r for r in _judged(session) if r.outage]
    if outages and all(r.recovered for r in outages):
        return {"outage": True, "rto_s": round(max(r.measured_s or 0.0 for r in outages), 3)}
    if not outages and time.monotonic() - t0.monotonic >= quiet_period:
        return {"outage": False, "rto_s": 0.0}
    return None


def _not_measured(session: measurement.MeasurementSession, service: str | None) -> str:
    known = ", ".join(repr(s.spec.service) for s in session.sessions())
    return f"service {service!r} is not measured in this run (measured: {known})"


HOLD_SLICE_S = 1.0  # the hold sleeps in slices: an interruption lands between two


def hold_symptoms(
    duration: float, configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Keep the faults in place until ``duration`` s after the scenario's t0 (its first
    injection), as an AWS FIS scenario's actions last their duration (the AZ power
    interruption: 30 minutes), then let the method end them. Returns at once when that
    moment has passed. Ctrl-C, SIGTERM, a stop alarm and the dead-man's switch end the
    hold like any other step."""
    duration = checked_number(duration, "duration", above=False, activity="hold_symptoms")
    session = _session()
    t0 = session.t0()
    if t0 is None:
        raise ActivityFailed("hold_symptoms: no t0: no fault was injected before this probe")
    end = t0.monotonic + duration
    started = time.monotonic()
    slices = int(duration / HOLD_SLICE_S) + 2  # bounded: the whole duration in slices
    for _ in range(slices):
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(HOLD_SLICE_S, left))
    return {
        "symptoms_s": duration,
        "held_s": round(time.monotonic() - started, 3),
        "since_t0_s": round(time.monotonic() - t0.monotonic, 3),
    }


def wait_for_replication_caught_up(
    timeout: float = 300.0,
    interval: float = 0.1,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Wait (bounded by ``timeout``) until every write marker acknowledged so far is
    present in the replica (the lag poller saw it): the failback's "all data is
    synchronized" before traffic moves back. Stamps ``replication_caught_up``; a
    timeout fails, naming how many are still missing."""
    where = "wait_for_replication_caught_up"
    timeout = checked_number(timeout, "timeout", above=True, activity=where)
    interval = checked_number(interval, "interval", above=True, activity=where)
    session = _session()
    writer, poller = session.writer, session.poller
    if writer is None or poller is None:
        raise ActivityFailed(f"{where}: the measurement has no markers watched in a replica")
    start = time.monotonic()
    upto = start

    def missing() -> int:
        return sum(
            1
            for m in writer.markers()
            if m.acked and (m.ack_mono or 0) <= upto and m.seen_mono is None
        )

    try:
        wait_until(lambda: missing() == 0, timeout=timeout, interval=interval, what=where)
    except WaitTimedOut:
        raise ActivityFailed(
            f"{where}: {missing()} acknowledged markers still not in the replica after "
            f"{timeout:g} s"
        ) from None
    mark_phase("replication_caught_up")
    return {"caught_up": True, "waited_s": round(time.monotonic() - start, 3)}


def verify_restored_markers(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Restore drill: read this run's write markers back from the restored database
    (before it is deleted); returns the verification (every marker acknowledged at or
    before the restore point present), the restore RPO and RTO. The verdicts then judge
    these figures. A DynamoDB table restore is verified by :mod:`probes.dynamodb_drills`."""
    restore = drills.reported_restore()
    if restore is not None and drills.is_table_restore(restore):
        from probes.dynamodb_drills import verify_restored_markers as verify_table

        return verify_table(configuration, secrets)
    return drills.verify(_session())


def _check_service(
    main: measurement.MeasurementSession,
    service: str | None,
    targets_file: str | None,
    configuration: Configuration,
) -> tuple[measurement.MeasurementSession, Any]:
    """The session measuring ``service`` (default: the control's) and its target."""
    session = main.session_of(service)
    if session is None:
        raise ActivityFailed(_not_measured(main, service))
    if targets_file:
        try:
            return session, target_for(session.spec.service, targets_file, configuration)
        except TargetsError as error:
            raise ActivityFailed(str(error)) from error
    return session, session.spec.target


def _within_target(
    figure: str, service: str | None, targets_file: str | None, configuration: Configuration
) -> dict[str, Any]:
    """The control's verdict on ``figure`` ("rto" or "rpo"), judged again against
    ``targets_file``'s target when one is given."""
    early = _before_method(service)
    if early is not None:
        return early
    session, target = _check_service(_session(), service, targets_file, configuration)
    verdict = session.rto_verdict() if figure == "rto" else session.rpo_verdict()
    if target is not session.spec.target:
        target_s, bound = getattr(target, f"{figure}_s"), getattr(target, f"{figure}_bound")
        met = meets(verdict["measured_s"], target_s, bound)
        verdict.update(target_s=target_s, bound=bound, met=True if met is None else met)
    return verdict


def rto_within_target(
    service: str | None = None,
    targets_file: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Measured RTO vs the DR plan's target: ``{measured_s, target_s, resolution_s, met}``.

    ``service`` defaults to the control's; ``targets_file`` overrides the control's file.
    Before the method (the hypothesis runs twice) it returns ``met: true``,
    ``phase: before-method``.
    """
    return _within_target("rto", service, targets_file, configuration)


def rpo_within_target(
    service: str | None = None,
    targets_file: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Measured RPO (write markers) vs the target: ``{measured_s, target_s, lost, met}``.

    Before the method it returns ``met: true``, ``phase: before-method``.
    """
    return _within_target("rpo", service, targets_file, configuration)
