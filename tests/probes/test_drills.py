"""The restore drill's verification and RPO from the markers (probes.dynamodb_drills.verify):
markers older than the restore point must be present; the RPO is the span of the
acknowledged markers after the restore point and before the restore call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from probes.dynamodb_drills import verify
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
