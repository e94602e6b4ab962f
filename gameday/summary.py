"""The summary table printed at the end of ``gameday run``.

Verdicts come from :mod:`reports.verdicts`, so the terminal, the HTML report, JUnit and
the metrics never disagree; "reverted" comes from the ledger, the authority on undo.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from gameday.runner import RunOutcome
from reports.journal import JournalError, load_journal
from reports.verdicts import RunSummary, format_seconds, summarise

__all__ = ["summary_of", "verdict_of", "summary_table", "run_failed"]


@cache
def _summarise(path: Path, mtime_ns: int) -> RunSummary | None:
    """Parsed once per file version (the table asks several times per row)."""
    try:
        return summarise(load_journal(path))
    except JournalError:
        return None


def summary_of(outcome: RunOutcome) -> RunSummary | None:
    """The reports' summary of the run's journal; None without a readable journal."""
    if not outcome.journal_path.exists():
        return None
    return _summarise(outcome.journal_path, outcome.journal_path.stat().st_mtime_ns)


def verdict_of(outcome: RunOutcome) -> str:
    """One word a reviewer reads first: met, MISSED, FAILED, CANCELLED, NOT STARTED, ..."""
    if not outcome.started:
        return "NOT STARTED"
    summary = summary_of(outcome)
    if outcome.cancelled:
        return "CANCELLED"
    if summary is None:
        return "NO JOURNAL"
    return "met" if summary.verdict == "met" else summary.verdict.upper()


def run_failed(outcome: RunOutcome) -> bool:
    """A missed target, a non-zero exit or anything left unreverted."""
    return verdict_of(outcome) != "met" or outcome.exit_code != 0 or bool(outcome.unreverted)


def _figure(summary: RunSummary | None, name: str) -> str:
    if summary is None:
        return "-"
    figure = summary.rto if name == "rto" else summary.rpo
    measured = "-" if figure.measured_s is None else format_seconds(figure.measured_s, False)
    target = "n/a" if figure.target_s is None else format_seconds(figure.target_s, False)
    return f"{measured} / {target}"


def _reverted(outcome: RunOutcome) -> str:
    if not outcome.started:
        return "-"
    return "yes" if not outcome.unreverted else f"NO ({len(outcome.unreverted)} left)"


def summary_table(outcomes: list[RunOutcome]) -> str:
    """One row per run: RTO and RPO against target, verdict, reverted, time."""
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
        summary = summary_of(outcome)
        rows.append(
            (
                outcome.name,
                _figure(summary, "rto"),
                _figure(summary, "rpo"),
                verdict_of(outcome),
                _reverted(outcome),
                f"{outcome.elapsed_s:.0f}s" if outcome.started else "-",
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
