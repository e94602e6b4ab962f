"""The DR drill's control: judges the failback's monitored windows from the measurement's
samples and adds the runbook step table and the failback to the journal's ``recovery``.

Declare it after the measurement control and before the safety control::

    - name: failback
      provider:
        type: python
        module: chaosaws_ext.controls.failback
        arguments:
          samplers: [api-primary]      # whose samples judge a window (default: all)
          max_error_rate: 0.01         # a window is bad above this share of failures
          max_p99_latency_ms: 1000     # or above this p99 latency of its successes
          time_scale: 1                # the runbook's boxes (5/15/30 min) scaled by it

The fault (``chaosaws_ext.dnsfailover``) asks through the core's window-judge hook, so
it never imports the measurement.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from chaoslib.exceptions import ActivityFailed, InterruptExecution
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.core.timeline import fault_details
from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.core.window_judge import (
    WindowVerdict,
    register_window_judge,
    unregister_window_judge,
)
from probes import session as measurement
from probes.runbook import runbook_table
from probes.windows import DEFAULT_MAX_ERROR_RATE, DEFAULT_MAX_P99_MS, judge_samples

__all__: list[str] = []

logger = logging.getLogger(__name__)


def _number(arguments: dict[str, Any], key: str, default: float) -> float:
    """A finite number >= 0 (chaosaws_ext.core.numbers), or the run interrupted."""
    value = arguments.get(key, default)
    try:
        return checked_number(default if value in (None, "") else value, key,
                              activity="failback control")  # fmt: skip
    except ActivityFailed as error:
        raise InterruptExecution(str(error)) from None


def _judge(arguments: dict[str, Any]) -> Any:
    max_error_rate = _number(arguments, "max_error_rate", DEFAULT_MAX_ERROR_RATE)
    max_p99 = _number(arguments, "max_p99_latency_ms", DEFAULT_MAX_P99_MS)
    wanted = [str(name) for name in arguments.get("samplers") or []]

    def judge(name: str, start_mono: float, end_mono: float) -> WindowVerdict:
        session = measurement.current()
        samplers = [] if session is None else session.samplers
        chosen = [s for s in samplers if not wanted or s.name in wanted]
        if session is not None:
            # the checks sent within the window finish (or time out) first: bounded
            # by one sample timeout
            def settled() -> bool:
                return all((s.oldest_pending() or math.inf) > end_mono for s in chosen)

            try:
                wait_until(
                    settled,
                    timeout=session.sample_timeout + 0.5,
                    interval=0.02,
                    what=f"the samples of window {name}",
                )
            except WaitTimedOut:
                logger.warning("window %s: checks still running; judged without them", name)
        samples = [sample for s in chosen for sample in s.samples()]
        verdict = judge_samples(samples, start_mono, end_mono, max_error_rate, max_p99)
        logger.info("window %s: %s", name, verdict.as_dict())
        return verdict

    return judge


def before_experiment_control(
    context: Any, configuration: Configuration = None, secrets: Secrets = None, **arguments: Any
) -> None:
    """Check the thresholds (a bad one interrupts before anything changes) and register
    the window judge."""
    _number(arguments, "time_scale", 1.0)
    known = {"samplers", "max_error_rate", "max_p99_latency_ms", "time_scale"}
    unknown = sorted(set(arguments) - known)
    if unknown:
        raise InterruptExecution(f"failback control: unknown argument {unknown[0]!r}")
    register_window_judge(_judge(arguments))


def after_experiment_control(
    context: Any, state: Any = None, configuration: Configuration = None, **arguments: Any
) -> None:
    """Add ``recovery.runbook`` and ``recovery.failback`` (after the measurement wrote
    the block), then unregister the judge."""
    unregister_window_judge()
    if not isinstance(state, dict) or not isinstance(state.get("recovery"), dict):
        logger.error("failback control: no recovery block to add the runbook to")
        return
    recovery = state["recovery"]
    phases = (recovery.get("rto") or {}).get("phases") or {}
    recovery["runbook"] = runbook_table(phases, _number(arguments, "time_scale", 1.0))
    failback = fault_details().get("failback")
    if isinstance(failback, dict):
        recovery["failback"] = failback
    for row in recovery["runbook"]:
        logger.info(
            "runbook step %s (%s): %s-%s s, box %s, met %s",
            row["step"],
            row["title"],
            row["started_s"],
            row["ended_s"],
            row["box_s"],
            row["met"],
        )
