"""Inject and end the EC2 stop (fault ``ec2-stop``).

Inject: plan (read only: the running instances tagged ``tag_key=tag_value`` in the
zone, protected ones left out) -> none: a skip, logged and returned, nothing changed
(as AWS FIS with ``emptyTargetResolutionMode: skip``) -> guardrails -> per instance ONE
journaled step (ledger line fsync'd first, undo ``ec2-stop.start-instance`` keyed by the
instance id): CreateTags of the run's chaos:* tags (the by-tag record), then
StopInstances. t0 is the last StopInstances' answer. End: every instance of this run
started again from the ledger (each once ``stopped``: AWS refuses to start an instance
still stopping), our tags removed, then boto3's ``instance_running`` waiter, bounded.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.identity import TAG_EXPIRES_AT, TAG_RUN_ID, chaos_tags, current_run
from chaosaws_ext.core.numbers import checked_integer, checked_number
from chaosaws_ext.ec2stop import FAULT
from chaosaws_ext.ec2stop.instances import wait_for
from chaosaws_ext.ec2stop.planning import DEFAULT_MAX_INSTANCES, plan_stop_instances
from chaosaws_ext.ec2stop.undo import DEFAULT_POLL_S, DEFAULT_TIMEOUT_S, UNDO_START
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted, stamp_skipped
from chaosaws_ext.undo import replay, undo_failures

__all__ = ["stop_instances", "start_instances"]

logger = logging.getLogger(__name__)


def stop_instances(
    availability_zone: str,
    tag_key: str,
    tag_value: str,
    max_instances: int = DEFAULT_MAX_INSTANCES,
    poll_interval_s: float = DEFAULT_POLL_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Stop the running instances tagged ``tag_key=tag_value`` in ``availability_zone``
    (name or zone id). Instances with the protection tag are left out (``excluded``).
    None left: returns ``skipped`` and changes nothing. ``poll_interval_s`` and
    ``timeout_s`` bound the undo's waits (recorded with it). Refuses (one line, nothing
    changed) an unknown zone, an empty tag, more than ``max_instances``. Undo with
    :func:`start_instances` (or ``gameday recover``)."""
    activity = "stop_instances"
    max_instances = checked_integer(max_instances, "max_instances", minimum=1, activity=activity)
    poll_interval_s = checked_number(
        poll_interval_s, "poll_interval_s", above=True, activity=activity
    )
    timeout_s = checked_number(timeout_s, "timeout_s", above=True, activity=activity)
    plan = plan_stop_instances(
        availability_zone, tag_key, tag_value, max_instances, configuration, secrets
    )
    for excluded in plan.details["excluded"]:
        logger.warning("%s: %s left out, %s", FAULT, excluded["instance"], excluded["reason"])
    base = {
        "fault": FAULT,
        "zone": plan.details["zone"],
        "tag": plan.details["tag"],
        "excluded": plan.details["excluded"],
    }
    if plan.details["skipped"]:
        logger.warning("%s: %s", FAULT, plan.details["skipped"])
        stamp_skipped(FAULT, str(plan.skipped))  # on the scenario's timeline
        return base | {"skipped": plan.details["skipped"], "stopped": [], "injected_at": None}
    check_plan(plan, configuration, secrets)
    run = current_run(configuration)
    ledger = Ledger(run.ledger_path)
    known = {entry.id for entry in ledger.entries()}
    ec2 = aws_client("ec2", configuration, secrets, plan.region)
    tags = [{"Key": k, "Value": v} for k, v in chaos_tags(run, FAULT).items()]
    stopped: list[str] = []
    try:
        for facts in plan.details["instances"]:
            instance_id = facts["instance"]
            journaled(
                fault=FAULT,
                region=plan.region,
                resource=instance_id,
                change=f"tag {TAG_RUN_ID}={run.run_id} ({TAG_EXPIRES_AT} {run.expires_at()}), "
                f"then StopInstances ({facts['name'] or 'unnamed'}, {plan.details['zone']})",
                undoer=UNDO_START,
                undo_args={
                    "instance_id": instance_id,
                    "run_id": run.run_id,
                    "poll_interval_s": poll_interval_s,
                    "timeout_s": timeout_s,
                },
                undo_describe=f"StartInstances {instance_id} once stopped, then remove its "
                "chaos:* tags",
                call=functools.partial(_tag_and_stop, ec2, instance_id, tags),
                configuration=configuration,
            )
            stopped.append(instance_id)
    except Exception as error:
        logger.error("%s inject failed half-way (%s); undoing what was done", FAULT, error)
        problems = undo_failures(
            replay(ledger, configuration, secrets, run_id=run.run_id, fault=FAULT, skip=known)
        )
        if problems:
            raise ActivityFailed(
                f"{FAULT} inject failed ({error}) and its undo failed too: "
                f"{'; '.join(problems)} (run `gameday recover --ledger {ledger.path}` once fixed)"
            ) from error
        raise ActivityFailed(f"{FAULT} inject failed and was undone: {error}") from error
    stamp = stamp_injected(FAULT)
    result = base | {
        "skipped": None,
        "stopped": stopped,
        "instances": plan.details["instances"],
        "injected_at": stamp.wall,
        "ledger": str(run.ledger_path),
    }
    logger.info("%s: stopped %s in %s", FAULT, ", ".join(stopped), plan.details["zone"])
    return result


def _tag_and_stop(ec2: Any, instance_id: str, tags: list[dict[str, str]]) -> Any:
    """The by-tag record first, so a crash after the stop leaves it findable."""
    ec2.create_tags(Resources=[instance_id], Tags=tags)
    return ec2.stop_instances(InstanceIds=[instance_id])


def start_instances(
    poll_interval_s: float = DEFAULT_POLL_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """End of the fault and rollback: start every instance this run stopped (ledger
    replay; idempotent), then wait until each is running (boto3 ``instance_running``
    every ``poll_interval_s``, at most ``timeout_s``). An instance terminated meanwhile
    by somebody else is reported in ``reported``, not waited for."""
    activity = "start_instances"
    poll_interval_s = checked_number(
        poll_interval_s, "poll_interval_s", above=True, activity=activity
    )
    timeout_s = checked_number(timeout_s, "timeout_s", above=True, activity=activity)
    run = current_run(configuration)
    ledger = Ledger(run.ledger_path)
    pending = ledger.unreverted(run_id=run.run_id, fault=FAULT)
    results = replay(ledger, configuration, secrets, run_id=run.run_id, fault=FAULT)
    failed = [r for r in results if not r["ok"]]
    if failed:
        raise ActivityFailed(
            "could not start: "
            + "; ".join(f"{r['resource']}: {r['error']}" for r in failed)
            + f" (run `gameday recover --ledger {ledger.path}` once fixed)"
        )
    reverted_at = stamp_reverted(FAULT).wall if results else None
    details = [r["detail"] for r in results]
    reported = [d["reported"] for d in details if d.get("reported")]
    waited: dict[str, list[str]] = {}
    for entry, detail in zip(reversed(pending), details, strict=True):
        if not detail.get("reported"):
            waited.setdefault(entry.region, []).append(detail["instance"])
    for region, ids in sorted(waited.items()):
        ec2 = aws_client("ec2", configuration, secrets, region or None)
        wait_for(ec2, "instance_running", ids, poll_interval_s, timeout_s)
    return {
        "fault": FAULT,
        "reverted": len(results),
        "started": sorted(d["instance"] for d in details if d.get("started")),
        "running": sorted(i for ids in waited.values() for i in ids),
        "reported": reported,
        "reverted_at": reverted_at,
    }
