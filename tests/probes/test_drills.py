"""The restore drill's verification and RPO from the markers (probes.dynamodb_drills.verify):
markers older than the restore point must be present; the RPO is the span of the
acknowledged markers after the restore point and before the restore call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from probes.dynamodb_drills import item_counts, verify
from probes.recovery import Marker

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
INTERVAL = 0.1


def _markers(count: int) -> list[Marker]:
    """Marker n sent at n*0.1 s (monotonic = seconds after T0), acknowledged 0.02 s later."""
    found = []
    for seq in range(1, count + 1):
        sent = seq * INTERVAL
        ack = T0 + timedelta(seconds=sent + 0.02)
        found.append(
            Marker(seq=seq, sent_mono=sent, sent_wall=(T0 + timedelta(seconds=sent)).isoformat(),
                   acked=True, ack_mono=sent + 0.02, ack_wall=ack.isoformat())
        )  # fmt: skip
    return found


def test_the_copy_as_of_the_restore_point_loses_the_gap_only() -> None:
    markers = _markers(60)  # 0.1 .. 6.0 s
    point = T0 + timedelta(seconds=2.05)  # markers 1..20 acknowledged by then
    called = 4.0  # markers sent before: 1..39
    present = set(range(1, 21))
    result = verify(markers, present, point, called, INTERVAL, start_mono=0.0)
    assert result.verification() == {
        "markers_expected": 20,
        "markers_present": 20,
        "missing_count": 0,
        "first_missing": None,
        "last_missing": None,
        "passed": True,
    }
    assert result.rpo.lost == 19  # 21..39: after the restore point, before the call
    # from the last present marker's ack (2.02 s) to the last lost one's (3.92 s)
    assert abs(result.rpo.measured_s - 1.9) < 1e-9  # type: ignore[operator]
    assert result.rpo.acknowledged == 39  # the markers sent after the call never count


def test_a_marker_older_than_the_restore_point_missing_fails_the_verification() -> None:
    markers = _markers(30)
    point = T0 + timedelta(seconds=2.05)
    present = set(range(1, 21)) - {7, 9}
    result = verify(markers, present, point, 2.5, INTERVAL, start_mono=0.0)
    verification = result.verification()
    assert verification["passed"] is False
    assert verification["missing_count"] == 2
    assert (verification["first_missing"], verification["last_missing"]) == (7, 9)
    assert verification["markers_present"] == 18


def test_items_expected_are_the_source_count_less_the_runs_markers_after_the_point() -> None:
    markers = _markers(60)
    point = T0 + timedelta(seconds=2.05)  # markers 1..20 acknowledged by then
    # the source counted from 3.0 s to 3.3 s: markers 21..29 acknowledged before it
    # (ack at n*0.1 + 0.02 <= 3.0), 30..32 in flight (sent before 3.3, acked after 3.0)
    counts = item_counts(markers, point, 1029, 1020, count_began=3.0, count_ended=3.3)
    assert counts.expected == 1029 - 9 and counts.uncertain == 3
    assert counts.fields() == {
        "items_expected": 1020,
        "items_restored": 1020,
        "items_not_accounted": 0,
        "items_uncertain": 3,
        "items_passed": True,
    }


def test_items_others_changed_after_the_point_are_not_accounted_and_fail() -> None:
    markers = _markers(30)
    point = T0 + timedelta(seconds=2.05)
    # 21..30 acknowledged before the count began at 4.0 s; none in flight
    counts = item_counts(markers, point, 1017, 1000, count_began=4.0, count_ended=4.1)
    fields = counts.fields()
    assert (fields["items_expected"], fields["items_restored"]) == (1007, 1000)
    assert fields["items_not_accounted"] == 7 and fields["items_uncertain"] == 0
    assert fields["items_passed"] is False


def test_an_uncounted_table_reports_no_item_verdict() -> None:
    counts = item_counts(_markers(5), T0, None, 12, count_began=1.0, count_ended=1.1)
    assert counts.fields()["items_expected"] is None
    assert counts.fields()["items_passed"] is None


def test_the_verification_carries_the_item_counts() -> None:
    markers = _markers(30)
    point = T0 + timedelta(seconds=2.05)
    result = verify(markers, set(range(1, 21)), point, 2.5, INTERVAL, start_mono=0.0)
    result.items = item_counts(markers, point, 30, 20, count_began=3.5, count_ended=3.6)
    verification = result.verification()
    assert verification["passed"] is True
    assert (verification["items_expected"], verification["items_passed"]) == (20, True)
