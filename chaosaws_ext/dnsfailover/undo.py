"""Undo of the DNS failover: the original record sets put back exactly (deep-compared
after; idempotent: nothing is sent when they are already there), the recovery TXT record
deleted, and the finder that rebuilds both from that TXT record when the ledger is lost
(Route 53 record sets carry no tags)."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code, region_of
from chaosaws_ext.dnsfailover import DECLARATION, FAULT
from chaosaws_ext.dnsfailover.record_sets import (
    apply_changes,
    marker_name,
    parse_marker,
    read_record_sets,
    replace_batch,
    same_record_sets,
)
from chaosaws_ext.undo import FinderSkipped, report_incomplete

__all__ = [
    "RESTORE_UNDOER",
    "MARKER_UNDOER",
    "restore_record_sets",
    "delete_marker_record",
    "find_changed_records",
]

logger = logging.getLogger(__name__)

RESTORE_UNDOER = DECLARATION.undoer_name("restore-records")
MARKER_UNDOER = DECLARATION.undoer_name("delete-marker")


def restore_record_sets(
    hosted_zone_id: str,
    record_name: str,
    record_type: str,
    original: list[dict[str, Any]],
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Make the record sets of ``record_name`` exactly ``original`` again (one atomic
    batch: what differs deleted, the originals created), then read them back."""
    route53 = aws_client("route53", configuration, secrets, region=region)
    try:
        current = read_record_sets(route53, hosted_zone_id, record_name, record_type)
    except ClientError as error:
        if error_code(error) == "NoSuchHostedZone":
            return {"zone": hosted_zone_id, "restored": False, "reason": "zone gone"}
        raise
    if same_record_sets(current, original):
        return {
            "zone": hosted_zone_id,
            "record": record_name,
            "restored": False,
            "reason": "already as before",
        }
    changes = replace_batch(current, original)
    apply_changes(route53, hosted_zone_id, changes, f"{FAULT}: original record sets back")
    after = read_record_sets(route53, hosted_zone_id, record_name, record_type)
    if not same_record_sets(after, original):
        raise ActivityFailed(
            f"{FAULT}: the record sets of {record_name} still differ from the originals "
            "after the undo"
        )
    return {
        "zone": hosted_zone_id,
        "record": record_name,
        "restored": True,
        "changes": len(changes),
    }


def delete_marker_record(
    hosted_zone_id: str,
    marker: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Delete the recovery TXT record ``marker`` (as it is now; nothing when gone)."""
    route53 = aws_client("route53", configuration, secrets, region=region)
    try:
        found = read_record_sets(route53, hosted_zone_id, marker, "TXT")
    except ClientError as error:
        if error_code(error) == "NoSuchHostedZone":
            return {"zone": hosted_zone_id, "deleted": False, "reason": "zone gone"}
        raise
    if not found:
        return {"zone": hosted_zone_id, "deleted": False, "reason": "not there"}
    apply_changes(
        route53,
        hosted_zone_id,
        [{"Action": "DELETE", "ResourceRecordSet": r} for r in found],
        f"{FAULT}: recovery marker deleted",
    )
    return {"zone": hosted_zone_id, "deleted": True, "marker": marker}


def find_changed_records(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """The recovery TXT record in the configured zone (``hosted_zone_id``): the original
    record sets it holds put back, then the marker deleted. Route 53 is
    global: searched once, for the experiment's own region."""
    configuration = configuration or {}
    zone_id = configuration.get("hosted_zone_id")
    if not zone_id:
        raise FinderSkipped("no hosted_zone_id configured (the drill's GAMEDAY_HOSTED_ZONE_ID)")
    if region and region != region_of(configuration):
        return []
    route53 = aws_client("route53", configuration, secrets, region=region)
    try:
        zone_name = str(route53.get_hosted_zone(Id=zone_id)["HostedZone"]["Name"])
        found = read_record_sets(route53, str(zone_id), marker_name(zone_name), "TXT")
    except ClientError as error:
        report_incomplete(f"hosted zone {zone_id} not readable: {error_code(error)}")
        return []
    specs: list[dict[str, Any]] = []
    for record in found:
        value = " ".join(str(v.get("Value", "")) for v in record.get("ResourceRecords", []))
        try:
            marker = parse_marker(value)
        except (ValueError, KeyError) as error:
            report_incomplete(f"{record['Name']} TXT is not readable as ours: {error}")
            continue
        if not marker["originals"]:
            report_incomplete(f"{record['Name']} TXT holds no record sets")
            continue
        name = str(marker["originals"][0]["Name"])
        record_type = str(marker["originals"][0]["Type"])
        specs.append(
            {
                "resource": f"{zone_id}/{name}{record_type}",
                "undoer": RESTORE_UNDOER,
                "args": {
                    "hosted_zone_id": str(zone_id),
                    "record_name": name,
                    "record_type": record_type,
                    "original": marker["originals"],
                },
                "describe": f"put the original record sets of {name} back (run {marker['run_id']})",
                "expires_at": marker["expires_at"],
                "run_id": marker["run_id"],
            }
        )
        specs.append(
            {
                "resource": f"{zone_id}/{record['Name']}TXT",
                "undoer": MARKER_UNDOER,
                "args": {"hosted_zone_id": str(zone_id), "marker": str(record["Name"])},
                "describe": f"delete the recovery TXT record {record['Name']}",
                "expires_at": marker["expires_at"],
                "run_id": marker["run_id"],
            }
        )
    return specs
