"""The Route 53 shapes the DNS failover touches: a name's record sets, the change batches
that turn a failover pair into the runbook's step 2.1 or into weighted records, and the
``_chaos-gameday.<zone>`` TXT record that holds the originals for a recovery without the
ledger.

Route 53 forbids mixing routing policies for one name and type (Developer Guide,
"Choosing a routing policy"), so a change of policy is one batch over every record set
of the name (an UPSERT per SetIdentifier kept, DELETE / CREATE for the others): Route 53
applies a batch atomically (API Reference, ChangeResourceRecordSets). A TXT record's
strings are at most 255 characters each, the value at most 4,000 (Developer Guide,
"Supported DNS record types", TXT): the originals are stored as base64 of their compact
JSON, in 255-character strings.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from chaosaws_ext.core.waiting import waiter_config

__all__ = [
    "MARKER_LABEL",
    "TXT_STRING_MAX",
    "TXT_VALUE_MAX",
    "absolute",
    "read_record_sets",
    "same_record_sets",
    "failover_pair",
    "replace_batch",
    "weighted_from",
    "pointed_at",
    "marker_name",
    "marker_value",
    "parse_marker",
    "apply_changes",
]

logger = logging.getLogger(__name__)

MARKER_LABEL = "_chaos-gameday"
TXT_STRING_MAX = 255
TXT_VALUE_MAX = 4000
MAX_PAGES = 20


def absolute(name: str) -> str:
    """Lower case with one trailing dot, as Route 53 lists names."""
    return name.strip().rstrip(".").lower() + "."


def read_record_sets(
    route53: Any, hosted_zone_id: str, name: str, record_type: str
) -> list[dict[str, Any]]:
    """Every record set of ``name`` and ``record_type`` in the zone, as Route 53 lists
    them (bounded pagination), sorted by SetIdentifier."""
    wanted = absolute(name)
    found: list[dict[str, Any]] = []
    start: dict[str, Any] = {"StartRecordName": wanted, "StartRecordType": record_type}
    for _ in range(MAX_PAGES):
        page = route53.list_resource_record_sets(HostedZoneId=hosted_zone_id, **start)
        records = page.get("ResourceRecordSets", [])
        found.extend(
            r for r in records if absolute(r["Name"]) == wanted and r["Type"] == record_type
        )
        beyond = any(absolute(r["Name"]) != wanted or r["Type"] != record_type for r in records)
        if beyond or not page.get("IsTruncated"):
            break
        start = {
            "StartRecordName": page["NextRecordName"],
            "StartRecordType": page["NextRecordType"],
        }
        if page.get("NextRecordIdentifier"):
            start["StartRecordIdentifier"] = page["NextRecordIdentifier"]
    return sorted(found, key=lambda r: str(r.get("SetIdentifier", "")))


def _canonical(record_sets: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in record_sets)


def same_record_sets(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Deep equality of two lists of record sets, whatever their order."""
    return _canonical(a) == _canonical(b)


def failover_pair(record_sets: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(PRIMARY, SECONDARY) of a failover pair; ValueError naming what is missing."""
    primary = [r for r in record_sets if r.get("Failover") == "PRIMARY"]
    secondary = [r for r in record_sets if r.get("Failover") == "SECONDARY"]
    if len(primary) != 1 or len(secondary) != 1:
        raise ValueError(
            f"expected one PRIMARY and one SECONDARY failover record set, found "
            f"{len(primary)} and {len(secondary)}"
        )
    return primary[0], secondary[0]


def pointed_at(record: dict[str, Any]) -> str:
    """Where a record set points: its alias target's DNS name, else its values."""
    alias = record.get("AliasTarget") or {}
    if alias:
        return str(alias.get("DNSName", "")).rstrip(".").lower()
    return ",".join(str(v.get("Value")) for v in record.get("ResourceRecords", []))


def _identity(record: dict[str, Any]) -> tuple[str, str, str]:
    return (absolute(record["Name"]), str(record["Type"]), str(record.get("SetIdentifier", "")))


def replace_batch(
    current: list[dict[str, Any]], wanted: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The changes that turn ``current`` into ``wanted`` in one atomic batch: a record
    set of the same identity (name, type, SetIdentifier) that differs is UPSERTed, one
    only in ``current`` DELETEd, one only in ``wanted`` CREATEd; nothing when equal."""
    now = {_identity(r): r for r in current}
    then = {_identity(r): r for r in wanted}
    changes: list[dict[str, Any]] = []
    for key, record in now.items():
        if key not in then:
            changes.append({"Action": "DELETE", "ResourceRecordSet": record})
    for key, record in then.items():
        if key not in now:
            changes.append({"Action": "CREATE", "ResourceRecordSet": record})
        elif not same_record_sets([now[key]], [record]):
            changes.append({"Action": "UPSERT", "ResourceRecordSet": record})
    return changes


def weighted_from(
    primary: dict[str, Any], secondary: dict[str, Any], primary_weight: int
) -> list[dict[str, Any]]:
    """The failover pair as weighted record sets (same names, targets, health checks and
    set identifiers): ``primary_weight`` of 100 to the primary, the rest to the
    secondary."""
    records = []
    for record, weight in ((primary, primary_weight), (secondary, 100 - primary_weight)):
        weighted = {k: v for k, v in record.items() if k != "Failover"}
        weighted["Weight"] = int(weight)
        records.append(weighted)
    return records


def marker_name(zone_name: str) -> str:
    return f"{MARKER_LABEL}.{absolute(zone_name)}"


def marker_value(run_id: str, expires_at: str, originals: list[dict[str, Any]]) -> str:
    """The TXT value: ``"run=<id> expires=<ISO>"`` then the originals as base64 JSON in
    strings of at most 255 characters. ValueError when over Route 53's 4,000."""
    encoded = base64.b64encode(
        json.dumps(originals, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).decode()
    chunks = [encoded[i : i + TXT_STRING_MAX] for i in range(0, len(encoded), TXT_STRING_MAX)]
    value = " ".join(f'"{s}"' for s in [f"run={run_id} expires={expires_at}", *chunks])
    if len(value) > TXT_VALUE_MAX:
        raise ValueError(
            f"the original record sets need {len(value)} characters in the recovery TXT "
            f"record, more than Route 53's {TXT_VALUE_MAX}"
        )
    return value


def parse_marker(value: str) -> dict[str, Any]:
    """``{"run_id", "expires_at", "originals"}`` from a TXT value :func:`marker_value`
    wrote; ValueError when it is not one of ours."""
    strings = [s for s in value.strip().strip('"').split('" "')]
    head = dict(part.split("=", 1) for part in strings[0].split() if "=" in part)
    if "run" not in head or "expires" not in head:
        raise ValueError("not a chaos-gameday marker")
    originals = json.loads(base64.b64decode("".join(strings[1:])).decode())
    return {"run_id": head["run"], "expires_at": head["expires"], "originals": originals}


def apply_changes(
    route53: Any,
    hosted_zone_id: str,
    changes: list[dict[str, Any]],
    comment: str,
    timeout: float = 300,
    interval: float = 2,
) -> str:
    """One ChangeResourceRecordSets batch, then boto3's ``resource_record_sets_changed``
    waiter (GetChange until INSYNC; Route 53 propagates "generally within 60 seconds",
    API Reference, GetChange), bounded by ``timeout``. Returns the change id."""
    answer = route53.change_resource_record_sets(
        HostedZoneId=hosted_zone_id, ChangeBatch={"Comment": comment[:256], "Changes": changes}
    )
    change_id = str(answer["ChangeInfo"]["Id"])
    route53.get_waiter("resource_record_sets_changed").wait(
        Id=change_id, WaiterConfig=waiter_config(timeout, interval)
    )
    return change_id
