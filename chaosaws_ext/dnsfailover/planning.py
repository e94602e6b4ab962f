"""The read-only plans of the DNS failover and its failback: the record sets as they are
(kept byte-for-byte for the undo), what each change makes of them, the recovery TXT
record, and the refusals (no failover pair, already failed over, a marker of ours left
behind, bad steps or windows), for the actions and for ``gameday plan``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code, region_of
from chaosaws_ext.core.identity import current_run
from chaosaws_ext.dnsfailover import FAULT
from chaosaws_ext.dnsfailover.record_sets import (
    failover_pair,
    marker_name,
    marker_value,
    pointed_at,
    read_record_sets,
    weighted_from,
)
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.planning import FaultPlan, PlannedChange

__all__ = ["plan_fail_over_to_secondary", "plan_shift_traffic_back", "MODES"]

MODES = ("record", "automatic")


def _refuse(reason: str) -> ActivityFailed:
    return ActivityFailed(f"refusing {FAULT}: {reason}")


def _zone_name(route53: Any, hosted_zone_id: str) -> str:
    try:
        return str(route53.get_hosted_zone(Id=hosted_zone_id)["HostedZone"]["Name"])
    except ClientError as error:
        if error_code(error) in ("NoSuchHostedZone", "InvalidInput"):
            raise _refuse(f"hosted zone {hosted_zone_id!r} not found") from None
        raise _refuse(f"hosted zone {hosted_zone_id} not readable: {error_code(error)}") from None


def _marker_left(route53: Any, hosted_zone_id: str, zone_name: str) -> bool:
    return bool(read_record_sets(route53, hosted_zone_id, marker_name(zone_name), "TXT"))


def originals_in_ledger(
    configuration: Configuration, hosted_zone_id: str, record_name: str, record_type: str
) -> list[dict[str, Any]] | None:
    """The record sets this run's unreverted failover entry keeps (None: no such entry)."""
    run = current_run(configuration)
    for entry in Ledger(run.ledger_path).unreverted(run_id=run.run_id, fault=FAULT):
        args = entry.undo.get("args", {})
        if (
            entry.undo.get("undoer", "").endswith("restore-records")
            and args.get("hosted_zone_id") == hosted_zone_id
            and args.get("record_name") == record_name
            and args.get("record_type") == record_type
        ):
            return list(args["original"])
    return None


def _base(
    route53: Any, hosted_zone_id: str, record_name: str, record_type: str
) -> tuple[str, list[dict[str, Any]]]:
    if not record_name:
        raise _refuse("record_name is empty")
    zone_name = _zone_name(route53, hosted_zone_id)
    try:
        current = read_record_sets(route53, hosted_zone_id, record_name, record_type)
    except ClientError as error:
        raise _refuse(f"record sets of {record_name} not readable: {error_code(error)}") from None
    return zone_name, current


def plan_fail_over_to_secondary(
    hosted_zone_id: str,
    record_name: str,
    mode: str = "record",
    record_type: str = "A",
    timeout: float = 300,
    interval: float = 5,
    nameserver: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of :func:`~chaosaws_ext.dnsfailover.actions.fail_over_to_secondary`
    (same arguments); ActivityFailed with one line when refused, changes nothing."""
    if mode not in MODES:
        raise _refuse(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    route53 = aws_client("route53", configuration, secrets)
    zone_name, current = _base(route53, hosted_zone_id, record_name, record_type)
    try:
        primary, secondary = failover_pair(current)
    except ValueError as error:
        raise _refuse(f"{record_name} {record_type} in {hosted_zone_id}: {error}") from None
    secondary_target = pointed_at(secondary)
    target = f"{FAULT}:{hosted_zone_id}/{record_name.rstrip('.').lower()}/{record_type}"
    details: dict[str, Any] = {
        "mode": mode,
        "hosted_zone_id": hosted_zone_id,
        "zone_name": zone_name,
        "record_name": record_name,
        "record_type": record_type,
        "original": current,
        "secondary_target": secondary_target,
        "primary_target": pointed_at(primary),
    }
    if mode == "automatic":
        return FaultPlan(
            fault=FAULT, region=region_of(configuration), target=target, details=details
        )
    if pointed_at(primary) == secondary_target:
        raise _refuse(f"the PRIMARY record of {record_name} already points at {secondary_target}")
    if _marker_left(route53, hosted_zone_id, zone_name):
        raise _refuse(
            f"{marker_name(zone_name)} TXT exists: a failover of ours is in place; "
            "run `gameday recover` first"
        )
    if not primary.get("AliasTarget") or not secondary.get("AliasTarget"):
        raise _refuse("the failover records must be alias records (the runbook's step 2.1)")
    # failover-to-secondary.json: the PRIMARY aliased to the secondary ALB, its health
    # check kept, EvaluateTargetHealth false
    new_primary = dict(primary)
    new_primary["AliasTarget"] = {
        "HostedZoneId": secondary["AliasTarget"]["HostedZoneId"],
        "DNSName": secondary["AliasTarget"]["DNSName"],
        "EvaluateTargetHealth": False,
    }
    run = current_run(configuration)
    try:
        details["marker_value"] = marker_value(run.run_id, run.expires_at(), current)
    except ValueError as error:
        raise _refuse(str(error)) from None
    details.update(new_primary=new_primary, marker_name=marker_name(zone_name))
    return FaultPlan(
        fault=FAULT,
        region=region_of(configuration),
        target=target,
        changes=[
            PlannedChange(
                resource=f"{hosted_zone_id}/{marker_name(zone_name)}TXT",
                change="CREATE a TXT record holding the run id, expiry and the originals",
                undo="DELETE it",
                kind="txt-record",
            ),
            PlannedChange(
                resource=f"{hosted_zone_id}/{record_name}{record_type}/{primary.get('SetIdentifier')}",
                change=f"UPSERT the PRIMARY record set aliased to {secondary_target} (step 2.1)",
                undo="put the original record sets back exactly (deep-compared after)",
                kind="record-set",
            ),
        ],
        details=details,
    )


def _checked_steps(
    steps: Sequence[Any], window_s: Sequence[Any], limit: float
) -> tuple[list[int], list[float]]:
    try:
        shares = [int(s) for s in steps]
        windows = [float(w) for w in window_s]
    except (TypeError, ValueError):
        raise _refuse(
            f"steps and window_s must be numbers, got {steps!r} and {window_s!r}"
        ) from None
    if not shares or any(not 0 < s <= 100 for s in shares) or shares != sorted(set(shares)):
        raise _refuse(f"steps must rise from 1 to 100 (percent to the primary), got {shares}")
    if shares[-1] != 100:
        raise _refuse(f"the last step must be 100 (all traffic back), got {shares[-1]}")
    if len(windows) != len(shares) or any(w < 0 for w in windows):
        raise _refuse(f"window_s must give one window (seconds, >= 0) per step, got {windows}")
    if sum(windows) > limit:
        raise _refuse(
            f"the windows add up to {sum(windows):g} s, more than max_fault_seconds {limit:g}"
        )
    return shares, windows


def plan_shift_traffic_back(
    hosted_zone_id: str,
    record_name: str,
    steps: Sequence[Any] = (10, 50, 100),
    window_s: Sequence[Any] = (900, 1800, 0),
    record_type: str = "A",
    timeout: float = 300,
    interval: float = 5,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of :func:`~chaosaws_ext.dnsfailover.actions.shift_traffic_back`
    (same arguments): the failover pair (as before this run's failover, from the ledger,
    else as it is) replaced by weighted records, then each step's weights."""
    run = current_run(configuration)
    shares, windows = _checked_steps(steps, window_s, run.max_fault_seconds)
    route53 = aws_client("route53", configuration, secrets)
    zone_name, current = _base(route53, hosted_zone_id, record_name, record_type)
    original = originals_in_ledger(configuration, hosted_zone_id, record_name, record_type)
    marker_needed = original is None
    if original is None:
        if _marker_left(route53, hosted_zone_id, zone_name):
            raise _refuse(
                f"{marker_name(zone_name)} TXT exists: a change of ours is in place; "
                "run `gameday recover` first"
            )
        original = current
    try:
        primary, secondary = failover_pair(original)
    except ValueError as error:
        raise _refuse(f"{record_name} {record_type} in {hosted_zone_id}: {error}") from None
    details: dict[str, Any] = {
        "hosted_zone_id": hosted_zone_id,
        "zone_name": zone_name,
        "record_name": record_name,
        "record_type": record_type,
        "original": original,
        "current": current,
        "steps": shares,
        "window_s": windows,
        "weighted": {str(s): weighted_from(primary, secondary, s) for s in shares},
        "rollback": weighted_from(primary, secondary, 0),
        "marker_name": marker_name(zone_name),
    }
    changes = []
    if marker_needed:
        try:
            details["marker_value"] = marker_value(run.run_id, run.expires_at(), original)
        except ValueError as error:
            raise _refuse(str(error)) from None
        changes.append(
            PlannedChange(
                resource=f"{hosted_zone_id}/{marker_name(zone_name)}TXT",
                change="CREATE a TXT record holding the run id, expiry and the originals",
                undo="DELETE it",
                kind="txt-record",
            )
        )
    steps_text = " -> ".join(
        f"{s} % ({w:g} s window)" for s, w in zip(shares, windows, strict=True)
    )
    changes.append(
        PlannedChange(
            resource=f"{hosted_zone_id}/{record_name}{record_type}",
            change=(
                f"replace the failover pair by weighted records primary/secondary: {steps_text}; "
                "a bad window sets the primary's weight to 0 and stops"
            ),
            undo="put the original failover record sets back exactly (deep-compared after)",
            kind="record-set",
        )
    )
    return FaultPlan(
        fault=FAULT,
        region=region_of(configuration),
        target=f"{FAULT}:{hosted_zone_id}/{record_name.rstrip('.').lower()}/{record_type}",
        changes=changes,
        details=details,
    )
