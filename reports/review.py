"""The game day's review: each run's findings in sentences and the DR plan's
post-incident template (timeline, impact, what went well, what went wrong, action items).

A reviewer reads sentences before tables. Every figure said here is read from the
journal (its ``recovery`` block, its ``safety`` record, chaoslib's timestamps); a figure
the journal does not hold is said to be missing, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reports.journal import Journal, get_path, number, parse_time, recovery_value
from reports.verdicts import Figure, RunSummary, format_seconds

__all__ = [
    "ActionItem",
    "GameDayReview",
    "TimelineEvent",
    "build_review",
    "findings",
    "in_brief",
]

_SANDBOX_WORDS = "SANDBOX run (the local twin of AWS): these are not AWS figures."
#: phase keys of ``recovery.rto.phases`` (seconds from t0) said as timeline events
_PHASE_EVENTS = {
    "last_failure_s": "last failed sample",
    "control_plane_s": "control plane reports the failover done",
    "dns_s": "DNS answers the secondary",
    "health_check_unhealthy_s": "health check unhealthy",
    "health_check_healthy_s": "health check healthy again",
    "conflict_converged_s": "replicas converged on one value",
    "az_changed_s": "primary moved to another availability zone",
}


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    experiment: str
    event: str
    sandbox: bool
    from_t0_s: float | None  # seconds after the fault's injection (None: no t0)


@dataclass(frozen=True)
class ActionItem:
    action: str
    experiment: str
    target_row: str
    sandbox: bool


@dataclass
class GameDayReview:
    """The post-incident template's sections for the runs of one report."""

    timeline: list[TimelineEvent] = field(default_factory=list)
    impact: list[str] = field(default_factory=list)
    went_well: list[str] = field(default_factory=list)
    went_wrong: list[str] = field(default_factory=list)
    actions: list[ActionItem] = field(default_factory=list)


def _plural(count: int | float, one: str, many: str | None = None) -> str:
    word = one if count == 1 else (many or one + "s")
    return f"{int(count) if float(count).is_integer() else count} {word}"


def _target_words(summary: RunSummary, figure: Figure) -> str:
    """``target < 300 s: met`` (the bound as the plan states it)."""
    bound = recovery_value(summary.journal.recovery, "target", f"{figure.name.lower()}_bound")
    if figure.target_s is None:
        return "no target in the plan"
    strict = "< " if bound == "<" else ""
    return f"target {strict}{format_seconds(figure.target_s, minutes=False)}: {figure.words}"


def service_label(summary: RunSummary) -> str:
    """``The Ticket API`` (the plan's name: first cell of its table row), else
    ``The service route53-failover`` (its key in targets.yaml)."""
    source = recovery_value(summary.journal.recovery, "target", "source")
    if isinstance(source, str) and "|" in source:
        cells = [c.strip() for c in source.split("|")]
        named = [c for c in cells[1:] if c]
        if named:
            return f"The {named[0]}"
    if summary.service:
        return f"The service {summary.service}"
    return f"The system under test of {summary.title!r}"


def target_row(summary: RunSummary) -> str:
    """``ticket-api (| Ticket API | Critical | < 5 min | 0 | ...)``: what an action names."""
    source = recovery_value(summary.journal.recovery, "target", "source")
    row = summary.service or "no service named"
    if isinstance(source, str) and source:
        row += f" ({source.split(': ', 1)[-1]})"
    return row


def experiment_name(journal: Journal) -> str:
    """The experiment's short name: its ``chaos_experiment`` configuration, else the file."""
    name = get_path(journal.experiment, "configuration", "chaos_experiment")
    if isinstance(name, str) and name:
        return name
    stem = journal.source.rsplit("/", 1)[-1]
    for suffix in (".json", ".journal"):
        stem = stem.removesuffix(suffix)
    return stem or journal.title


def _outage(summary: RunSummary) -> bool | None:
    """Did any judging sampler see an outage (None: the journal does not say)."""
    recovery = summary.journal.recovery
    samplers = recovery_value(recovery, "rto", "by_sampler")
    if not isinstance(samplers, dict) or not samplers:
        return None
    seen = [recovery_value(recovery, "rto", "by_sampler", str(n), "outage") for n in samplers]
    flags = [s for s in seen if isinstance(s, bool)]
    return any(flags) if flags else None


def _rto_sentence(summary: RunSummary) -> str:
    rto = summary.rto
    name = service_label(summary)
    if rto.measured_s is None:
        reason = recovery_value(summary.journal.recovery, "rto", "reason")
        why = f": {reason}" if reason else ": the journal holds no RTO figure"
        return f"RTO was not measured{why}."
    resolution = f" (±{format_seconds(rto.resolution_s)})" if rto.resolution_s else ""
    judged = _target_words(summary, rto)
    failed = _failed_samples(summary)
    if _outage(summary) is False or (rto.measured_s == 0 and _outage(summary) is None):
        # a few failed samples short of K consecutive ones are not an outage: say them
        though = f", though {failed}" if failed else ""
        return (
            f"{name} stayed available: no outage by the RTO rule{though} "
            f"(RTO {format_seconds(rto.measured_s)}, {judged})."
        )
    counted = f"; {failed}" if failed else ""
    return (
        f"{name} was unavailable for {format_seconds(rto.measured_s)}{resolution} "
        f"from the fault to recovery ({judged}{counted})."
    )


def _failed_samples(summary: RunSummary) -> str | None:
    """``2 of 54 availability samples failed`` from the availability block, or None."""
    recovery = summary.journal.recovery
    samples = number(recovery_value(recovery, "availability", "samples"))
    ok = number(recovery_value(recovery, "availability", "ok"))
    if samples is None or ok is None or samples <= ok:
        return None
    return f"{int(samples - ok)} of {int(samples)} availability samples failed"


def _rpo_sentence(summary: RunSummary) -> str:
    recovery = summary.journal.recovery
    rpo = summary.rpo
    written = number(recovery_value(recovery, "rpo", "written"))
    acknowledged = number(recovery_value(recovery, "rpo", "acknowledged"))
    lost = number(recovery_value(recovery, "rpo", "lost"))
    if rpo.measured_s is None:
        if written == 0:
            return "RPO was not measured: this experiment writes no markers."
        reason = recovery_value(recovery, "rpo", "reason")
        return f"RPO was not measured: {reason or 'the journal holds no RPO figure'}."
    figure = f"RPO {format_seconds(rpo.measured_s)}, {_target_words(summary, rpo)}"
    if acknowledged is None or lost is None:
        return f"Data: the journal does not count the writes ({figure})."
    attempted = f"{int(written)} attempted; " if written is not None else ""
    if not lost:
        return f"No acknowledged write was lost: 0 of {int(acknowledged)} ({attempted}{figure})."
    verb = "was" if lost == 1 else "were"
    return (
        f"{int(lost)} of {_plural(acknowledged, 'acknowledged write')} {verb} lost "
        f"({attempted}{figure})."
    )


def _conflict_sentences(summary: RunSummary) -> list[str]:
    conflict = get_path(recovery_value(summary.journal.recovery, "fault", "detail"), "conflict")
    if not isinstance(conflict, dict):
        return []
    said: list[str] = []
    lost = number(conflict.get("lost"))
    acknowledged = number(conflict.get("acknowledged"))
    regions = conflict.get("regions") if isinstance(conflict.get("regions"), list) else []
    burst = f" from {len(regions)} regions" if regions else ""
    if conflict.get("mode") == "STRONG":
        rejected = number(conflict.get("replicated_write_conflicts"))
        said.append(
            f"{_plural(rejected or 0, 'concurrent write was', 'concurrent writes were')} "
            "rejected with ReplicatedWriteConflictException (strong consistency): "
            "none was silently lost."
        )
    elif lost is None:
        said.append("Overwritten writes were not counted: the replicas never agreed on a value.")
    else:
        verb = "was" if lost == 1 else "were"
        of = f" (of {int(acknowledged)} concurrent{burst})" if acknowledged is not None else ""
        said.append(
            f"{_plural(lost, 'acknowledged write')}{of} {verb} silently overwritten "
            "by last-writer-wins."
        )
    converge = number(conflict.get("time_to_converge_s"))
    if conflict.get("converged") is True and converge is not None:
        said.append(f"The replicas converged on one value {format_seconds(converge)} after.")
    elif conflict.get("converged") is False:
        timeout = format_seconds(number(conflict.get("timeout_s")))
        said.append(f"The replicas did NOT converge within {timeout}.")
    return said


def _lag_sentence(summary: RunSummary) -> str | None:
    recovery = summary.journal.recovery
    if not isinstance(recovery_value(recovery, "replication_lag_s"), dict):
        return None
    p99 = number(recovery_value(recovery, "replication_lag_s", "p99"))
    top = number(recovery_value(recovery, "replication_lag_s", "max"))
    count = number(recovery_value(recovery, "replication_lag_s", "count"))
    unseen = number(recovery_value(recovery, "replication_lag_s", "unseen"))
    if p99 is None and top is None:
        return "Replication lag was not measured: no marker reached the replica."
    text = f"Replication lag p99 {format_seconds(p99)}, max {format_seconds(top)}"
    if count is not None:
        text += f" over {_plural(count, 'marker')}"
    if unseen:
        text += f"; {_plural(unseen, 'acknowledged marker')} never seen in the replica"
    return text + "."


def leftovers(journal: Journal) -> list[str] | None:
    """What the final undo left in place (None: the journal has no safety record)."""
    if journal.safety is None:
        return None
    left = get_path(journal.safety, "final_undo", "left")
    return [str(item) for item in left] if isinstance(left, list) else []


def _revert_sentence(summary: RunSummary) -> str:
    left = leftovers(summary.journal)
    ledger = get_path(summary.journal.safety, "ledger")
    if left:
        where = f" --ledger {ledger}" if ledger else ""
        return (
            f"The fault was NOT fully reverted: {_plural(len(left), 'leftover')} "
            f"(run `gameday recover{where}`)."
        )
    if summary.reverted is False:
        return f"The fault was NOT reverted: {summary.reverted_reason}."
    if left is None:
        if summary.reverted is None:
            return "Whether the fault was reverted is unknown: no rollback and no fault record."
        return (
            f"The fault was reverted: {summary.reverted_reason}; leftovers not recorded "
            "(the journal has no safety record)."
        )
    return "The fault was reverted; 0 leftovers."


def findings(summary: RunSummary) -> list[str]:
    """One run's findings, first what failed and for how long, then data, then the revert."""
    said: list[str] = []
    if summary.is_sandbox:
        said.append(_SANDBOX_WORDS)
    if summary.verdict not in ("met", "missed"):
        said.append(f"The run {summary.status}: {summary.verdict_reason}; figures may be partial.")
    if not summary.measured:
        said.append("Nothing was measured against RTO/RPO: the journal has no recovery block.")
    else:
        said.append(_rto_sentence(summary))
        said.append(_rpo_sentence(summary))
        said += _conflict_sentences(summary)
        lag = _lag_sentence(summary)
        if lag:
            said.append(lag)
    said.append(_revert_sentence(summary))
    errors = recovery_value(summary.journal.recovery, "errors", default=[])
    if isinstance(errors, list) and errors:
        said.append(f"The measurement recorded {_plural(len(errors), 'error')}.")
    return said


def _timeline(summary: RunSummary, name: str) -> list[TimelineEvent]:
    journal = summary.journal
    recovery = journal.recovery
    sandbox = summary.is_sandbox
    events: list[tuple[datetime | None, str]] = [
        (journal.started_at, "run started"),
        (parse_time(recovery_value(recovery, "fault", "injected_at")), "fault injected (t0)"),
        (parse_time(recovery_value(recovery, "rto", "outage_started_at")), "outage started"),
        (parse_time(recovery_value(recovery, "rto", "recovered_at")), "service recovered"),
        (parse_time(recovery_value(recovery, "fault", "reverted_at")), "fault reverted"),
        (journal.ended_at, f"run ended: {summary.status}"),
    ]
    t0 = parse_time(recovery_value(recovery, "fault", "injected_at"))
    phases = recovery_value(recovery, "rto", "phases")
    if t0 is not None and isinstance(phases, dict):
        for key, words in _PHASE_EVENTS.items():
            seconds = number(phases.get(key))
            if seconds is not None:
                moment = t0.timestamp() + seconds
                events.append((datetime.fromtimestamp(moment, UTC), words))
    return sorted(
        (
            TimelineEvent(at, name, what, sandbox, _since(t0, at))
            for at, what in events
            if at is not None
        ),
        key=lambda e: e.at,
    )


def _since(t0: datetime | None, at: datetime) -> float | None:
    return None if t0 is None else round((at - t0).total_seconds(), 3)


def _impact(summary: RunSummary, name: str) -> list[str]:
    if not summary.measured:
        return [f"{name}: not measured (no recovery block)."]
    rto = summary.rto
    downtime = (
        f"downtime {format_seconds(rto.measured_s)}"
        if rto.measured_s is not None
        else "downtime not measured"
    )
    lost = number(recovery_value(summary.journal.recovery, "rpo", "lost"))
    if summary.rpo.measured_s is None:
        data = "data loss not measured"
    else:
        data = f"{_plural(lost or 0, 'acknowledged write')} lost"
    conflict = get_path(recovery_value(summary.journal.recovery, "fault", "detail"), "conflict")
    overwritten = number(get_path(conflict, "lost"))
    if overwritten is not None:
        data += f"; {_plural(overwritten, 'concurrent write')} overwritten by last-writer-wins"
    where = " (sandbox)" if summary.is_sandbox else ""
    return [f"{name}{where}: {downtime}; {data}."]


def _judged(summary: RunSummary, name: str, review: GameDayReview) -> None:
    row = target_row(summary)
    sandbox = summary.is_sandbox
    where = " on the sandbox" if sandbox else ""
    for figure in (summary.rto, summary.rpo):
        if figure.measured_s is None and figure.met is False:
            review.went_wrong.append(
                f"{name}: {figure.name} was not measured, and the run counts it as missed."
            )
        elif figure.met is True:
            review.went_well.append(
                f"{name}: {figure.name} {format_seconds(figure.measured_s)} met its "
                f"{_target_words(summary, figure).split(':')[0]}{where}."
            )
        elif figure.met is False:
            measured = format_seconds(figure.measured_s)
            review.went_wrong.append(
                f"{name}: {figure.name} {measured} missed its "
                f"{_target_words(summary, figure).split(':')[0]}{where}."
            )
            review.actions.append(
                ActionItem(
                    f"Bring {figure.name} within target: measured {measured}, "
                    f"{_target_words(summary, figure).split(':')[0]}",
                    name,
                    row,
                    sandbox,
                )
            )
    for figure in (summary.rto, summary.rpo) if summary.measured else ():
        if figure.measured_s is not None or figure.target_s is None:
            continue
        if summary.verdict not in ("met", "missed"):
            continue  # the run that stopped has its own action item
        written = recovery_value(summary.journal.recovery, "rpo", "written")
        no_markers = figure.name == "RPO" and written == 0
        what = "add write markers to this experiment" if no_markers else "find why it is missing"
        review.actions.append(
            ActionItem(
                f"Measure {figure.name}: {what} (the plan sets a target of "
                f"{format_seconds(figure.target_s, minutes=False)})",
                name,
                row,
                sandbox,
            )
        )


def build_review(summaries: Iterable[RunSummary]) -> GameDayReview:
    """The post-incident template's sections over the runs of one report."""
    review = GameDayReview()
    for summary in summaries:
        name = experiment_name(summary.journal)
        review.timeline += _timeline(summary, name)
        review.impact += _impact(summary, name)
        _judged(summary, name, review)
        left = leftovers(summary.journal)
        if left:
            review.went_wrong.append(f"{name}: {_plural(len(left), 'leftover')} after the run.")
            review.actions.append(
                ActionItem(
                    f"Recover {_plural(len(left), 'leftover')} (gameday recover) and find "
                    "why the undo left them",
                    name,
                    target_row(summary),
                    summary.is_sandbox,
                )
            )
        elif summary.reverted is False:
            review.went_wrong.append(f"{name}: {summary.reverted_reason}.")
            review.actions.append(
                ActionItem(
                    f"Check the fault is undone (gameday recover): {summary.reverted_reason}",
                    name,
                    target_row(summary),
                    summary.is_sandbox,
                )
            )
        elif summary.reverted is True and summary.reverted_reason != "no fault was injected":
            tail = "; 0 leftovers" if left is not None else f": {summary.reverted_reason}"
            review.went_well.append(f"{name}: the fault was reverted{tail}.")
        if summary.verdict in ("failed", "aborted", "interrupted"):
            review.went_wrong.append(f"{name}: the run {summary.status}: {summary.verdict_reason}.")
            review.actions.append(
                ActionItem(
                    f"Fix what stopped the run ({summary.verdict_reason}) and run it again",
                    name,
                    target_row(summary),
                    summary.is_sandbox,
                )
            )
        elif summary.verdict == "missed" and summary.journal.data.get("deviated") is True:
            review.went_wrong.append(f"{name}: the steady state deviated after the method.")
        errors = recovery_value(summary.journal.recovery, "errors", default=[])
        for error in errors if isinstance(errors, list) else []:
            review.went_wrong.append(f"{name}: measurement error: {str(error)[:200]}")
        if summary.failed_activities:
            review.went_wrong.append(
                f"{name}: "
                f"{_plural(summary.failed_activities, 'method activity', 'method activities')}"
                " failed."
            )
    return review


def in_brief(summaries: list[RunSummary], review: GameDayReview) -> list[str]:
    """The report's first sentences: what ran, where, what it showed, what is to do."""
    if not summaries:
        return []
    days = sorted({s.started_at.astimezone(UTC).date() for s in summaries if s.started_at})
    when = (
        f" on {days[0]:%Y-%m-%d}"
        if len(days) == 1
        else (f" from {days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}" if days else "")
    )
    sandbox = sum(1 for s in summaries if s.is_sandbox)
    if sandbox == len(summaries):
        where = ", all on the SANDBOX (a local twin of AWS: not AWS figures)"
    elif sandbox:
        where = f", {sandbox} of them on the SANDBOX (not AWS figures)"
    else:
        where = ""
    said = [f"{_plural(len(summaries), 'run')}{when}{where}."]
    met = sum(1 for s in summaries if s.verdict == "met")
    missed = sum(1 for s in summaries if s.verdict == "missed")
    stopped = len(summaries) - met - missed
    verdicts = f"{met} met every target, {missed} missed one"
    if stopped:
        verdicts += f", {stopped} reached no verdict (failed, aborted or interrupted)"
    said.append(verdicts + ".")
    reverted = sum(1 for s in summaries if s.reverted is True)
    lefts = [leftovers(s.journal) for s in summaries]
    unknown = sum(1 for left in lefts if left is None)
    left_count = sum(len(left) for left in lefts if left)
    revert = f"Faults reverted in {reverted} of {len(summaries)} runs; "
    if unknown == len(summaries):
        revert += "leftovers not recorded (the journals have no safety record)"
    else:
        revert += _plural(left_count, "leftover")
        if unknown:
            revert += f" (not recorded for {_plural(unknown, 'run')})"
    said.append(revert + ".")
    said.append(f"{_plural(len(review.actions), 'action item')} (game day review below).")
    return said
