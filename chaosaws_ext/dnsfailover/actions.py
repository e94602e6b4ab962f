"""DNS failover and gradual failback (fault ``dns-failover``), the DR runbook's Scenario 1.

:func:`fail_over_to_secondary` is step 2.1: with ``mode: record`` the original record
sets and a recovery TXT record go to the ledger (fsync'd), then the PRIMARY record set is
UPSERTed as an alias of the secondary ALB (``failover-to-secondary.json``); with ``mode:
automatic`` nothing is changed and the action waits (bounded) for the health checks to
move the name to the secondary. Either way ``dns_changed`` is stamped on the timeline.

:func:`shift_traffic_back` is the failback's "gradual traffic shift (10% -> 50% ->
100%)": the failover pair replaced by weighted records (one atomic batch, journaled:
the undo puts the originals back), then for each step the weights set and a monitored
window judged by the measurement (:mod:`chaosaws_ext.core.window_judge`). A bad window
(or no judge to ask) sets the primary's weight to 0, all traffic on the secondary, and
stops the shift. Each step's verdict and figures are recorded as the fault's detail
``failback`` and as phases ``failback_<p>_set`` / ``failback_<p>_judged``.

:func:`restore_original_records` (end action and rollback) puts the original record
sets back byte-for-byte and deletes the TXT record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.core.timeline import mark_phase, note_fault_detail
from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.core.window_judge import judge_window
from chaosaws_ext.dnsfailover import FAULT
from chaosaws_ext.dnsfailover.answers import resolve_addresses
from chaosaws_ext.dnsfailover.planning import plan_fail_over_to_secondary, plan_shift_traffic_back
from chaosaws_ext.dnsfailover.record_sets import apply_changes, read_record_sets, replace_batch
from chaosaws_ext.dnsfailover.undo import MARKER_UNDOER, RESTORE_UNDOER
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.mutation import journaled, stamp_injected, stamp_reverted
from chaosaws_ext.undo import revert_faults

__all__ = ["fail_over_to_secondary", "shift_traffic_back", "restore_original_records"]

logger = logging.getLogger(__name__)

# the failback's record of each step, read by probes.failback_completed
_failback: dict[str, Any] = {}
_failback_lock = threading.Lock()


def failback_record() -> dict[str, Any]:
    """The last failback of this process (a helper, not an activity)."""
    with _failback_lock:
        return dict(_failback)


def _journal_marker(details: dict[str, Any], route53: Any, configuration: Configuration) -> None:
    zone, marker = details["hosted_zone_id"], details["marker_name"]
    record = {
        "Name": marker,
        "Type": "TXT",
        "TTL": 60,
        "ResourceRecords": [{"Value": details["marker_value"]}],
    }
    journaled(
        fault=FAULT,
        region=region_of(configuration),
        resource=f"{zone}/{marker}TXT",
        change="CREATE the recovery TXT record (run id, expiry, the original record sets)",
        undoer=MARKER_UNDOER,
        undo_args={"hosted_zone_id": zone, "marker": marker},
        undo_describe=f"delete the TXT record {marker}",
        call=lambda: apply_changes(
            route53, zone, [{"Action": "CREATE", "ResourceRecordSet": record}], f"{FAULT}: marker"
        ),
        configuration=configuration,
    )


def _journal_records(
    details: dict[str, Any],
    route53: Any,
    wanted: list[dict[str, Any]],
    change: str,
    configuration: Configuration,
    timeout: float,
    interval: float,
) -> str:
    zone, name, rtype = details["hosted_zone_id"], details["record_name"], details["record_type"]
    current = read_record_sets(route53, zone, name, rtype)
    changes = replace_batch(current, wanted)
    if not changes:
        return "unchanged"
    return journaled(
        fault=FAULT,
        region=region_of(configuration),
        resource=f"{zone}/{name}{rtype}",
        change=change,
        undoer=RESTORE_UNDOER,
        undo_args={
            "hosted_zone_id": zone,
            "record_name": name,
            "record_type": rtype,
            "original": details["original"],
        },
        undo_describe=f"put the original record sets of {name} back exactly",
        call=lambda: apply_changes(
            route53, zone, changes, f"{FAULT}: {change}", timeout=timeout, interval=interval
        ),
        configuration=configuration,
    )


def fail_over_to_secondary(
    hosted_zone_id: str,
    record_name: str,
    mode: str = "record",
    record_type: str = "A",
    timeout: float = 300,
    interval: float = 5,
    nameserver: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """The runbook's step 2.1. ``mode: record``: UPSERT the PRIMARY record set aliased to
    the secondary ALB (originals and a recovery TXT record journaled first); ``mode:
    automatic``: no change, wait up to ``timeout`` s for ``record_name`` to answer the
    secondary's addresses through ``nameserver`` ("" = the system resolver)."""
    where = "fail_over_to_secondary"
    timeout = checked_number(timeout, "timeout", above=True, activity=where)
    interval = checked_number(interval, "interval", above=True, activity=where)
    plan = plan_fail_over_to_secondary(
        hosted_zone_id,
        record_name,
        mode,
        record_type,
        timeout,
        interval,
        nameserver,
        configuration,
        secrets,
    )
    details = plan.details
    started = time.monotonic()
    if mode == "automatic":
        secondary = resolve_addresses(details["secondary_target"], nameserver, min(2.0, timeout))
        if not secondary:
            raise ActivityFailed(f"{FAULT}: {details['secondary_target']} resolves to nothing")

        def moved() -> bool:
            answer = resolve_addresses(record_name, nameserver, min(2.0, interval))
            return bool(answer) and answer <= secondary

        try:
            wait_until(
                moved, timeout=timeout, interval=interval, what=f"{record_name} on the secondary"
            )
        except WaitTimedOut as error:
            raise ActivityFailed(
                f"{FAULT}: {record_name} still not answered by the secondary after {timeout:g} s "
                "(automatic failover by the health checks)"
            ) from error
        mark_phase("dns_changed")
        return {
            "fault": FAULT,
            "mode": mode,
            "changed": False,
            "waited_s": round(time.monotonic() - started, 3),
            "secondary": details["secondary_target"],
        }
    check_plan(plan, configuration, secrets)
    route53 = aws_client("route53", configuration, secrets)
    _journal_marker(details, route53, configuration)
    others = [r for r in details["original"] if r.get("Failover") != "PRIMARY"]
    change_id = _journal_records(
        details,
        route53,
        [details["new_primary"], *others],
        f"UPSERT PRIMARY -> {details['secondary_target']} (runbook step 2.1)",
        configuration,
        timeout,
        interval,
    )
    stamp = stamp_injected(FAULT)
    mark_phase("dns_changed")
    result = {
        "fault": FAULT,
        "mode": mode,
        "changed": True,
        "change_id": change_id,
        "secondary": details["secondary_target"],
        "injected_at": stamp.wall,
    }
    logger.info("%s: %s", FAULT, result)
    return result


def _window(seconds: float) -> tuple[float, float]:
    """Wait out a monitored window (bounded sleeps); its monotonic bounds."""
    start = time.monotonic()
    end = start + seconds
    for _ in range(int(seconds / 0.5) + 2):
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(0.5, left))
    return start, time.monotonic()


def shift_traffic_back(
    hosted_zone_id: str,
    record_name: str,
    steps: Sequence[Any] = (10, 50, 100),
    window_s: Sequence[Any] = (900, 1800, 0),
    record_type: str = "A",
    timeout: float = 300,
    interval: float = 5,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """The failback: weighted records primary/secondary, ``steps`` percent to the
    primary, each followed by its ``window_s`` seconds judged by the measurement (0: not
    monitored). A bad window puts all weight on the secondary and stops."""
    where = "shift_traffic_back"
    timeout = checked_number(timeout, "timeout", above=True, activity=where)
    interval = checked_number(interval, "interval", above=True, activity=where)
    plan = plan_shift_traffic_back(
        hosted_zone_id,
        record_name,
        steps,
        window_s,
        record_type,
        timeout,
        interval,
        configuration,
        secrets,
    )
    check_plan(plan, configuration, secrets)
    details = plan.details
    route53 = aws_client("route53", configuration, secrets)
    if "marker_value" in details:
        _journal_marker(details, route53, configuration)
    stamp_injected(FAULT)
    shift_started = time.monotonic()
    record: list[dict[str, Any]] = []
    outcome: dict[str, Any] = {"completed": False, "rolled_back": False, "steps": record}
    with _failback_lock:
        _failback.clear()
        _failback.update(outcome)
    for share, seconds in zip(details["steps"], details["window_s"], strict=True):
        step_started = time.monotonic()
        _journal_records(
            details,
            route53,
            details["weighted"][str(share)],
            f"weighted records: {share} % to the primary",
            configuration,
            timeout,
            interval,
        )
        mark_phase(f"failback_{share}_set")
        step: dict[str, Any] = {
            "percent": share,
            "window_s": seconds,
            "set_after_s": round(time.monotonic() - shift_started, 3),
        }
        if seconds > 0:
            start, end = _window(seconds)
            verdict = judge_window(f"failback_{share}", start, end)
            mark_phase(f"failback_{share}_judged")
            if verdict is None:
                step.update(good=False, reason="no window judge registered (measurement control)")
            else:
                step.update(verdict.as_dict())
        else:
            step.update(good=True, reason="not monitored (window 0)")
        step["duration_s"] = round(time.monotonic() - step_started, 3)
        record.append(step)
        note_fault_detail("failback", {**outcome, "steps": list(record)})
        if not step["good"]:
            _journal_records(
                details,
                route53,
                details["rollback"],
                f"failback stopped at {share} %: all weight to the secondary",
                configuration,
                timeout,
                interval,
            )
            mark_phase("failback_rolled_back")
            outcome["rolled_back"] = True
            logger.warning(
                "%s: window at %s %% bad (%s): back on the secondary",
                FAULT,
                share,
                step.get("reason"),
            )
            break
    else:
        outcome["completed"] = True
        mark_phase("failback_completed")
    outcome["duration_s"] = round(time.monotonic() - shift_started, 3)
    note_fault_detail("failback", outcome)
    with _failback_lock:
        _failback.clear()
        _failback.update(outcome)
    logger.info("%s: failback %s", FAULT, outcome)
    return outcome


def restore_original_records(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """End action and rollback: the original record sets back exactly, the recovery TXT
    record deleted (ledger replay, newest first; idempotent)."""
    result = revert_faults(fault=FAULT, configuration=configuration, secrets=secrets)
    stamp_reverted(FAULT)
    return result
