"""The summary table printed at the end of ``gameday run``.

Verdicts come from :mod:`reports.verdicts`, so the terminal, the HTML report, JUnit and
the metrics never disagree; "reverted" comes from the ledger, the authority on undo.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from chaosaws_ext.ledger import Ledger
from gameday.runner import RunOutcome
from reports.journal import JournalError, load_journal
from reports.verdicts import RunSummary, format_seconds, service_summaries, summarise

__all__ = [
    "summary_of",
    "verdict_of",
    "summary_table",
    "run_failed",
    "no_journal_reason",
    "reverted_of",
]

# chaos' log lines: "[2026-12-01 08:00:00 ERROR] message" (file) or "... ERROR ..."
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\]?\s+(?:\[[^\]]*\]\s+)?(.*\S)")


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
    if summary.verdict == "met":
        return "unjudged" if summary.unjudged else "met"  # unjudged: no target to judge
    return summary.verdict.upper()


def run_failed(outcome: RunOutcome) -> bool:
    """A missed target, a non-zero exit or anything left unreverted."""
    return (
        verdict_of(outcome) not in ("met", "unjudged")
        or outcome.exit_code != 0
        or bool(outcome.unreverted)
    )


def no_journal_reason(outcome: RunOutcome) -> str:
    """Why a run left no journal, in one line: chaos' first ERROR line, else its exit."""
    try:
        lines = outcome.log_path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        match = _ERROR_LINE.search(_ANSI.sub("", line))
        if match and match.group(2).strip(" -=>"):
            return match.group(2).strip()[:300]
    if outcome.exit_code < 0:
        return f"chaos was killed by signal {-outcome.exit_code}, before writing its journal"
    return f"chaos exited with status {outcome.exit_code} without writing a journal"


def reverted_of(outcome: RunOutcome) -> str:
    """What the ledger knows: every change undone, some left, or nothing ever applied
    ("-" for an experiment a cancelled game day never started)."""
    if not outcome.started:
        return "-"
    if outcome.unreverted:
        return f"NO ({len(outcome.unreverted)} left)"
    ledger = outcome.journal_path.parent / "ledger.jsonl"
    version = ledger.stat().st_mtime_ns if ledger.exists() else 0
    return "yes" if outcome.run_id in _runs_in_ledger(ledger, version) else "nothing applied"


@cache
def _runs_in_ledger(ledger: Path, mtime_ns: int) -> frozenset[str]:
    """The run ids with an entry in the ledger: read once per ledger version, not once
    per row of the table."""
    if not mtime_ns:
        return frozenset()
    return frozenset(entry.run_id for entry in Ledger(ledger).entries())


@cache
def _services(path: Path, mtime_ns: int) -> tuple[tuple[str, str, str, str], ...]:
    """A scenario's services (``recovery.services``): (name, RTO, RPO, verdict) each."""
    try:
        services = service_summaries(load_journal(path), include_own=True)
    except JournalError:
        return ()
    rows = []
    for service in services:
        verdicts = [service.rto.met, service.rpo.met]
        verdict = "MISSED" if False in verdicts else ("met" if True in verdicts else "unjudged")
        row = (f"  {service.service}", _figure(service, "rto"), _figure(service, "rpo"), verdict)
        rows.append(row)
    return tuple(rows)


def _service_rows(outcome: RunOutcome) -> tuple[tuple[str, str, str, str], ...]:
    path = outcome.journal_path
    return _services(path, path.stat().st_mtime_ns) if path.exists() else ()


def _figure(summary: RunSummary | None, name: str) -> str:
    if summary is None:
        return "-"
    figure = summary.rto if name == "rto" else summary.rpo
    measured = "-" if figure.measured_s is None else format_seconds(figure.measured_s, False)
    target = "n/a" if figure.target_s is None else format_seconds(figure.target_s, False)
    return f"{measured} / {target}"


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
                reverted_of(outcome),
                f"{outcome.elapsed_s:.0f}s" if outcome.started else "-",
            )
        )
        # a scenario: one row per service it measured, each against its own target
        rows += [(*row, "", "") for row in _service_rows(outcome)]
    notes = [
        f"{outcome.name}: no journal: {no_journal_reason(outcome)}"
        for outcome in outcomes
        if outcome.started and summary_of(outcome) is None
    ]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ([""] + notes if notes else []))
