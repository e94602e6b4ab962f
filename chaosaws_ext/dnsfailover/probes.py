"""Read-only probes of the DNS failover drill: the record sets as Route 53 lists them, no
change of ours in place, the runbook's step 3 (the secondary serves through the name and
holds the data), and whether the failback went to its end."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from botocore.exceptions import ClientError
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code
from chaosaws_ext.core.numbers import checked_number
from chaosaws_ext.core.timeline import fault_stamps, mark_phase
from chaosaws_ext.dnsfailover.actions import failback_record
from chaosaws_ext.dnsfailover.answers import resolve_addresses
from chaosaws_ext.dnsfailover.record_sets import (
    failover_pair,
    marker_name,
    pointed_at,
    read_record_sets,
)

__all__ = ["record_sets", "no_change_in_place", "verify_secondary", "failback_completed"]

logger = logging.getLogger(__name__)


def record_sets(
    hosted_zone_id: str,
    record_name: str,
    record_type: str = "A",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> list[dict[str, Any]]:
    """The record sets of ``record_name`` as Route 53 lists them (sorted by SetIdentifier)."""
    route53 = aws_client("route53", configuration, secrets)
    return read_record_sets(route53, hosted_zone_id, record_name, record_type)


def no_change_in_place(
    hosted_zone_id: str,
    record_name: str,
    record_type: str = "A",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when the name is a failover pair and no recovery TXT record of ours exists."""
    route53 = aws_client("route53", configuration, secrets)
    zone_name = str(route53.get_hosted_zone(Id=hosted_zone_id)["HostedZone"]["Name"])
    if read_record_sets(route53, hosted_zone_id, marker_name(zone_name), "TXT"):
        return False
    try:
        failover_pair(read_record_sets(route53, hosted_zone_id, record_name, record_type))
    except ValueError:
        return False
    return True


def _get(url: str, address: str, timeout: float) -> tuple[int | None, str | None]:
    parts = urlsplit(url)
    netloc = address + (f":{parts.port}" if parts.port else "")
    request = urllib.request.Request(
        urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        headers={"Host": parts.netloc},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), None
    except urllib.error.HTTPError as error:
        return int(error.code), None
    except (OSError, ValueError) as error:
        return None, type(error).__name__


def verify_secondary(
    hosted_zone_id: str,
    record_name: str,
    urls: list[str],
    nameserver: str = "",
    table_name: str = "",
    secondary_region: str = "",
    timeout: float = 5,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """The runbook's step 3: ``record_name`` answers the secondary's addresses, every URL
    (through the name) answers 2xx there (3.1), and the global table's replica in
    ``secondary_region`` is ACTIVE and readable (3.3; the data replicated is measured by
    the markers: ``recovery.replication``). ``passed`` says all did;
    ``secondary_verified`` is stamped on the timeline when they did."""
    timeout = checked_number(timeout, "timeout", above=True, activity="verify_secondary")
    route53 = aws_client("route53", configuration, secrets)
    original = read_record_sets(route53, hosted_zone_id, record_name, "A")
    secondary = [r for r in original if r.get("Failover") == "SECONDARY"]
    target = pointed_at(secondary[0]) if secondary else ""
    secondary_addresses = resolve_addresses(target, nameserver, timeout) if target else set()
    answer = resolve_addresses(record_name, nameserver, timeout)
    checks: dict[str, Any] = {
        "dns": {
            "answer": sorted(answer),
            "secondary": sorted(secondary_addresses),
            "ok": bool(answer) and answer <= secondary_addresses,
        }
    }
    endpoints = []
    for url in urls:
        status, error = _get(url, sorted(answer)[0], timeout) if answer else (None, "no answer")
        endpoints.append(
            {
                "url": url,
                "status": status,
                "error": error,
                "ok": status is not None and 200 <= status < 300,
            }
        )
    checks["endpoints"] = endpoints
    if table_name and secondary_region:
        data: dict[str, Any] = {"table": table_name, "region": secondary_region}
        dynamodb = aws_client("dynamodb", configuration, secrets, region=secondary_region)
        try:
            table = dynamodb.describe_table(TableName=table_name)["Table"]
            replicas = {
                r.get("RegionName"): r.get("ReplicaStatus") for r in table.get("Replicas", [])
            }
            data["replica_status"] = replicas.get(secondary_region, table.get("TableStatus"))
            # readable there; which writes made it is the replication measurement's
            # (the markers), not a count here
            data["items_seen"] = len(dynamodb.scan(TableName=table_name, Limit=5).get("Items", []))
            data["ok"] = data["replica_status"] == "ACTIVE"
        except ClientError as error:
            data.update(ok=False, error=error_code(error))
        checks["data"] = data
    passed = (
        checks["dns"]["ok"]
        and all(e["ok"] for e in endpoints)
        and all(c.get("ok", True) for c in checks.values() if isinstance(c, dict))
    )
    if passed:
        mark_phase("secondary_verified")
    return {"passed": passed, **checks}


def failback_completed(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """The failback of this run: ``completed`` (every step's window good), ``rolled_back``
    (a bad window put all traffic on the secondary) and each step's figures. Before the
    method (no fault injected yet in this process) there is nothing to judge: completed."""
    record = failback_record()
    if record:
        return record
    if not any(s.event == "injected" for s in fault_stamps()):
        return {"completed": True, "rolled_back": False, "steps": [], "phase": "before-method"}
    return {"completed": False, "rolled_back": False, "steps": [], "reason": "no failback ran"}
