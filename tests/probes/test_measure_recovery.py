"""RTO/RPO/availability math on synthetic sample streams."""

from __future__ import annotations

import pytest

from probes.recovery import (
    Marker,
    Sample,
    availability,
    compute_rpo,
    compute_rto,
    percentiles,
    recovery_rule,
)

INTERVAL = 0.25


def stream(pattern: str, start: float = 100.0, interval: float = INTERVAL) -> list[Sample]:
    """'1' = ok, '0' = failed; one sample per interval from ``start``."""
    return [
        Sample(start + i * interval, f"wall-{i}", c == "1", 10.0 if c == "1" else None)
        for i, c in enumerate(pattern)
    ]


def test_no_outage_rto_zero() -> None:
    result = compute_rto(stream("1111111111"), t0=100.5, interval=INTERVAL)
    assert result.measured_s == 0.0 and not result.outage and result.recovered


def test_failures_before_t0_do_not_count() -> None:
    result = compute_rto(stream("0001111111"), t0=100.75, interval=INTERVAL)
    assert result.measured_s == 0.0 and not result.outage


def test_one_outage() -> None:
    # t0 = 100.5 (index 2); fails at 2..5, recovers at index 6 = 101.5
    result = compute_rto(stream("11000011111"), t0=100.5, interval=INTERVAL)
    assert result.outage
    assert result.outage_started_mono == 100.5
    assert result.recovered_mono == 101.5
    assert result.measured_s == pytest.approx(1.0)
    assert result.failed_samples == 4
    assert result.last_failure_mono == 101.25
    assert result.recovered_wall == "wall-6"


def test_flapping_recovery_needs_k_consecutive() -> None:
    # after the outage: 1 1 0 1 0 1 1 1 -> recovery at the start of the final 111
    pattern = "1100" + "110" + "10" + "111" + "1"
    result = compute_rto(stream(pattern), t0=100.25, interval=INTERVAL, consecutive=3)
    first_of_run = 100.0 + 9 * INTERVAL
    assert result.recovered_mono == first_of_run
    assert result.measured_s == pytest.approx(first_of_run - 100.25)
    assert result.last_failure_mono == 100.0 + 8 * INTERVAL
    # with K=1 the first success after the outage counts
    k1 = compute_rto(stream(pattern), t0=100.25, interval=INTERVAL, consecutive=1)
    assert k1.recovered_mono == 100.0 + 4 * INTERVAL


def test_outage_that_never_ends() -> None:
    result = compute_rto(stream("1100000000011"), t0=100.25, interval=INTERVAL)
    assert result.outage and not result.recovered and result.measured_s is None


def test_unsorted_input_and_wall_clock_jumping_backwards() -> None:
    samples = stream("1100001111")
    # wall clock jumps back an hour in the middle: only the wall strings change
    jumped = [
        Sample(s.t_mono, "2026-01-01T09:00:00Z" if i > 4 else "2026-01-01T10:00:00Z", s.ok)
        for i, s in enumerate(samples)
    ]
    result = compute_rto(list(reversed(jumped)), t0=100.5, interval=INTERVAL)
    assert result.measured_s == pytest.approx(1.0)  # 100.5 -> 101.5 on the monotonic clock
    assert result.recovered_wall == "2026-01-01T09:00:00Z"


def test_consecutive_must_be_positive() -> None:
    with pytest.raises(ValueError):
        compute_rto([], 0.0, INTERVAL, consecutive=0)


def markers(n: int, interval: float = 0.2, start: float = 50.0) -> list[Marker]:
    return [
        Marker(
            seq=i,
            sent_mono=start + i * interval,
            sent_wall="w",
            acked=True,
            ack_mono=start + i * interval + 0.01,
        )
        for i in range(1, n + 1)
    ]


# A partial outage: an AZ of three lost behind a round-robin ALB. Requests routed to the
# lost zone fail until the load balancer takes it out at index 11 (2.75 s after t0);
# between failures, K=3 successes in a row happen (other clients' requests shift the
# rotation), then only successes.
PARTIAL = "0110111011011111" + "1" * 20  # t0 = 100.0; last failure at index 10


def test_partial_outage_k_alone_declares_recovery_early() -> None:
    """The defect: the K run alone is met inside the partial outage (index 4)."""
    result = compute_rto(stream(PARTIAL), t0=100.0, interval=INTERVAL, consecutive=3)
    assert result.measured_s == pytest.approx(1.0)  # index 4, while the zone still fails


def test_partial_outage_window_waits_for_the_zone_to_be_taken_out() -> None:
    """With a window of several rounds (2 s = 8 samples > the longest run inside the
    partial outage), recovery is the first success after the last failure."""
    result = compute_rto(stream(PARTIAL), t0=100.0, interval=INTERVAL, consecutive=3, window_s=2.0)
    assert result.recovered and result.recovered_wall == "wall-11"
    assert result.measured_s == pytest.approx(11 * INTERVAL)
    assert result.last_failure_mono == pytest.approx(100.0 + 10 * INTERVAL)
    assert result.failed_samples == 4


def test_window_reached_exactly_counts_and_a_failure_inside_it_does_not() -> None:
    # run from index 1; window 1.0 s: a failure at index 5 (1.0 s later) is inside it
    assert compute_rto(
        stream("0111101111111"), 100.0, INTERVAL, 3, window_s=1.0
    ).recovered_wall == ("wall-6")
    # a failure just after the window (index 6, 1.25 s later) does not undo the recovery
    assert compute_rto(
        stream("0111110111111"), 100.0, INTERVAL, 3, window_s=1.0
    ).recovered_wall == ("wall-1")


def test_a_run_not_yet_as_long_as_the_window_is_no_recovery_yet() -> None:
    """What wait_for_recovery sees live: K successes, but the window not yet observed."""
    result = compute_rto(
        stream("0011111"), t0=100.0, interval=INTERVAL, consecutive=3, window_s=2.0
    )
    assert result.outage and not result.recovered and result.measured_s is None
    later = compute_rto(stream("0011111111111"), 100.0, INTERVAL, 3, window_s=2.0)
    assert later.recovered_wall == "wall-2"  # the window is observed: the run's first success


def test_window_zero_is_the_k_rule() -> None:
    for pattern in (PARTIAL, "11000011111", "0101101110111", "000"):
        plain = compute_rto(stream(pattern), 100.0, INTERVAL, 3)
        windowed = compute_rto(stream(pattern), 100.0, INTERVAL, 3, window_s=0.0)
        assert plain == windowed


def test_window_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="window_s"):
        compute_rto(stream("01"), 100.0, INTERVAL, 3, window_s=-1)


def test_the_rule_in_words() -> None:
    assert recovery_rule(3) == "first success of 3 consecutive successes after the outage"
    assert recovery_rule(3, 2.5) == (
        "first success of 3 consecutive successes after the outage, "
        "with no failed sample within 2.5 s of it"
    )


def test_rpo_zero_when_nothing_lost() -> None:
    ms = markers(10)
    result = compute_rpo(ms, {m.seq for m in ms}, 0.2, start_mono=50.0)
    assert result.measured_s == 0.0 and result.lost == 0 and result.acknowledged == 10


def test_rpo_gap_in_the_middle() -> None:
    ms = markers(20)
    present = {m.seq for m in ms} - {8, 9, 10, 11}
    result = compute_rpo(ms, present, 0.2, start_mono=50.0)
    # from the ack of 7 (last survivor) to the ack of 11 (last lost): 4 intervals
    assert result.measured_s == pytest.approx(0.8)
    assert result.lost == 4 and result.lost_seqs == [8, 9, 10, 11]
    assert result.worst_gap == (8, 11)


def test_rpo_longest_gap_wins_and_gap_at_the_end() -> None:
    ms = markers(20)
    present = {m.seq for m in ms} - {3} - set(range(15, 21))
    result = compute_rpo(ms, present, 0.2, start_mono=50.0)
    assert result.measured_s == pytest.approx(6 * 0.2)  # 14 -> 20
    assert result.worst_gap == (15, 20)
    assert result.lost == 7


def test_rpo_unacknowledged_markers_are_ignored() -> None:
    ms = markers(10)
    ms[4].acked = False  # seq 5 never acknowledged and missing: not a loss
    present = {m.seq for m in ms} - {5}
    result = compute_rpo(ms, present, 0.2)
    assert result.measured_s == 0.0 and result.acknowledged == 9 and result.written == 10


def test_rpo_gap_at_the_start_counts_from_the_writer_start() -> None:
    ms = markers(5)
    result = compute_rpo(ms, {4, 5}, 0.2, start_mono=50.0)
    assert result.measured_s == pytest.approx(0.61)  # ack of 3 = 50.61


def test_rpo_without_an_acknowledged_marker_is_not_measured() -> None:
    ms = markers(4)
    for marker in ms:
        marker.acked = False
    result = compute_rpo(ms, set(), 0.2, start_mono=50.0)
    assert result.measured_s is None and result.written == 4 and result.acknowledged == 0


def test_rpo_unreadable() -> None:
    result = compute_rpo(markers(3), None, 0.2)
    assert result.measured_s is None


def test_availability_series_and_thinning() -> None:
    samples = stream("1" * 50 + "0" * 3 + "1" * 50)
    block = availability(samples, origin=100.0)
    assert block["samples"] == 103 and block["ok"] == 100
    assert block["ratio"] == pytest.approx(100 / 103, abs=1e-4)
    assert block["series"][0] == [0.0, 1, 10.0]
    assert block["series"][50] == [12.5, 0, None]
    thin = availability(samples, origin=100.0, limit=20)
    assert len(thin["series"]) < 40
    assert sum(1 for row in thin["series"] if row[1] == 0) == 3  # no failure hidden


def test_percentiles() -> None:
    values = [i / 100 for i in range(1, 101)]
    result = percentiles(values)
    assert result == {"p50": 0.5, "p99": 0.99, "max": 1.0, "count": 100}
    assert percentiles([])["p50"] is None
