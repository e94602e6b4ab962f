"""Restore drills measured: the restored database's write markers verified, the restore
RTO and RPO judged.

A drill fault (``chaosaws_ext.rdsrestore``) restores into a new instance and reports,
through the core timeline, its drill block (``fault_details()["restore"]``: kind,
source, restored, restore point, phases) and where the restored database answers
(``fault_details()["restore_endpoint"]``). :func:`verify_restored_markers` (a probe of
the method, run once the restored instance answers and before it is deleted; in
:mod:`probes.activities`) reads this run's write markers back from the restored
database (:func:`verify`):

- the markers that count are those acknowledged before the restore call (the moment the
  drill plays the disaster); markers written after it cannot be in any restore;
- verification: every counted marker acknowledged at or before the restore point must
  be present (count, first and last missing);
- restore RPO: the longest span of counted markers missing
  (:func:`probes.recovery.compute_rpo`), resolution the writer interval;
- restore RTO: the ``first_query`` phase (restore call -> first successful query),
  resolution the query interval.

The verdicts (:mod:`probes.verdicts`) judge these figures instead of the samplers'
whenever a drill reported a restore; a restore never verified is "not measured", never
met.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.recovery_schema import (
    RecoveryPointBlock,
    RestoreBlock,
    RestoreVerification,
)
from chaosaws_ext.core.timeline import fault_details, phase_stamps
from probes.markers import PostgresMarkers
from probes.recovery import Marker, RpoResult, compute_rpo

if TYPE_CHECKING:
    from probes.session import MeasurementSession

__all__ = [
    "DrillResult",
    "verify",
    "reported_restore",
    "is_table_restore",
    "drill_result",
    "restore_block",
    "first_query_at",
    "counted_markers",
    "clear",
]

logger = logging.getLogger(__name__)

CALLED_PHASE = "restore_called"  # the fault's stamp of the restore call (monotonic)


@dataclass
class DrillResult:
    verification: RestoreVerification
    rpo: RpoResult
    rto_s: float | None
    rto_resolution_s: float


_lock = threading.Lock()
_result: DrillResult | None = None


def clear() -> None:
    global _result
    with _lock:
        _result = None


def reported_restore() -> dict[str, Any] | None:
    """The drill block a fault reported in this process, if any."""
    found = fault_details().get("restore")
    return found if isinstance(found, dict) else None


def is_table_restore(restore: dict[str, Any]) -> bool:
    """A DynamoDB table restore (verified by probes.dynamodb_drills), not a database's."""
    return str(restore.get("kind", "")).startswith("dynamodb")


def drill_result() -> DrillResult | None:
    with _lock:
        return _result


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _called_monotonic() -> float | None:
    for stamp in phase_stamps():
        if stamp.name == CALLED_PHASE:
            return stamp.monotonic
    return None


def counted_markers(markers: list[Marker], called_mono: float) -> list[Marker]:
    """The markers acknowledged before the restore call."""
    return [m for m in markers if m.acked and m.ack_mono is not None and m.ack_mono <= called_mono]


def verification(
    counted: list[Marker], present: set[int], restore_point: datetime
) -> RestoreVerification:
    """Every counted marker acknowledged at or before the restore point must be present."""
    expected = [m for m in counted if m.ack_wall and _instant(m.ack_wall) <= restore_point]
    missing = sorted(m.seq for m in expected if m.seq not in present)
    return RestoreVerification(
        markers_expected=len(expected),
        markers_present=len(expected) - len(missing),
        missing_count=len(missing),
        first_missing=missing[0] if missing else None,
        last_missing=missing[-1] if missing else None,
        passed=not missing,
    )


def _restored_markers(spec: dict[str, Any], endpoint: dict[str, Any]) -> PostgresMarkers:
    import psycopg.conninfo

    params = psycopg.conninfo.conninfo_to_dict(str(spec["dsn"]))
    params.update(host=str(endpoint["address"]), port=str(endpoint["port"]))
    dsn = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v})
    return PostgresMarkers(dsn, spec.get("table") or "gameday_markers")


def verify(session: MeasurementSession) -> dict[str, Any]:
    """Read this run's markers back from the restored database; verify and measure the
    restore RPO (``probes.activities.verify_restored_markers``). ActivityFailed, one
    line, when there is nothing to verify."""
    global _result
    where = "verify_restored_markers"
    if session.writer is None:
        raise ActivityFailed(
            f"{where}: no write markers running: declare postgres markers in the "
            "measurement control"
        )
    spec = session.spec.markers or {}
    if spec.get("kind") != "postgres":
        raise ActivityFailed(f"{where}: the restore drill verifies postgres markers only")
    restore = reported_restore()
    endpoint = fault_details().get("restore_endpoint")
    called = _called_monotonic()
    if restore is None or not isinstance(endpoint, dict) or called is None:
        raise ActivityFailed(
            f"{where}: no restored instance answering yet (run wait_for_restored_instance first)"
        )
    counted = counted_markers(session.writer.markers(), called)
    backend = _restored_markers(spec, endpoint)
    present = backend.present(session.run_id, [m.seq for m in counted])
    point = _instant(str(restore["restore_point"]))
    checked = verification(counted, present, point)
    rpo = compute_rpo(counted, present, session.writer.interval, session.writer.started_mono)
    first_query = next((p["at_s"] for p in restore["phases"] if p["name"] == "first_query"), None)
    result = DrillResult(
        verification=checked,
        rpo=rpo,
        rto_s=first_query,
        rto_resolution_s=float(endpoint.get("query_interval_s") or session.interval),
    )
    with _lock:
        _result = result
    return {
        "verification": dict(checked),
        "rpo_s": None if rpo.measured_s is None else round(rpo.measured_s, 3),
        "lost": rpo.lost,
        "counted": len(counted),
        "restore_rto_s": first_query,
    }


def restore_block() -> RestoreBlock | None:
    """``recovery.restore``: the fault's drill block with the verification (None when
    the drill never verified)."""
    restore = reported_restore()
    if restore is None:
        return None
    result = drill_result()
    block = RestoreBlock(
        kind=str(restore["kind"]),
        source=str(restore["source"]),
        restored=str(restore["restored"]),
        restore_point=restore.get("restore_point"),
        drill_started=restore.get("drill_started"),
        latest_restorable_lag_s=restore.get("latest_restorable_lag_s"),
        phases=[{"name": str(p["name"]), "at_s": float(p["at_s"])} for p in restore["phases"]],
        verification=result.verification if result else None,
        deleted=bool(restore.get("deleted")),
    )
    point = restore.get("recovery_point")
    if isinstance(point, dict):
        block["region"] = str(restore.get("region") or point.get("region"))
        block["recovery_point"] = RecoveryPointBlock(
            arn=str(point["arn"]),
            vault=str(point["vault"]),
            region=str(point["region"]),
            created=point.get("created"),
            completed=point.get("completed"),
            age_at_drill_start_s=point.get("age_at_drill_start_s"),
        )
    return block


def first_query_at(restore: RestoreBlock) -> str | None:
    """Wall time of the first successful query or read (drill start + its phase), ISO UTC."""
    start = restore["drill_started"]
    first = ("first_query", "first_read")  # a database's query, a table's read
    at = next((p["at_s"] for p in restore["phases"] if p["name"] in first), None)
    if start is None or at is None:
        return None
    moment = _instant(start) + timedelta(seconds=at)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rto_figures(session: MeasurementSession) -> tuple[float | None, float, str | None]:
    """(restore RTO, resolution, why not measured) of a drill."""
    result = drill_result()
    if result is None:
        return None, session.interval, "restore RTO not measured: the drill never verified"
    if result.rto_s is None:
        return None, result.rto_resolution_s, "the restored instance never answered a query"
    return result.rto_s, result.rto_resolution_s, None
