"""The DR plan's scorecard: every service and every scheduled test, from a run history.

A DR review asks of each row of the plan: which experiments judge it, when it last ran
and where, the last measured RTO/RPO against the target, the verdict, whether the figure
got better or worse (beyond the measurement resolution), and when the next test is due.
Rows nobody has tested say "never tested"; rows whose next run is past say "overdue".

A run counts as an execution of a test when it reached a verdict (targets met or
missed); a failed, aborted or interrupted run is shown as the last run but does not
move the next due date. A journal is matched to a shipped experiment by its title, then
by its file name (``gameday run`` keeps ``<stamp>-<experiment>.journal.json``), then by
its service when exactly one shipped experiment judges that service. A scenario's run
counts for every service it measured (``recovery.services``), each with its own figures.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from reports.journal import Journal, as_journals
from reports.plan import DrPlan, ScheduledTest
from reports.redaction import mask_journals
from reports.verdicts import Figure, RunSummary, format_seconds, service_summaries, summarise

__all__ = ["Scorecard", "ScoreRow", "build_scorecard", "experiment_of", "format_scorecard"]

NEVER_TESTED = "never tested"
OVERDUE = "overdue"
_EXECUTED = ("met", "missed")


@dataclass
class ScoreRow:
    """One row: a service of targets.yaml or a test type of the schedule."""

    kind: str  # "service" or "test"
    name: str
    experiments: list[str]
    note: str = ""
    runs: int = 0
    last: RunSummary | None = None
    last_measured: RunSummary | None = None
    trend: str = "—"
    trend_detail: str = ""
    frequency: str | None = None
    last_executed: date | None = None
    next_due: date | None = None
    status: str = NEVER_TESTED

    @property
    def rto(self) -> Figure | None:
        return self.last_measured.rto if self.last_measured else None

    @property
    def rpo(self) -> Figure | None:
        return self.last_measured.rpo if self.last_measured else None

    @property
    def verdict(self) -> str:
        return self.last.words if self.last else NEVER_TESTED

    @property
    def verdict_key(self) -> str:
        return self.last.verdict if self.last else "never"

    @property
    def measured_elsewhen(self) -> bool:
        """The figures come from an earlier run than the last one (it measured nothing)."""
        return self.last_measured is not None and self.last_measured is not self.last

    @property
    def measured_verdict(self) -> bool:
        return any(f is not None and f.met is not None for f in (self.rto, self.rpo))


@dataclass
class Scorecard:
    now: datetime
    services: list[ScoreRow] = field(default_factory=list)
    tests: list[ScoreRow] = field(default_factory=list)
    runs: int = 0
    unmatched: int = 0
    environment: str | None = None

    @property
    def rows(self) -> list[ScoreRow]:
        return self.services + self.tests

    @property
    def covered(self) -> int:
        return sum(1 for row in self.services if row.measured_verdict)

    @property
    def coverage(self) -> str:
        total = len(self.services)
        share = f" ({100 * self.covered / total:.0f}%)" if total else ""
        return f"{self.covered} of {total} services in the plan have a measured verdict{share}"


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def experiment_of(journal: Journal, summary: RunSummary, plan: DrPlan) -> str | None:
    """The shipped experiment a journal is a run of, or None."""
    for info in plan.experiments:
        if info.title == summary.title:
            return info.name
    stem = Path(journal.source).name
    for info in sorted(plan.experiments, key=lambda e: -len(e.name)):
        if info.name in stem:
            return info.name
    if summary.service:  # the experiments whose main service it is (a journal's own)
        judging = [e.name for e in plan.experiments if e.service == summary.service]
        if len(judging) == 1:
            return judging[0]
    return None


def _trend(runs: list[RunSummary], last: RunSummary) -> tuple[str, str]:
    """better / worse / steady between ``last`` and the measured run before it in the same
    environment, beyond the larger of the two resolutions."""
    earlier = [
        r
        for r in runs
        if r.environment == last.environment
        and r.started_at < last.started_at
        and (r.rto.measured_s is not None or r.rpo.measured_s is not None)
    ]
    if not earlier:
        return "—", "first measured run"
    previous = earlier[-1]
    worse, better = [], []
    for now_figure, then_figure in ((last.rto, previous.rto), (last.rpo, previous.rpo)):
        if now_figure.measured_s is None or then_figure.measured_s is None:
            continue
        resolution = max(now_figure.resolution_s or 0.0, then_figure.resolution_s or 0.0)
        change = now_figure.measured_s - then_figure.measured_s
        text = (
            f"{now_figure.name} {format_seconds(now_figure.measured_s, minutes=False)} vs "
            f"{format_seconds(then_figure.measured_s, minutes=False)} on "
            f"{previous.started_at:%Y-%m-%d} (±{format_seconds(resolution, minutes=False)})"
        )
        if change > resolution:
            worse.append(text)
        elif change < -resolution:
            better.append(text)
    if worse:
        return "worse", "; ".join(worse)
    if better:
        return "better", "; ".join(better)
    return "steady", f"within the resolution of the run on {previous.started_at:%Y-%m-%d}"


def _fill(row: ScoreRow, runs: list[RunSummary], months: int | None, today: date) -> None:
    runs = sorted(runs, key=lambda r: r.started_at)
    row.runs = len(runs)
    row.last = runs[-1] if runs else None
    measured = [r for r in runs if r.rto.measured_s is not None or r.rpo.measured_s is not None]
    row.last_measured = measured[-1] if measured else None
    if row.last_measured is not None:
        row.trend, row.trend_detail = _trend(measured, row.last_measured)
    executed = [r for r in runs if r.verdict in _EXECUTED]
    if executed:
        row.last_executed = executed[-1].started_at.astimezone(UTC).date()
    if months is not None:
        row.frequency = {1: "monthly", 3: "quarterly", 12: "annually"}.get(
            months, f"every {months} months"
        )
    if row.last_executed is None:
        row.status = NEVER_TESTED
        if runs:
            row.status += f" (no run reached a verdict: last {row.last.words})"  # type: ignore[union-attr]
        elif not row.experiments:
            row.status += " (no experiment yet)"
        return
    if months is None:
        row.status = "tested; not in the testing schedule"
        return
    row.next_due = _add_months(row.last_executed, months)
    if row.next_due < today:
        row.status = f"{OVERDUE} since {row.next_due:%Y-%m-%d} ({(today - row.next_due).days} days)"
    else:
        row.status = f"due {row.next_due:%Y-%m-%d}"


def build_scorecard(
    journals: Iterable[Journal | dict],
    plan: DrPlan,
    *,
    now: datetime | None = None,
    environment: str | None = None,
    extra_secret_values: Iterable[str] = (),
) -> Scorecard:
    """The scorecard of ``plan`` from a history of journals (masked before reading).

    ``environment`` ("aws", "sandbox"): count only runs there (default: all, labelled)."""
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    masked = mask_journals(as_journals(journals), extra_secret_values=extra_secret_values)
    by_experiment: dict[str, list[RunSummary]] = {}
    by_service: dict[str, list[RunSummary]] = {}
    card = Scorecard(now=now, environment=environment)
    seen: set[tuple[str, object]] = set()
    for journal in masked:
        identity = (journal.title, journal.data.get("start"))
        if identity in seen:  # today's run, also copied into the history
            continue
        seen.add(identity)
        summary = summarise(journal)
        if summary.started_at is None or summary.started_at > now:
            continue
        if environment and summary.environment != environment:
            continue
        card.runs += 1
        name = experiment_of(journal, summary, plan)
        if name is None and not summary.service:
            card.unmatched += 1
        if name:
            by_experiment.setdefault(name, []).append(summary)
        if summary.service:
            by_service.setdefault(summary.service, []).append(summary)
        for other in service_summaries(journal):  # a scenario's other services
            by_service.setdefault(str(other.service), []).append(other)
    for service in plan.services:
        experiments = plan.experiments_of_service(service.name)
        tests: list[ScheduledTest] = [t for e in experiments for t in plan.tests_of_experiment(e)]
        row = ScoreRow(
            "service",
            service.name,
            experiments,
            note="" if experiments else "no experiment judges this service yet",
        )
        months = min((t.months for t in tests), default=None)
        _fill(row, by_service.get(service.name, []), months, today)
        card.services.append(row)
    for test in plan.schedule:
        row = ScoreRow(
            "test",
            test.type,
            list(test.experiments),
            note="" if test.experiments else "no experiment carries this test out yet",
        )
        runs = [r for e in test.experiments for r in by_experiment.get(e, [])]
        _fill(row, runs, test.months, today)
        card.tests.append(row)
    return card


def _figure_text(figure: Figure | None) -> str:
    if figure is None or not figure.present:
        return "—"
    measured = format_seconds(figure.measured_s, minutes=False)
    target = format_seconds(figure.target_s, minutes=False)
    return f"{measured} / {target} {figure.words}"


def _last_text(row: ScoreRow) -> str:
    if row.last is None:
        return NEVER_TESTED
    return f"{row.last.started_at:%Y-%m-%d} {row.last.environment}"


def format_scorecard(card: Scorecard) -> str:
    """The scorecard as a plain-text table, then the coverage line."""
    header = [
        "row",
        "experiments",
        "last run",
        "RTO measured / target",
        "RPO measured / target",
        "verdict",
        "trend",
        "next due",
    ]
    lines = []
    for row in card.rows:
        label = row.name if row.kind == "service" else f"[test] {row.name}"
        lines.append(
            [
                label,
                ", ".join(row.experiments) or "none yet",
                _last_text(row),
                _figure_text(row.rto)
                + (
                    f" (measured {row.last_measured.started_at:%Y-%m-%d})"
                    if row.measured_elsewhen and row.last_measured
                    else ""
                ),
                _figure_text(row.rpo),
                row.verdict,
                row.trend,
                row.status,
            ]
        )
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    out += [
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        for cells in lines
    ]
    scope = f" ({card.environment} runs only)" if card.environment else ""
    out.append("")
    out.append(
        f"coverage: {card.coverage}; {card.runs} run(s) read{scope}, as of {card.now:%Y-%m-%d}"
    )
    for row in card.rows:
        if row.trend == "worse":
            out.append(f"worse: {row.name}: {row.trend_detail}")
    overdue = [r.name for r in card.rows if r.status.startswith(OVERDUE)]
    if overdue:
        out.append(f"overdue: {', '.join(overdue)}")
    return "\n".join(out)
