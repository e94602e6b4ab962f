"""Read the FIS experiment this run started: its state now, or at its end (bounded)."""

from __future__ import annotations

import re
import time
from functools import partial
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import MANAGED_BY, TAG_FAULT, TAG_MANAGED
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.core.timeline import mark_phase, note_fault_detail
from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.fis import FAULT
from chaosaws_ext.fis.experiments import (
    TERMINAL,
    ExperimentState,
    experiments_of,
    read_experiment,
    tags_of,
)
from chaosaws_ext.fis.injections import recall
from chaosaws_ext.fis.undo import ended_state

__all__ = ["experiment_state", "wait_for_experiment_end", "no_experiment_of_ours_running"]


def _started(experiment_id: str | None) -> tuple[str, str | None]:
    if experiment_id:
        return experiment_id, None
    started = recall()
    if started is None:
        raise ActivityFailed(f"{FAULT}: no FIS experiment started in this run (name experiment_id)")
    return started.experiment_id, started.region


def _phase_name(action: str, event: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]", "_", action.lower()).strip("_") or "action"
    return f"fis_{cleaned}_{event}"[:62]


def _mark_action_phases(state: ExperimentState) -> None:
    """Each FIS action's start and end on the run's timeline (``fis_<action>_started``)."""
    now_wall, now_mono = time.time(), time.monotonic()
    for name, action in state.actions.items():
        for event, moment in (("started", action.start), ("ended", action.end)):
            if moment is not None:
                mark_phase(_phase_name(name, event), now_mono - (now_wall - moment.timestamp()))


def experiment_state(
    experiment_id: str | None = None, configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """The experiment's state, reason, actions (states, start and end) now."""
    experiment_id, region = _started(experiment_id)
    fis = aws_client("fis", configuration, secrets, region)
    return read_experiment(fis, experiment_id).to_dict()


def wait_for_experiment_end(
    experiment_id: str | None = None,
    timeout: float = 3600,
    poll_interval: float = 2.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Wait (at most ``timeout`` s) until FIS ends the experiment; its final state, each
    action's times (also as phases), and FIS's stop conditions go into the journal.
    Not ended in time: fails (the rollback stops it)."""
    timeout = checked_number(timeout, "timeout", above=True, activity="wait_for_experiment_end")
    poll_interval = checked_number(
        poll_interval, "poll_interval", above=True, activity="wait_for_experiment_end"
    )
    experiment_id, region = _started(experiment_id)
    fis = aws_client("fis", configuration, secrets, region)
    try:
        state: ExperimentState = wait_until(
            partial(ended_state, fis, experiment_id),
            timeout=timeout,
            interval=poll_interval,
            what=f"FIS experiment {experiment_id} to end",
        )
    except WaitTimedOut:
        raise ActivityFailed(
            f"{FAULT}: FIS experiment {experiment_id} still running after {timeout:g} s"
        ) from None
    _mark_action_phases(state)
    result = state.to_dict()
    note_fault_detail("fis_final", {"status": state.status, "reason": state.reason})
    return result


def no_experiment_of_ours_running(
    configuration: Configuration = None, secrets: Secrets = None
) -> bool:
    """Steady state: no FIS experiment started by chaosaws-ext is still running here
    (another run's, or one a crash left: ``gameday recover`` stops those)."""
    fis = aws_client("fis", configuration, secrets)
    for summary in experiments_of(fis):
        tags = tags_of(summary)
        status = str((summary.get("state") or {}).get("status", ""))
        if tags.get(TAG_MANAGED) == MANAGED_BY and tags.get(TAG_FAULT) == FAULT:
            if status not in TERMINAL:
                return False
    return True
