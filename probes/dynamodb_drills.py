"""Table restore drills, measured: which acknowledged write markers the restored copy holds.

A drill fault (``chaosaws_ext.dynamodbrestore``) restores the source into a new table
and leaves its facts in the timeline's fault details (``restore``: the restored table,
the restore point, the call's time, the phases). :func:`verify_restored_markers` (a
method probe, run before the rollback deletes the copy) reads the markers back from the
restored table and records on the session:

- verification: every acknowledged marker older than the restore point must be present
  (expected, present, missing count, first and last missing);
- restore RPO: the span of acknowledged markers sent before the restore call that are
  missing in the copy (:func:`probes.recovery.compute_rpo` over those markers), which is
  how much an incident at the restore call would have lost.

The verdicts (:mod:`probes.verdicts`) then judge the drill's RTO (restore call to the
first read) and this RPO instead of the samplers' outage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.recovery_schema import RestoreVerification
from chaosaws_ext.core.timeline import fault_details
from probes import session as measurement
from probes.markers import DynamoMarkers
from probes.recovery import Marker, RpoResult, compute_rpo

if TYPE_CHECKING:
    from probes.session import MeasurementSession

# the activity (chaos discover lists __all__); verify, drill_of, restore_detail are helpers
__all__ = ["verify_restored_markers"]

logger = logging.getLogger(__name__)


@dataclass
class DrillResult:
    """What the markers say about one restored copy."""

    expected: int
    present: int
    missing: list[int]
    rpo: RpoResult
    considered: list[int] = field(default_factory=list)

    def verification(self) -> RestoreVerification:
        return {
            "markers_expected": self.expected,
            "markers_present": self.present,
            "missing_count": len(self.missing),
            "first_missing": self.missing[0] if self.missing else None,
            "last_missing": self.missing[-1] if self.missing else None,
            "passed": not self.missing,
        }


def drill_of(session: MeasurementSession) -> DrillResult | None:
    """The drill result recorded for ``session`` (None: no drill verified)."""
    found = session.drill
    return found if isinstance(found, DrillResult) else None


def restore_detail() -> dict[str, Any] | None:
    """The restore drill's facts of this process (fault details ``restore``), if any."""
    detail = fault_details().get("restore")
    return detail if isinstance(detail, dict) else None


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def verify(
    markers: list[Marker],
    present: set[int],
    restore_point: datetime,
    called_mono: float,
    interval: float,
    start_mono: float | None,
) -> DrillResult:
    """Pure: the verification and RPO of one restored copy (module docstring)."""
    before_call = [m for m in markers if m.sent_mono < called_mono]
    acked = [m for m in before_call if m.acked and m.ack_wall]
    older = [m.seq for m in acked if (_when(m.ack_wall) or restore_point) <= restore_point]
    missing = sorted(seq for seq in older if seq not in present)
    return DrillResult(
        expected=len(older),
        present=len(older) - len(missing),
        missing=missing,
        rpo=compute_rpo(before_call, present, interval, start_mono=start_mono),
        considered=[m.seq for m in acked],
    )


def _present_in_copy(backend: DynamoMarkers, run_id: str, seqs: list[int]) -> set[int]:
    """The markers of ``seqs`` in the restored copy (its key schema is the source's).
    The drill's own reads of its copy (not the marker writer's: IAM grants them on the
    copy, in the drill's policy)."""
    client = backend.client(backend.region)
    table = client.describe_table(TableName=backend.table)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    for key in table["KeySchema"]:
        if key["KeyType"] == "HASH":
            backend.hash_key = key["AttributeName"]
        else:
            backend.range_key = (key["AttributeName"], types.get(key["AttributeName"], "S"))
    found: set[int] = set()
    for start in range(0, len(seqs), 100):
        request: dict[str, Any] = {
            backend.table: {
                "Keys": [backend.key(run_id, s) for s in seqs[start : start + 100]],
                "ConsistentRead": True,
                "ProjectionExpression": "gameday_seq",
            }
        }
        for _ in range(10):  # unprocessed keys: bounded retries
            answer = client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(backend.table, []):
                found.add(int(item["gameday_seq"]["N"]))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
    return found


def verify_restored_markers(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Read the run's markers back from the restored table; record and return the
    verification and the restore RPO. ActivityFailed when no drill or no markers ran."""
    session = measurement.current()
    detail = restore_detail()
    if session is None or session.writer is None:
        raise ActivityFailed("verify_restored_markers: no write markers running (markers:)")
    if detail is None or not detail.get("restore_point"):
        raise ActivityFailed("verify_restored_markers: no restore drill ran before it")
    spec = session.spec.markers or {}
    restore_point = _when(str(detail["restore_point"]))
    assert restore_point is not None
    markers = session.writer.markers()
    backend = DynamoMarkers(
        str(detail["restored"]), detail.get("region"), None, None, configuration, secrets
    )
    sent_before = [m.seq for m in markers if m.acked and m.sent_mono < detail["called_mono"]]
    present = _present_in_copy(backend, session.run_id, sent_before)
    result = verify(
        markers,
        present,
        restore_point,
        float(detail["called_mono"]),
        float(spec.get("interval_s") or session.writer.interval),
        session.writer.started_mono,
    )
    session.drill = result
    verification = result.verification()
    logger.info("restore drill verification of %s: %s", detail["restored"], verification)
    return {**verification, "rpo_s": result.rpo.measured_s, "lost": result.rpo.lost}
