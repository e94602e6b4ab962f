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
  how much an incident at the restore call would have lost;
- item counts (:func:`item_counts`): the restored table's items against the source's as
  of the restore point. The fault counts the source when it calls the restore and the
  copy once it reads; from outside, the source's items as of the restore point are that
  count less the run's own markers acknowledged after the restore point (and before the
  count began). Writes or deletes by others after the restore point cannot be told
  apart from a restore that lost or invented items: the difference is reported as "not
  accounted", and the counts pass when it is within the markers in flight during the
  source's count (which the count may or may not include).

The verdicts (:mod:`probes.verdicts`) then judge the drill's RTO (restore call to the
first read) and this RPO instead of the samplers' outage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

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
    items: ItemCounts | None = None

    def verification(self) -> RestoreVerification:
        found: RestoreVerification = {
            "markers_expected": self.expected,
            "markers_present": self.present,
            "missing_count": len(self.missing),
            "first_missing": self.missing[0] if self.missing else None,
            "last_missing": self.missing[-1] if self.missing else None,
            "passed": not self.missing,
        }
        if self.items is not None:
            counts = self.items.fields()
            found["items_expected"] = counts["items_expected"]
            found["items_restored"] = counts["items_restored"]
            found["items_not_accounted"] = counts["items_not_accounted"]
            found["items_uncertain"] = counts["items_uncertain"]
            found["items_passed"] = counts["items_passed"]
        return found


class ItemFields(TypedDict):
    items_expected: int | None
    items_restored: int | None
    items_not_accounted: int | None
    items_uncertain: int
    items_passed: bool | None


@dataclass(frozen=True)
class ItemCounts:
    """The restored table's item count against the source's as of the restore point."""

    expected: int | None
    restored: int | None
    uncertain: int  # markers in flight while the source was counted

    @property
    def not_accounted(self) -> int | None:
        if self.expected is None or self.restored is None:
            return None
        return self.expected - self.restored

    def fields(self) -> ItemFields:
        gap = self.not_accounted
        return {
            "items_expected": self.expected,
            "items_restored": self.restored,
            "items_not_accounted": gap,
            "items_uncertain": self.uncertain,
            "items_passed": None if gap is None else abs(gap) <= self.uncertain,
        }


def item_counts(
    markers: list[Marker],
    restore_point: datetime,
    source_items: int | None,
    restored_items: int | None,
    count_began: float,
    count_ended: float,
) -> ItemCounts:
    """Pure: the source's items as of the restore point (its count at the restore call
    less the run's markers acknowledged after the point, before the count began) against
    the copy's count. Markers sent before the count ended and not acknowledged before it
    began may or may not be in the count: the tolerance."""
    written_after = [
        m
        for m in markers
        if m.acked
        and m.ack_mono is not None
        and m.ack_mono <= count_began
        and (_when(m.ack_wall) or restore_point) > restore_point
    ]
    in_flight = [
        m
        for m in markers
        if m.sent_mono < count_ended and (m.ack_mono is None or m.ack_mono > count_began)
    ]
    expected = None if source_items is None else source_items - len(written_after)
    return ItemCounts(expected=expected, restored=restored_items, uncertain=len(in_flight))


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
    began, ended = (detail.get("source_count_mono") or [None, None])[:2]
    if began is not None and ended is not None:
        result.items = item_counts(
            markers,
            restore_point,
            detail.get("source_items"),
            detail.get("restored_items"),
            float(began),
            float(ended),
        )
    session.drill = result
    verification = result.verification()
    logger.info("restore drill verification of %s: %s", detail["restored"], verification)
    return {**verification, "rpo_s": result.rpo.measured_s, "lost": result.rpo.lost}
