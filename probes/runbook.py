"""The runbook step table: each step of the DR runbook's Scenario 1 measured against its
time box (Step 1 "Declare Incident (0-5 minutes)", Step 2 "Activate DR Mode (5-15
minutes)", Step 3 "Verify Secondary Region (15-30 minutes)"), from the run's timeline.

Times are seconds from t0 (the primary made unavailable). Step 1 ends when the outage is
detected (the first failed sample through the name), step 2 when clients succeed through
the name again (the first success of the recovery: DNS changed and propagated), step 3
when the verification of the secondary passed (phase ``secondary_verified``). A step is
met when it ends within its box's end; boxes scale with ``time_scale`` (the sandbox's).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["RUNBOOK_STEPS", "runbook_table"]

# (step, title, box start s, box end s, phase ending it)
RUNBOOK_STEPS = (
    ("1", "Declare incident", 0.0, 300.0, "detected_s"),
    ("2", "Activate DR mode", 300.0, 900.0, "first_success_s"),
    ("3", "Verify secondary region", 900.0, 1800.0, "secondary_verified_s"),
)


def runbook_table(
    phases: Mapping[str, float | None], time_scale: float = 1.0
) -> list[dict[str, object]]:
    """One row per step: measured start/end (s from t0), its box, met or not (None when
    its end was not seen)."""
    rows: list[dict[str, object]] = []
    start: float | None = 0.0
    for step, title, box_start, box_end, phase in RUNBOOK_STEPS:
        end = phases.get(phase)
        box = (round(box_start * time_scale, 3), round(box_end * time_scale, 3))
        rows.append(
            {
                "step": step,
                "title": title,
                "started_s": start,
                "ended_s": end,
                "box_s": list(box),
                "met": None if end is None else end <= box[1],
                "ended_by": phase.removesuffix("_s"),
            }
        )
        start = end
    return rows
