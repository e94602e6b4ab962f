"""Start an FIS experiment under our ledger and t0; end it early (after the recovery
was measured) with the same undo the rollback and ``gameday recover`` use."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import chaos_tags
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.core.timeline import mark_phase, note_fault_detail
from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.fis import FAULT
from chaosaws_ext.fis.experiments import (
    NOT_A_FAULT,
    TOKEN_TAG,
    ExperimentState,
    first_fault_start,
    read_experiment,
)
from chaosaws_ext.fis.injections import Started, remember
from chaosaws_ext.fis.planning import plan_experiment_start
from chaosaws_ext.fis.undo import DELETE_TEMPLATE, STOP_EXPERIMENT
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.runcontext import current_run
from chaosaws_ext.undo import revert_faults

__all__ = ["start_experiment", "end_experiment"]

logger = logging.getLogger(__name__)


def _token(run_id: str, what: str) -> str:
    """Idempotency token (FIS: at most 64 characters), unique per run and purpose."""
    return f"{what}-{run_id}"[-64:]


def start_experiment(
    template_id: str | None = None,
    template_file: str | None = None,
    template_values: dict[str, Any] | None = None,
    role_arn: str | None = None,
    start_timeout: float = 120,
    poll_interval: float = 1.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Start an experiment of an FIS template; return once its first fault action has
    started (t0 = that action's ``startTime``, as GetExperiment reports it).

    ``template_file``: a CreateExperimentTemplate JSON with ``{name}`` placeholders
    (``template_values``, ``role_arn``), created tagged and deleted after. Ledgered
    before each call: the template's deletion, then ``StopExperiment`` (FIS reverts).
    An experiment FIS fails or that does not start within ``start_timeout`` fails the
    action with FIS's reason (the rollback stops it)."""
    start_timeout = checked_number(start_timeout, "start_timeout", above=True, activity=FAULT)
    poll_interval = checked_number(poll_interval, "poll_interval", above=True, activity=FAULT)
    plan = plan_experiment_start(
        template_id, template_file, template_values, role_arn, configuration, secrets
    )
    check_plan(plan, configuration, secrets)
    run = current_run(configuration)
    fis = aws_client("fis", configuration, secrets, plan.region)
    tags = chaos_tags(run, FAULT)
    if plan.details["create_template"]:
        token = _token(run.run_id, "template")
        template = dict(plan.details["template"])
        template["tags"] = {**(template.get("tags") or {}), **tags, TOKEN_TAG: token}
        created = journaled(
            fault=FAULT,
            region=plan.region,
            resource=f"FIS experiment template from {template_file}",
            change="create experiment template (tagged chaos:*)",
            undoer=DELETE_TEMPLATE,
            undo_args={"client_token": token, "run_id": run.run_id},
            undo_describe="delete the experiment template we created",
            call=lambda: fis.create_experiment_template(clientToken=token, **template),
            configuration=configuration,
        )
        template_id = str(created["experimentTemplate"]["id"])
    assert template_id
    token = _token(run.run_id, "experiment")
    started = journaled(
        fault=FAULT,
        region=plan.region,
        resource=f"FIS experiment of template {template_id}",
        change="StartExperiment",
        undoer=STOP_EXPERIMENT,
        undo_args={"template_id": template_id, "client_token": token, "run_id": run.run_id},
        undo_describe=f"StopExperiment of this run's experiment of {template_id}",
        call=lambda: fis.start_experiment(
            clientToken=token,
            experimentTemplateId=template_id,
            tags={**tags, TOKEN_TAG: token},
        ),
        configuration=configuration,
    )
    experiment_id = str(started["experiment"]["id"])
    called = time.monotonic()

    def first_action_started() -> Any:
        state = read_experiment(fis, experiment_id)
        if state.status in ("failed", "cancelled", "stopped") or (
            state.ended and first_fault_start(state) is None
        ):
            raise ActivityFailed(
                f"{FAULT}: FIS experiment {experiment_id} {state.status} before any fault "
                f"action started: {state.reason or 'no reason given'}"
            )
        return state if first_fault_start(state) else None

    try:
        state = wait_until(
            first_action_started,
            timeout=start_timeout,
            interval=poll_interval,
            what=f"FIS experiment {experiment_id} to start its first action",
        )
    except WaitTimedOut:
        raise ActivityFailed(
            f"{FAULT}: FIS experiment {experiment_id} started no action within "
            f"{start_timeout:g} s (the rollback stops it)"
        ) from None
    t0 = first_fault_start(state)
    assert t0 is not None
    ago = (datetime.now(UTC) - t0).total_seconds()
    stamp = stamp_injected(FAULT, seconds_ago=min(ago, time.monotonic() - called))
    remember(Started(experiment_id, template_id, plan.region, stamp.monotonic, stamp.wall))
    running = _wait_running(fis, experiment_id, start_timeout, poll_interval, stamp.monotonic)
    note_fault_detail(
        "fis",
        {
            "experiment_id": experiment_id,
            "template_id": template_id,
            "stop_conditions": plan.details["stop_conditions"],
            "t0_from": "the first fault action's startTime (GetExperiment)",
            "running_after_s": running,
        },
    )
    logger.info("FIS experiment %s of %s started its first action at %s", experiment_id,
                template_id, stamp.wall)  # fmt: skip
    return {
        "fault": FAULT,
        "experiment_id": experiment_id,
        "template_id": template_id,
        "region": plan.region,
        "injected_at": stamp.wall,
        "state": state.to_dict(),
    }


def _wait_running(
    fis: Any, experiment_id: str, timeout: float, interval: float, t0: float
) -> float | None:
    """FIS sets an action's ``startTime`` when it starts *initiating* (for
    disrupt-connectivity: cloning the NACLs); the phase ``fis_action_running`` marks when
    we first saw it ``running`` (the fault in place). Seconds after t0, or None."""

    def running() -> ExperimentState | None:
        state = read_experiment(fis, experiment_id)
        faults = [a for a in state.actions.values() if a.action_id not in NOT_A_FAULT]
        return state if state.ended or any(a.status != "initiating" for a in faults) else None

    try:
        wait_until(running, timeout=timeout, interval=interval, what="the FIS action to run")
    except WaitTimedOut:
        logger.warning("FIS experiment %s: no action running after %g s", experiment_id, timeout)
        return None
    return round(mark_phase("fis_action_running").monotonic - t0, 3)


def end_experiment(configuration: Configuration = None, secrets: Secrets = None) -> dict[str, Any]:
    """Stop this run's FIS experiment now (FIS reverts its actions) and delete the
    template we created: the ledger's undo, so it is the rollback too. Idempotent."""
    reverted = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    if reverted["reverted"]:
        stamp_reverted(FAULT)
    return reverted
