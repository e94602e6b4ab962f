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


MAX_ZONE_PAGES = 20  # ListHostedZones pages (100 zones each) searched at most


def _zones(route53: Any, zone_id: str | None) -> list[tuple[str, str]]:
    """(id, name) of the configured zone, or of every hosted zone of the account (the
    ledger lost, the configuration may not name it: Route 53 records carry no tags, so
    the recovery TXT record is looked for in each). A bound hit is reported."""
    if zone_id:
        return [(zone_id, str(route53.get_hosted_zone(Id=zone_id)["HostedZone"]["Name"]))]
    zones: list[tuple[str, str]] = []
    request: dict[str, Any] = {}
    for _ in range(MAX_ZONE_PAGES):
        page = route53.list_hosted_zones(**request)
        zones += [(str(z["Id"]).split("/")[-1], str(z["Name"])) for z in page["HostedZones"]]
        if not page.get("IsTruncated"):
            return zones
        request = {"Marker": page["NextMarker"]}
    report_incomplete(f"more than {MAX_ZONE_PAGES * 100} hosted zones: the rest not searched")
    return zones


def find_changed_records(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """The recovery TXT records (``_chaos-gameday.<zone>``) in the configured zone
    (``hosted_zone_id``), or in every hosted zone when none is configured: the original
    record sets each holds put back, then the marker deleted. Route 53 is global:
    searched once, for the experiment's own region."""
    configuration = configuration or {}
    if region and region != region_of(configuration):
        return []
    route53 = aws_client("route53", configuration, secrets, region=region)
    try:
        zones = _zones(route53, configuration.get("hosted_zone_id") or None)
    except ClientError as error:
        raise FinderSkipped(f"hosted zones not readable: {error_code(error)}") from error
    specs: list[dict[str, Any]] = []
    for zone_id, zone_name in zones:
        try:
            found = read_record_sets(route53, zone_id, marker_name(zone_name), "TXT")
        except ClientError as error:
            report_incomplete(f"hosted zone {zone_id} not readable: {error_code(error)}")
            continue
        specs += _specs_of(zone_id, found)
    return specs


def _specs_of(zone_id: str, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The undo specs of the recovery TXT records ``found`` in ``zone_id``."""
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
