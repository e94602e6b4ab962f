"""The failback window's verdict from samples, and the runbook step table against its
time boxes."""

from __future__ import annotations

from probes.recovery import Sample
from probes.runbook import runbook_table
from probes.windows import judge_samples, p99


def _samples(n: int, failed: set[int], latency: float = 10.0) -> list[Sample]:
    return [
        Sample(float(i), "", i not in failed, latency, None if i not in failed else "http")
        for i in range(n)
    ]


def test_a_window_is_judged_on_its_own_samples_only() -> None:
    samples = _samples(200, failed={5, 150})
    good = judge_samples(samples, 100.0, 149.0)
    assert (good.good, good.samples, good.errors, good.error_rate) == (True, 50, 0, 0.0)
    bad = judge_samples(samples, 100.0, 199.0, max_error_rate=0.005)
    assert not bad.good and bad.errors == 1 and "error rate 0.010 above 0.005" in str(bad.reason)
    slow = judge_samples(_samples(10, set(), latency=1500.0), 0.0, 9.0)
    assert not slow.good and "p99 latency 1500 ms" in str(slow.reason)
    empty = judge_samples(samples, 500.0, 600.0)
    assert not empty.good and empty.reason == "no sample in the window"


def test_p99_is_the_nearest_rank() -> None:
    assert p99([float(i) for i in range(1, 101)]) == 99.0
    assert p99([3.0]) == 3.0 and p99([]) is None


def test_runbook_steps_against_their_boxes_scaled() -> None:
    rows = runbook_table(
        {"detected_s": 2.0, "first_success_s": 20.0, "secondary_verified_s": None}, 0.02
    )
    assert [(r["step"], r["started_s"], r["ended_s"], r["met"]) for r in rows] == [
        ("1", 0.0, 2.0, True),
        ("2", 2.0, 20.0, False),  # box ends at 900 s x 0.02 = 18 s
        ("3", 20.0, None, None),
    ]
    assert rows[1]["box_s"] == [6.0, 18.0]
