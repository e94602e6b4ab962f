"""The self-contained HTML report: summary table, one section per run, nightly trend.

One file, no external asset: CSS inline, charts inline SVG drawn here, no JavaScript,
print styles included. Templates are Jinja2 with autoescape on; every journal is
masked (``reports.redaction``) before anything reads it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from reports.charts import HATCH_DEFS, Mark, availability_chart, replication_lag_chart, trend_chart
from reports.journal import Journal, as_journals, get_path, number, parse_time, recovery_value
from reports.plan import DrPlan
from reports.redaction import CUT_MARK, mask_journals
from reports.review import build_review, findings, in_brief
from reports.scenario import ServiceRow, TimelineRow, service_rows, timeline_rows
from reports.scorecard import Scorecard, build_scorecard
from reports.series import failing_spans, parse_samples
from reports.trend import ExperimentTrend, build_trends
from reports.verdicts import VERDICTS, RunSummary, format_seconds, summarise

__all__ = ["build_report_html", "render_html", "render_scorecard_html"]

logger = logging.getLogger(__name__)

_PHASE_WORDS = {
    "detected_s": "detected",
    "control_plane_s": "control plane done",
    "dns_s": "DNS switched",
    "last_failure_s": "last failure",
    "first_success_s": "first success",
    "full_availability_s": "fully available",
    "conflict_converged_s": "replicas converged",
    "az_changed_s": "primary in another AZ",
    "health_check_unhealthy_s": "health check unhealthy",
    "health_check_healthy_s": "health check healthy again",
    "api_accepted_s": "restore accepted",
    "active_s": "restored copy ACTIVE",
    "first_read_s": "first read of the copy",
}
_OUTPUT_LIMIT = 600
#: an output this short (``true``, ``3``) is shown as is; a longer one is folded away
_INLINE_OUTPUT = 40
_TRACEBACK_LIMIT = 8000


@dataclass
class ActivityRow:
    name: str
    kind: str
    status: str
    duration: str
    start: str
    error: str | None
    traceback: str | None
    output: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExperimentSection:
    anchor: str
    summary: RunSummary
    source: str
    fault: dict[str, Any]
    phases: list[tuple[str, str]]
    rto_edges: list[tuple[str, str]]
    rpo_counts: list[tuple[str, str]]
    availability: dict[str, Any] | None
    availability_chart: Markup | None
    lag: dict[str, float | None] | None
    lag_chart: Markup | None
    replication: list[tuple[str, str]]  # the failover RPO, catch-up, lag, statuses
    replication_finding: str | None  # a missed target under a pause, said plainly
    before: list[ActivityRow]
    before_met: bool | None
    after: list[ActivityRow]
    after_met: bool | None
    method: list[ActivityRow]
    rollbacks: list[ActivityRow]
    environment: list[tuple[str, str]]
    notes: list[str]
    findings: list[str] = field(default_factory=list)
    services: list[ServiceRow] = field(default_factory=list)  # several services measured
    scenario: list[TimelineRow] = field(default_factory=list)  # a composed method's steps
    # the DR drill: each runbook step against its box, each failback step's window
    runbook: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    failback: list[tuple[str, str, str, str]] = field(default_factory=list)
    failback_outcome: str | None = None


def _short(value: Any, limit: int = _OUTPUT_LIMIT) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    if len(text) > limit:
        cut = CUT_MARK.search(text)  # cut before masking: report the original length
        total = int(cut.group(1)) if cut else len(text)
        text = f"{text[:limit]}… ({total - limit} more characters)"
    return text


def _when(value: Any) -> str:
    parsed = parse_time(value) if not isinstance(value, datetime) else value
    if parsed is None:
        return "—"
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock(value: datetime) -> str:
    """``11:42:48.279``: a timeline row (sandbox runs last seconds)."""
    return value.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def _day(value: Any) -> str:
    parsed = parse_time(value) if not isinstance(value, datetime) else value
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if parsed else "—"


def _activity_rows(runs: Any, probes: bool = False) -> list[ActivityRow]:
    rows: list[ActivityRow] = []
    if not isinstance(runs, list):
        return rows
    for run in runs:
        if not isinstance(run, dict):
            continue
        activity = run.get("activity") if isinstance(run.get("activity"), dict) else {}
        exception = run.get("exception")
        error = None
        traceback = None
        if isinstance(exception, list) and exception:
            lines = [str(line).strip() for line in exception if str(line).strip()]
            error = lines[-1] if lines else None
            traceback = _short("".join(str(line) for line in exception), _TRACEBACK_LIMIT)
        elif isinstance(exception, str):
            error = exception.strip().splitlines()[-1] if exception.strip() else None
            traceback = _short(exception, _TRACEBACK_LIMIT)
        if error is not None:
            error = _short(error, _OUTPUT_LIMIT)
        status = run.get("status")
        extra: dict[str, Any] = {}
        if probes:
            extra["tolerance"] = _short(activity.get("tolerance"), 200)
            extra["tolerance_met"] = run.get("tolerance_met")
        provider = activity.get("provider") if isinstance(activity.get("provider"), dict) else {}
        where = ".".join(str(p) for p in (provider.get("module"), provider.get("func")) if p)
        if provider.get("type") and provider.get("type") != "python":
            where = f"{provider.get('type')}: {provider.get('path') or provider.get('url') or ''}"
        extra["provider"] = where
        extra["background"] = bool(activity.get("background"))
        rows.append(
            ActivityRow(
                name=str(activity.get("name") or "unnamed"),
                kind=str(activity.get("type") or "activity"),
                status=str(status) if status else "no status (interrupted)",
                duration=format_seconds(number(run.get("duration"))),
                start=_when(run.get("start")),
                error=error,
                traceback=traceback,
                output=_short(run.get("output")),
                extra=extra,
            )
        )
    return rows


def _timeline(
    journal: Journal, summary: RunSummary
) -> tuple[dict[str, Any] | None, Markup | None, list[str]]:
    """The availability block for display and its chart; notes on what was odd."""
    notes: list[str] = []
    recovery = journal.recovery
    availability = recovery_value(recovery, "availability")
    if not isinstance(availability, dict):
        return None, None, notes
    samples, skipped = parse_samples(recovery_value(recovery, "availability", "series"))
    if skipped:
        notes.append(f"{skipped} malformed availability sample(s) ignored")
    injected = parse_time(recovery_value(recovery, "fault", "injected_at"))
    # t_rel_s counts from the fault's t0, or from the sampling start when there is no t0
    origin = (
        parse_time(
            recovery_value(recovery, "availability", "origin")
            or recovery_value(recovery, "availability", "started_at")
        )
        or injected
        or parse_time(recovery_value(recovery, "sampling", "started_at"))
    )

    def rel(value: Any) -> float | None:
        moment = parse_time(value)
        if moment is None or origin is None:
            return None
        return (moment - origin).total_seconds()

    t0 = rel(recovery_value(recovery, "fault", "injected_at"))
    if t0 is None and injected is None and summary.rto.measured_s is not None:
        t0 = 0.0 if origin is None else None
    spans = failing_spans(samples)
    marks: list[Mark] = []
    if t0 is not None:
        marks.append(Mark(t0, "injected", "fault injected"))
    reverted = rel(recovery_value(recovery, "fault", "reverted_at"))
    if reverted is not None:
        marks.append(Mark(reverted, "reverted", "reverted"))
    outage_start = rel(recovery_value(recovery, "rto", "outage_started_at"))
    recovered = rel(recovery_value(recovery, "rto", "recovered_at"))
    if recovered is None and t0 is not None and summary.rto.measured_s:
        recovered = t0 + summary.rto.measured_s
    if outage_start is None and spans and summary.rto.measured_s:
        after = [s for s in spans if t0 is None or s.end > t0]
        outage_start = after[0].start if after else None
    outage = None
    if outage_start is not None:
        marks.append(Mark(outage_start, "outage", "outage"))
        outage = (outage_start, recovered)
    if recovered is not None and summary.rto.measured_s:
        marks.append(
            Mark(recovered, "recovered", f"recovered: RTO {format_seconds(summary.rto.measured_s)}")
        )
    if outage is not None and recovered is None:
        notes.append("no recovery was observed: the outage is shaded to the end of the samples")
    if len(samples) == 0 and not marks:
        return availability, None, notes
    chart = availability_chart(samples, spans, marks, outage, title="Availability timeline")
    display = {
        "samples": recovery_value(recovery, "availability", "samples", default=len(samples)),
        "ok": recovery_value(recovery, "availability", "ok"),
        "ratio": number(recovery_value(recovery, "availability", "ratio")),
        "series_points": len(samples),
        "failing_spans": len(spans),
    }
    return display, chart, notes


def _lag(journal: Journal, summary: RunSummary) -> tuple[dict[str, float | None] | None, Any]:
    recovery = journal.recovery
    lag = recovery_value(recovery, "replication_lag_s")
    if not isinstance(lag, dict):
        return None, None
    values = {
        k: number(recovery_value(recovery, "replication_lag_s", k)) for k in ("p50", "p99", "max")
    }
    raw_series = recovery_value(recovery, "replication_lag_s", "series")
    series = []
    if isinstance(raw_series, list):
        for row in raw_series:
            if isinstance(row, list) and len(row) >= 2:
                t, v = number(row[0]), number(row[1])
                if t is not None and v is not None:
                    series.append((t, v))
    if all(v is None for v in values.values()) and not series:
        return values, None
    return values, replication_lag_chart(values, summary.rpo.target_s, series)


def _replication(journal: Journal) -> tuple[list[tuple[str, str]], str | None]:
    """Rows of ``recovery.replication`` (failover RPO, catch-up, lag outside the pause,
    ReplicationStatus) and its finding; ([], None) without the block."""
    recovery = journal.recovery

    def value(*path: str) -> Any:
        return recovery_value(recovery, "replication", *path)

    if not isinstance(value(), dict):
        return [], None
    rows = [("replicated", f"{value('source') or '?'} → {value('replica') or '?'}")]
    if number(value("pause_s")) is not None:
        rows.append(("pause", format_seconds(number(value("pause_s")))))
    if isinstance(value("failover"), dict):
        missing, acked = value("failover", "missing"), value("failover", "acknowledged")
        rows.append(
            (
                f"failover RPO ({value('failover', 'basis') or '?'})",
                f"{format_seconds(number(value('failover', 'rpo_s')))} of writes: "
                f"{missing} of {acked} acknowledged markers missing in the replica "
                f"(±{format_seconds(number(value('failover', 'resolution_s')))})",
            )
        )
    if isinstance(value("catch_up"), dict):
        caught = number(value("catch_up", "measured_s"))
        text = (
            f"{format_seconds(caught)} after the end of the pause"
            if caught is not None
            else str(_short(value("catch_up", "reason") or "not caught up", 400))
        )
        rows.append(("catch-up", text))
    if isinstance(value("lag"), dict):
        spread = ", ".join(
            f"{k} {format_seconds(number(value('lag', k)))}" for k in ("p50", "p99", "max")
        )
        rows.append((f"lag outside the pause ({value('lag', 'count')} markers)", spread))
    statuses = value("replication_status")
    if isinstance(statuses, dict) and statuses:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
        rows.append(("ReplicationStatus of the source markers", counts))
    finding = value("finding")
    return rows, str(_short(finding, 600)) if finding else None


def _verdict(met: Any) -> str:
    return "met" if met is True else "MISSED" if met is False else "not seen"


def _runbook(recovery: Any) -> list[tuple[str, str, str, str, str]]:
    """``recovery.runbook``: (step, title, measured span, box, verdict) per step."""
    rows = recovery_value(recovery, "runbook", default=[])
    table = []
    for row in rows if isinstance(rows, list) else []:
        box = row.get("box_s") or [None, None]
        span = f"{format_seconds(number(row.get('started_s')))} → " + (
            format_seconds(number(row.get("ended_s"))) if row.get("ended_s") is not None else "—"
        )
        boxed = f"{format_seconds(number(box[0]))} → {format_seconds(number(box[1]))}"
        table.append(
            (str(row.get("step")), str(row.get("title")), span, boxed, _verdict(row.get("met")))
        )
    return table


def _failback(recovery: Any) -> tuple[list[tuple[str, str, str, str]], str | None]:
    """``recovery.failback``: (share, window, figures, verdict) per step, and the outcome."""
    block = recovery_value(recovery, "failback", default=None)
    if not isinstance(block, dict):
        return [], None
    rows = []
    for step in block.get("steps") or []:
        window = number(step.get("window_s"))
        figures = "not monitored"
        if step.get("samples") is not None:
            rate = number(step.get("error_rate"))
            p99 = number(step.get("p99_latency_ms"))
            figures = (
                f"{step.get('errors')} of {step.get('samples')} samples failed"
                + (f" ({rate * 100:.1f} %)" if rate is not None else "")
                + (f", p99 {p99:.0f} ms" if p99 is not None else "")
            )
        verdict = "good" if step.get("good") else f"BAD: {_short(step.get('reason'), 200)}"
        rows.append((f"{step.get('percent')} %", format_seconds(window), figures, verdict))
    if block.get("completed"):
        outcome = (
            f"all traffic back on the primary in {format_seconds(number(block.get('duration_s')))}"
        )
    elif block.get("rolled_back"):
        outcome = "stopped by a bad window: all traffic back on the secondary"
    else:
        outcome = "did not finish"
    return rows, outcome


def _environment(journal: Journal, summary: RunSummary) -> list[tuple[str, str]]:
    data = journal.data
    rows = [
        ("target", summary.environment),
        ("region", summary.region or "—"),
        ("account", summary.account or "—"),
        ("chaoslib", str(data.get("chaoslib-version") or "—")),
    ]
    for key in ("chaostoolkit-version", "chaostoolkit_version"):
        if data.get(key):
            rows.append(("chaostoolkit", str(data[key])))
    rows += [
        ("platform", str(data.get("platform") or "—")),
        ("node", str(data.get("node") or "—")),
        ("started", _when(data.get("start"))),
        ("ended", _when(data.get("end"))),
        ("duration", format_seconds(journal.duration_s)),
        ("journal", journal.source),
    ]
    return rows


def _restore_rows(recovery: Any) -> list[tuple[str, str]]:
    """A restore drill's copy, restore point and verification (empty for a fault)."""
    restored = recovery_value(recovery, "restore", "restored")
    if not restored:
        return []
    rows = [
        ("restored copy", str(restored)),
        ("restore point", _when(recovery_value(recovery, "restore", "restore_point"))),
        (
            "latest restorable lag",
            format_seconds(number(recovery_value(recovery, "restore", "latest_restorable_lag_s"))),
        ),
    ]
    point = recovery_value(recovery, "restore", "recovery_point")
    if isinstance(point, dict):
        rows.append(("AWS Backup recovery point", f"{point.get('arn')} ({point.get('vault')})"))
        rows.append(
            (
                "recovery point age at the restore",
                format_seconds(number(point.get("age_at_drill_start_s"))),
            )
        )
    verification = recovery_value(recovery, "restore", "verification")
    if isinstance(verification, dict):
        present = f"{verification.get('markers_present')} of {verification.get('markers_expected')}"
        rows.append(("markers before the restore point present", present))
        if "items_expected" in verification:
            rows.append(("items restored", _items_row(verification)))
        if verification.get("passed"):
            rows.append(("verification", "passed"))
        else:
            missing = (
                f"FAILED: {verification.get('missing_count')} missing "
                f"(#{verification.get('first_missing')}..#{verification.get('last_missing')})"
            )
            rows.append(("verification", missing))
    else:
        rows.append(("verification", "not done: the copy was never read back"))
    deleted = recovery_value(recovery, "restore", "deleted")
    rows.append(("copy deleted", "yes" if deleted is True else "NO"))
    return rows


def _items_row(verification: dict[str, Any]) -> str:
    """The restored table's item count against the source's as of the restore point."""
    expected, restored = verification.get("items_expected"), verification.get("items_restored")
    if expected is None or restored is None:
        return "not counted (table too large to count)"
    text = f"{restored} of {expected} expected"
    gap = verification.get("items_not_accounted") or 0
    if gap:
        text += (
            f", {gap} not accounted (changes after the restore point by others, or items "
            "the restore lost)"
        )
    uncertain = verification.get("items_uncertain") or 0
    verdict = "passed" if verification.get("items_passed") else "FAILED"
    return f"{text} ({verdict}, within {uncertain} marker(s) in flight while counting)"


def _section(index: int, journal: Journal, summary: RunSummary) -> ExperimentSection:
    recovery = journal.recovery
    phases_raw = recovery_value(recovery, "rto", "phases")
    phases = []
    if isinstance(phases_raw, dict):
        for key, value in phases_raw.items():
            phases.append(
                (_PHASE_WORDS.get(key, key.removesuffix("_s")), format_seconds(number(value)))
            )
    rto_edges = [
        ("outage started", _when(recovery_value(recovery, "rto", "outage_started_at"))),
        ("recovered", _when(recovery_value(recovery, "rto", "recovered_at"))),
    ]
    rpo_counts = [
        (f"writes {name}", str(value) if value is not None else "—")
        for name in ("written", "acknowledged", "lost")
        for value in [recovery_value(recovery, "rpo", name)]
    ]
    rpo_counts += _restore_rows(recovery)
    for figure, rows in ((summary.rto, rto_edges), (summary.rpo, rpo_counts)):
        reason = recovery_value(recovery, figure.name.lower(), "reason")
        if reason:
            rows.append(("why", str(_short(reason, 300))))
    target_source = recovery_value(recovery, "target", "file") or recovery_value(
        recovery, "target", "source"
    )
    if target_source:
        rto_edges.append(("targets from", str(_short(target_source, 200))))
    availability, chart, notes = _timeline(journal, summary)
    lag, lag_chart = _lag(journal, summary)
    replication, finding = _replication(journal)
    failback, failback_outcome = _failback(recovery)
    before = journal.steady_state("before")
    after = journal.steady_state("after")
    fault = recovery_value(recovery, "fault", default={})
    errors = recovery_value(recovery, "errors", default=[])
    for error in errors if isinstance(errors, list) else [errors]:
        notes.append(f"measurement: {_short(error, 300)}")
    if not recovery:
        notes.append(
            "no recovery block: a plain Chaos Toolkit run, nothing measured against RTO/RPO"
        )
    return ExperimentSection(
        anchor=f"run-{index + 1}",
        summary=summary,
        source=journal.source,
        fault=fault if isinstance(fault, dict) else {"name": _short(fault)},
        phases=phases,
        rto_edges=rto_edges,
        rpo_counts=rpo_counts,
        availability=availability,
        availability_chart=chart,
        lag=lag,
        lag_chart=lag_chart,
        replication=replication,
        replication_finding=finding,
        before=_activity_rows(get_path(before, "probes", default=[]), probes=True),
        before_met=get_path(before, "steady_state_met"),
        after=_activity_rows(get_path(after, "probes", default=[]), probes=True),
        after_met=get_path(after, "steady_state_met"),
        method=_activity_rows(journal.activities("run")),
        rollbacks=_activity_rows(journal.activities("rollbacks")),
        environment=_environment(journal, summary),
        notes=notes,
        findings=findings(summary),
        services=service_rows(recovery),
        scenario=timeline_rows(recovery),
        runbook=_runbook(recovery),
        failback=failback,
        failback_outcome=failback_outcome,
    )


@functools.cache
def _environment_templates() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["inline_output"] = _INLINE_OUTPUT
    env.filters["seconds"] = format_seconds
    env.filters["short_seconds"] = lambda value: format_seconds(value, minutes=False)
    env.filters["day"] = _day
    env.filters["when"] = _when
    env.filters["clock"] = _clock
    return env


def build_report_html(
    journals: Iterable[Journal | dict[str, Any]],
    *,
    trend_journals: Iterable[Journal | dict[str, Any]] = (),
    extra_secret_values: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    skipped: Iterable[str] = (),
    generated_at: datetime | None = None,
    plan: DrPlan | None = None,
) -> str:
    """The report as a string (see ``render_html``)."""
    current = as_journals(journals)
    history_in = as_journals(trend_journals)
    # one masking pass over both: a secret one journal reveals is masked in all
    everything = mask_journals(
        current + history_in, extra_secret_values=extra_secret_values, environ=environ
    )
    masked, past = everything[: len(current)], everything[len(current) :]
    summaries = [summarise(j) for j in masked]
    sections = [_section(i, j, s) for i, (j, s) in enumerate(zip(masked, summaries, strict=True))]
    trends: list[ExperimentTrend] = []
    trend_charts: dict[str, dict[str, Markup]] = {}
    scorecard: Scorecard | None = None
    if past and plan is not None:
        # the history and today's runs, already masked (a second pass changes nothing)
        scorecard = build_scorecard(past + masked, plan, now=generated_at)
    if past:
        current_ids = {(j.title, j.data.get("start")) for j in masked}
        history = [summarise(j) for j in past if (j.title, j.data.get("start")) not in current_ids]
        # only experiments with a history get a trend; today's run is its last point
        with_history = {(s.title, s.environment) for s in history}
        trends = build_trends(
            history + [s for s in summaries if (s.title, s.environment) in with_history]
        )
        for trend in trends:
            trend_charts[trend.key] = {
                metric: trend_chart(trend.points(metric), metric)
                for metric in ("RTO", "RPO")
                if trend.has(metric)
            }
    counts = Counter(s.verdict for s in summaries)
    review = build_review(summaries) if summaries else None
    template = _environment_templates().get_template("report.html.j2")
    return template.render(
        generated_at=_when(generated_at or datetime.now(UTC)),
        sections=sections,
        summaries=summaries,
        review=review,
        in_brief=in_brief(summaries, review) if review else [],
        counts=[(key, VERDICTS[key][0], VERDICTS[key][1], counts[key]) for key in VERDICTS],
        any_sandbox=any(s.is_sandbox for s in summaries),
        all_sandbox=bool(summaries) and all(s.is_sandbox for s in summaries),
        trends=trends,
        trend_charts=trend_charts,
        scorecard=scorecard,
        scorecard_only=False,
        scorecard_sandbox=scorecard is not None
        and any(r.last is not None and r.last.is_sandbox for r in scorecard.rows),
        skipped=list(skipped),
        hatch_defs=HATCH_DEFS,
    )


def render_html(
    journals: Iterable[Journal | dict[str, Any]],
    out_path: str | os.PathLike[str],
    *,
    trend_journals: Iterable[Journal | dict[str, Any]] = (),
    extra_secret_values: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    skipped: Iterable[str] = (),
    plan: DrPlan | None = None,
    generated_at: datetime | None = None,
) -> Path:
    """Write the self-contained HTML report for ``journals`` to ``out_path``.

    ``trend_journals``: past runs (``load_journals`` of the nightly folder) for the trend
    section; current runs are added to it. ``extra_secret_values``: values to mask on top
    of what the journals reveal (for example from ``redaction.secret_values_from_var_files``).
    ``skipped``: one-line notes about files left out, shown in the report. ``plan``
    (with ``trend_journals``): the DR plan's scorecard is the report's first section.
    """
    html = build_report_html(
        journals,
        trend_journals=trend_journals,
        extra_secret_values=extra_secret_values,
        environ=environ,
        skipped=skipped,
        plan=plan,
        generated_at=generated_at,
    )
    return _write_atomically(Path(out_path), html)


def _write_atomically(path: Path, html: str) -> Path:
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path


def render_scorecard_html(card: Scorecard, out_path: str | os.PathLike[str]) -> Path:
    """The scorecard alone as a self-contained page (``gameday scorecard -o F``)."""
    template = _environment_templates().get_template("report.html.j2")
    html = template.render(
        generated_at=_when(datetime.now(UTC)),
        sections=[],
        summaries=[],
        review=None,
        in_brief=[],
        counts=[],
        any_sandbox=False,
        all_sandbox=False,
        trends=[],
        trend_charts={},
        scorecard=card,
        scorecard_only=True,
        scorecard_sandbox=any(r.last is not None and r.last.is_sandbox for r in card.rows),
        skipped=[],
        hatch_defs=HATCH_DEFS,
    )
    return _write_atomically(Path(out_path), html)
