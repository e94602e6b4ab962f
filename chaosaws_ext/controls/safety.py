"""The safety control: every ending of ``chaos run`` restores the environment.

Declare it LAST in an experiment's ``controls:`` so its after-experiment hook runs after
the others (chaoslib applies controls in list order) and redacts what they wrote::

    controls:
      - name: safety
        provider:
          type: python
          module: chaosaws_ext.controls.safety
          arguments:
            stop_alarms: "${stop_alarms}"      # CloudWatch alarms, comma separated: name,
                                               # region:name or an alarm ARN (stop_alarms.py)
            stop_poll_interval: 5
            allow_unrecorded_actions: false    # chaostoolkit-aws actions we cannot undo

What it does, because Chaos Toolkit alone does not (see FIELD-NOTES):
- starts the run context (run id, ledger path) before anything else;
- SIGTERM (CI cancellation) is turned into the same interruption as Ctrl-C, instead of
  being swallowed by the running activity;
- a dead-man's switch undoes the fault ``max_fault_seconds`` after injection, whatever
  the method is doing, and interrupts the method;
- stop conditions: named CloudWatch alarms (metric or composite, any region) must all exist
  before anything is changed, or the run is refused; they are polled, and one entering
  ALARM undoes the fault at once and interrupts the method (time from alarm to restored
  state is journaled);
- after the experiment (also after an interruption), every unreverted ledger entry of the
  run is undone; a second Ctrl-C during that undo asks before abandoning it;
- a failed fault action marks the run failed (chaos would otherwise exit 0);
- another extension's fault action that a fault of ours adopts (chaostoolkit-aws's
  ``reboot_db_instance`` with ``force_failover``) is guarded, ledgered and timed as ours;
  any other chaostoolkit-aws action in the method is refused before it runs, unless
  ``allow_unrecorded_actions`` is true (:mod:`chaosaws_ext.controls.adoption`);
- the journal is redacted: secret values are masked (``chaosaws_ext.redaction``), and
  from ``configure_control`` on, every record chaos logs (console and log file) too;
  the log file is made owner-only (0600).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from typing import Any

from chaoslib.exceptions import ActivityFailed, InterruptExecution
from chaoslib.types import Configuration, Experiment, Journal, Secrets

from chaosaws_ext import undo
from chaosaws_ext.controls import adoption
from chaosaws_ext.controls.stop_alarms import StopAlarm, check_exist, firing, parse_stop_alarms
from chaosaws_ext.core.clock import iso_utc
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.core.redaction import (
    install_log_redaction,
    redact,
    run_secret_values,
    secret_values,
)
from chaosaws_ext.faults import background_fault_steps
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.locking import LOCK_FAULT
from chaosaws_ext.mutation import (
    close_mutations,
    fault_stamps,
    injected_event,
    open_mutations,
    stamp_reverted,
)
from chaosaws_ext.runcontext import current_run, start_run

__all__ = [
    "configure_control",
    "before_experiment_control",
    "after_experiment_control",
    "before_activity_control",
    "after_activity_control",
    "before_method_control",
    "after_method_control",
]

logger = logging.getLogger("chaosaws_ext")


def _now() -> str:
    return iso_utc()


class _Guard:
    """Per-run state of the control (one experiment per process)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.abort_reason: str | None = None
        self.abort_detail: dict[str, Any] = {}
        self.failed_actions: list[str] = []
        self.in_method = False  # other extensions' actions are adopted or refused there
        # background fault actions of the method (in order), those ended, those failed
        self.method: list[Any] = []
        self.background: list[Any] = []
        self.background_started: set[int] = set()
        self.background_done: set[int] = set()
        self.background_failed: list[str] = []
        self.background_changed = threading.Condition()
        self.threads: list[threading.Thread] = []
        self.previous_sigterm: Any = None
        self.revert_lock = threading.Lock()
        self._abort_lock = threading.Lock()

    def abort(
        self, reason: str, configuration: Configuration, secrets: Secrets, **detail: Any
    ) -> None:
        """Undo now (from a watcher thread) and interrupt the method on the main thread.

        Only the first caller acts: the alarm watcher and the dead-man's switch may fire
        together, and a second interrupt would land in the rollbacks.
        """
        with self._abort_lock:
            if self.abort_reason is not None:
                return
            self.abort_reason = reason
        started = time.monotonic()
        logger.error("ABORT: %s: undoing the fault now", reason)
        outcome = _revert(self, configuration, secrets, reason)
        self.abort_detail = {
            **detail,
            "reason": reason,
            "restored_at": _now(),
            "seconds_to_restore": round(time.monotonic() - started, 3),
            "reverted": outcome,
        }
        if not self.stop.is_set():
            _interrupt_main_thread()


_guard = _Guard()


# The abort's own signal: a real-time signal nothing else uses, whose handler the control
# installs. SIGINT cannot be relied on: a job started with it ignored (nohup, cron, CI
# scripts) keeps SIG_IGN, and a SIGINT sent to it does nothing.
ABORT_SIGNAL = signal.SIGRTMIN + 2


def _on_abort_signal(signum: int, _frame: Any) -> None:
    """Stop the method (KeyboardInterrupt, as Ctrl-C would); late ones are ignored."""
    if _guard.stop.is_set():
        return
    raise KeyboardInterrupt(f"abort: {_guard.abort_reason or 'stop'}")


def _install_abort_handler() -> None:
    """Left installed after the run (a late abort signal must not kill the process)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(ABORT_SIGNAL, _on_abort_signal)


def _interrupt_main_thread() -> None:
    """The abort signal aimed at the main thread: unlike ``_thread.interrupt_main`` it
    also wakes a main thread blocked in C (a sleep, a subprocess wait), so the method
    stops at once (KeyboardInterrupt) instead of when that call returns, whatever the
    disposition of SIGINT."""
    main = threading.main_thread()
    if main.ident is None or not main.is_alive():
        return
    if signal.getsignal(ABORT_SIGNAL) is _on_abort_signal:
        signal.pthread_kill(main.ident, ABORT_SIGNAL)
    elif signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.pthread_kill(main.ident, signal.SIGINT)  # control not started on main
    else:
        logger.error("cannot interrupt the method: no handler for the abort signal")


def _revert(
    guard: _Guard, configuration: Configuration, secrets: Secrets, reason: str
) -> dict[str, Any]:
    """Undo every unreverted entry of the run; stamp each fault undone (its
    ``reverted_at``, as its rollback action would have). First the run stops admitting
    changes and waits for those under way (mutation.close_mutations): a fault action on
    another thread cannot change AWS behind the undo."""
    still_under_way = close_mutations(reason, configuration)
    with guard.revert_lock:
        run = current_run(configuration)
        ledger = Ledger(run.ledger_path)
        fault_of = {e.id: e.fault for e in ledger.unreverted(run_id=run.run_id)}
        results = undo.replay(ledger, configuration, secrets, run_id=run.run_id)
        undone = {fault_of.get(r["entry"]) for r in results if r["ok"]}
        for fault in sorted(undone - {None, LOCK_FAULT}):
            stamp_reverted(fault)
        left = [e.describe() for e in ledger.unreverted(run_id=run.run_id)]
        outcome: dict[str, Any] = {
            "undone": sum(1 for r in results if r["ok"]),
            "left": left,
            "ledger": str(ledger.path),
        }
        if still_under_way:
            outcome["still_under_way"] = still_under_way
        return outcome


def _watch_alarms(
    guard: _Guard,
    alarms: list[StopAlarm],
    interval: float,
    configuration: Configuration,
    secrets: Secrets,
) -> None:
    max_polls = 1_000_000  # bounded; at 1 s that is 11 days
    for _ in range(max_polls):
        try:
            found = firing(alarms, configuration, secrets)
        except Exception as error:  # noqa: BLE001 - keep watching; log loudly
            logger.error("stop-condition watch: describe_alarms failed: %s", error)
            found = None
        if found:
            alarm, state = found
            updated = state.get("StateUpdatedTimestamp")
            guard.abort(
                f"stop condition: alarm {alarm.name} is in ALARM",
                configuration,
                secrets,
                alarm=alarm.name,
                alarm_region=alarm.region,
                alarm_at=updated.isoformat() if hasattr(updated, "isoformat") else updated,
                detected_at=_now(),
            )
            return
        if guard.stop.wait(interval):
            return


def _dead_mans_switch(
    guard: _Guard, seconds: float, configuration: Configuration, secrets: Secrets
) -> None:
    while not guard.stop.is_set():
        if injected_event.wait(0.5):
            break
    else:
        return
    if guard.stop.wait(seconds):
        return
    guard.abort(
        f"maximum fault duration reached ({seconds:g}s)",
        configuration,
        secrets,
        max_fault_seconds=seconds,
    )


def _on_sigterm(signum: int, _frame: Any) -> None:
    logger.warning("SIGTERM: stopping the experiment and undoing the fault")
    raise KeyboardInterrupt("SIGTERM")


def configure_control(
    configuration: Configuration = None,
    secrets: Secrets = None,
    experiment: Any = None,
    **arguments: Any,
) -> None:
    """Mask the run's secret values in everything chaos logs from now on (console and
    log file; the log file made owner-only)."""
    install_log_redaction(_run_secrets(configuration, secrets, experiment))


def _run_secrets(configuration: Configuration, secrets: Secrets, experiment: Any) -> set[str]:
    declared = (experiment or {}).get("secrets") if isinstance(experiment, dict) else None
    return set(run_secret_values(configuration, secrets)) | secret_values(secrets, declared)


def _stop_alarms(value: Any, configuration: Configuration, secrets: Secrets) -> list[StopAlarm]:
    """The named stop alarms, each verified to exist before anything is changed; an
    unknown name (or unreadable alarms) interrupts the run before the method."""
    try:
        alarms = parse_stop_alarms(value or (configuration or {}).get("stop_alarms"), configuration)
        if alarms:
            check_exist(alarms, configuration, secrets)
    except ActivityFailed as error:  # chaos logs it (one line) and ends the run
        raise InterruptExecution(str(error)) from None
    return alarms


def before_experiment_control(
    context: Experiment,
    configuration: Configuration = None,
    secrets: Secrets = None,
    stop_alarms: Any = None,
    stop_poll_interval: float = 5.0,
    **arguments: Any,
) -> None:
    """Start the run (id, ledger), turn SIGTERM into an interruption, start the
    stop-condition watcher (``stop_alarms``) and the dead-man's switch."""
    global _guard
    _guard = _Guard()
    adoption.forget()
    install_log_redaction(_run_secrets(configuration, secrets, context))
    name = (configuration or {}).get("chaos_experiment") or (context or {}).get("title")
    try:  # bad numbers end the run here, before anything (chaos swallows other errors)
        stop_poll_interval = checked_number(
            stop_poll_interval, "stop_poll_interval", above=True, activity="safety control"
        )
        run = start_run(configuration, name)
    except ActivityFailed as error:
        raise InterruptExecution(str(error)) from None
    fault_stamps(clear=True)
    open_mutations(configuration)
    logger.info("run %s, ledger %s", run.run_id, run.ledger_path)
    alarms = _stop_alarms(stop_alarms, configuration, secrets)
    if threading.current_thread() is threading.main_thread():
        _guard.previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
    _install_abort_handler()
    if alarms:
        watcher = threading.Thread(
            target=_watch_alarms,
            name="stop-conditions",
            daemon=True,
            args=(_guard, alarms, float(stop_poll_interval), configuration, secrets),
        )
        _guard.threads.append(watcher)
        watcher.start()
    switch = threading.Thread(
        target=_dead_mans_switch,
        name="dead-mans-switch",
        daemon=True,
        args=(_guard, run.max_fault_seconds, configuration, secrets),
    )
    _guard.threads.append(switch)
    switch.start()


def before_method_control(context: Any = None, **arguments: Any) -> None:
    """From here to the method's end, other extensions' actions are adopted or refused,
    and the background fault actions are joined before each step in the foreground."""
    _guard.in_method = True
    experiment = context if isinstance(context, dict) else {}
    method = experiment.get("method")
    _guard.method = list(method) if isinstance(method, list) else []
    _guard.background = background_fault_steps(experiment)


def _join_background(activity: dict[str, Any], configuration: Configuration) -> None:
    """Before a step in the foreground: wait until every background fault action before
    it in the method has ended (they inject concurrently; the step after them sees
    them all in place), at most the run's max fault duration (the dead-man's switch
    ends the run then). One that failed stops the method here, as one in the
    foreground would."""
    index = next((i for i, a in enumerate(_guard.method) if a is activity), None)
    if index is None:  # not the method's own dict (a ref): the ones already started
        earlier = set(_guard.background_started)
    else:
        earlier = {id(a) for a in _guard.method[:index]}
    waiting = [a for a in _guard.background if id(a) in earlier]
    if not waiting:
        return
    bound = current_run(configuration).max_fault_seconds
    deadline = time.monotonic() + bound
    with _guard.background_changed:
        pending = [a for a in waiting if id(a) not in _guard.background_done]
        if pending:
            names = ", ".join(str(a.get("name")) for a in pending)
            logger.info("%s waits for the background faults: %s", activity.get("name"), names)
        while pending and time.monotonic() < deadline:
            _guard.background_changed.wait(timeout=min(1.0, deadline - time.monotonic()))
            pending = [a for a in waiting if id(a) not in _guard.background_done]
        failed = list(_guard.background_failed)
    if pending:
        raise InterruptExecution(
            f"method stopped: background fault actions still running after {bound:g} s: "
            + ", ".join(str(a.get("name")) for a in pending)
        )
    if failed:
        raise InterruptExecution(
            f"method stopped: background fault action {failed[0]} did not go in "
            "(reason above); rollbacks follow"
        )


def after_method_control(context: Any = None, state: Any = None, **arguments: Any) -> None:
    _guard.in_method = False


def before_activity_control(
    context: dict,
    configuration: Configuration = None,
    secrets: Secrets = None,
    allow_unrecorded_actions: Any = False,
    **arguments: Any,
) -> None:
    """An adopted action of another extension: guardrails and ledger entry before it runs;
    an unrecorded chaostoolkit-aws action in the method: refused (InterruptExecution)."""
    if not _guard.in_method or not isinstance(context, dict):
        return
    if not context.get("background"):
        _join_background(context, configuration)
    elif any(a is context for a in _guard.background):
        with _guard.background_changed:
            _guard.background_started.add(id(context))
    allowed = str(allow_unrecorded_actions).strip().lower() in {"true", "yes", "1"}
    adoption.before_action(context, configuration, secrets, allow_unrecorded=allowed)


def after_activity_control(context: dict, state: Any = None, **arguments: Any) -> None:
    """Remember failed actions (chaos goes on after them and would exit 0)."""
    adopted = isinstance(context, dict) and adoption.after_action(context, state)
    failed = isinstance(state, dict) and state.get("status") == "failed"
    if isinstance(context, dict) and any(a is context for a in _guard.background):
        with _guard.background_changed:  # joined by the next step in the foreground
            if failed:
                _guard.background_failed.append(str(context.get("name")))
            _guard.background_done.add(id(context))
            _guard.background_changed.notify_all()
    if (context or {}).get("type") == "action" and isinstance(state, dict):
        if failed:
            output = state.get("output") or state.get("exception") or ""
            if isinstance(output, list):
                output = output[-1] if output else ""
            reason = str(output).strip().removeprefix("chaoslib.exceptions.ActivityFailed: ")
            _guard.failed_actions.append(f"{context.get('name')}: {reason}")
            if context.get("background"):
                return  # the next step in the foreground stops the method
            if adopted or str(_provider_module(context)).startswith("chaosaws_ext."):
                # a fault that did not go in: the waits that follow would only run out
                # their timeouts; stop the method now (rollbacks and our undo still run).
                # chaos has printed the reason already: say what happens, not it again
                raise InterruptExecution(
                    f"method stopped: fault action {context.get('name')} did not go in "
                    "(reason above); rollbacks follow"
                )


def _provider_module(activity: dict) -> str:
    return str(((activity or {}).get("provider") or {}).get("module") or "")


def _undo_with_confirmation(configuration: Configuration, secrets: Secrets) -> dict[str, Any]:
    """Run the undo in a worker; a Ctrl-C meanwhile asks before abandoning it."""
    result: dict[str, Any] = {}
    interrupted = threading.Event()

    def work() -> None:
        try:
            result.update(_revert(_guard, configuration, secrets, "the experiment ended"))
        except Exception as error:  # noqa: BLE001 - reported in the journal
            result["error"] = str(error)

    def on_interrupt(signum: int, _frame: Any) -> None:
        interrupted.set()

    worker = threading.Thread(target=work, name="undo", daemon=True)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, on_interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
            if not interrupted.is_set():
                continue
            interrupted.clear()
            if not sys.stdin or not sys.stdin.isatty():
                logger.warning(
                    "interrupt ignored: the undo is running (SIGKILL abandons it; "
                    "then run gameday recover)"
                )
                continue
            answer = input("\nUndo in progress. Abandon it and leave the fault in place? [y/N] ")
            if answer.strip().lower() in ("y", "yes"):
                result["abandoned"] = True
                logger.error(
                    "undo abandoned by the user; run gameday recover --ledger %s",
                    current_run(configuration).ledger_path,
                )
                break
    finally:
        if previous:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return result


def after_experiment_control(
    context: Experiment,
    state: Journal = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
    **arguments: Any,
) -> None:
    """Undo every unreverted change of the run, then judge and redact the journal."""
    _guard.stop.set()
    for thread in _guard.threads:
        thread.join(timeout=30)
    if _guard.previous_sigterm is not None:
        signal.signal(signal.SIGTERM, _guard.previous_sigterm)
    outcome = _undo_with_confirmation(configuration, secrets)
    if not isinstance(state, dict):
        return
    run = current_run(configuration)
    safety: dict[str, Any] = {
        "run_id": run.run_id,
        "ledger": str(run.ledger_path),
        "final_undo": outcome,
        "all_reverted": not outcome.get("left")
        and not outcome.get("error")
        and not outcome.get("abandoned"),
    }
    if _guard.abort_reason:
        safety["abort"] = _guard.abort_detail or {"reason": _guard.abort_reason}
        state["status"] = "aborted"
    if _guard.failed_actions:
        safety["failed_actions"] = _guard.failed_actions
        if state.get("status") in ("completed", "interrupted") and not _guard.abort_reason:
            state["status"] = "failed"
    if not safety["all_reverted"] and state.get("status") == "completed":
        state["status"] = "failed"
    before = (state.get("steady_states") or {}).get("before") or {}
    if before.get("steady_state_met") is False and state.get("status") == "completed":
        # chaos skips the method and would exit 0: the game day did not run
        safety["steady_state_before_not_met"] = True
        state["status"] = "failed"
    state["safety"] = safety
    masked = redact(dict(state), _run_secrets(configuration, secrets, context))
    state.clear()
    state.update(masked)
