"""The summary table printed at the end of ``gameday run``."""

from __future__ import annotations

from typing import Any

from gameday.runner import RunOutcome

__all__ = ["verdict_of", "summary_table", "run_failed"]


def _seconds(value: Any) -> str:
    if value is None:
        return "-"
    return f"{float(value):.1f}s" if float(value) < 100 else f"{float(value):.0f}s"


def verdict_of(outcome: RunOutcome) -> str:
    """One word a reviewer reads first: met, MISSED, FAILED, INTERRUPTED, ..."""
    status = outcome.status
    if status in ("interrupted", "aborted", "failed", "no journal"):
        return status.upper()
    recovery = outcome.recovery
    mets = [(recovery.get(k) or {}).get("met") for k in ("rto", "rpo")]
    if any(m is False for m in mets) or status == "deviated":
        return "MISSED"
    if recovery and all(m is True for m in mets):
        return "met"
    return status


def run_failed(outcome: RunOutcome) -> bool:
    return (
        verdict_of(outcome) not in ("met", "completed")
        or outcome.exit_code != 0
        or bool(outcome.unreverted)
    )


def summary_table(outcomes: list[RunOutcome]) -> str:
    header = (
        "experiment",
        "RTO measured/target",
        "RPO measured/target",
        "verdict",
        "reverted",
        "time",
    )
    rows = [header]
    for outcome in outcomes:
        recovery = outcome.recovery
        rto, rpo = recovery.get("rto") or {}, recovery.get("rpo") or {}
        target = recovery.get("target") or {}
        rows.append(
            (
                outcome.name,
                f"{_seconds(rto.get('measured_s'))} / {_seconds(target.get('rto_s'))}",
                f"{_seconds(rpo.get('measured_s'))} / {_seconds(target.get('rpo_s'))}",
                verdict_of(outcome),
                "yes" if not outcome.unreverted else f"NO ({len(outcome.unreverted)} left)",
                f"{outcome.elapsed_s:.0f}s",
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
