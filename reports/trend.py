"""Nightly trend: RTO and RPO per experiment over past runs, regressions flagged.

A run regressed when its measured figure got worse than the previous measured run by
more than the measurement resolution (the larger of the two runs' resolutions), or when
it missed a target that an earlier run met.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports.charts import TrendPoint
from reports.verdicts import Figure, RunSummary, format_seconds

__all__ = ["ExperimentTrend", "build_trends", "regression_of"]


@dataclass
class TrendRow:
    summary: RunSummary
    rto_regression: str | None = None
    rpo_regression: str | None = None

    @property
    def regressed(self) -> bool:
        return bool(self.rto_regression or self.rpo_regression)


@dataclass
class ExperimentTrend:
    title: str
    environment: str = "unknown"
    rows: list[TrendRow] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.title} [{self.environment}]"

    def points(self, metric: str) -> list[TrendPoint]:
        result = []
        for row in self.rows:
            figure: Figure = getattr(row.summary, metric.lower())
            regression = row.rto_regression if metric == "RTO" else row.rpo_regression
            label = (
                f"{row.summary.started_at:%Y-%m-%d %H:%M} {figure.describe()} ({row.summary.words})"
            )
            if regression:
                label += f"; regression: {regression}"
            result.append(
                TrendPoint(
                    when=row.summary.started_at,
                    measured=figure.measured_s,
                    target=figure.target_s,
                    met=figure.met,
                    regression=regression,
                    label=label,
                )
            )
        return result

    def has(self, metric: str) -> bool:
        return any(getattr(r.summary, metric.lower()).present for r in self.rows)

    @property
    def regressions(self) -> int:
        return sum(1 for row in self.rows if row.regressed)


def regression_of(current: Figure, earlier: list[Figure]) -> str | None:
    """Why ``current`` is a regression against the earlier runs (oldest first), or None."""
    measured_before = [f for f in earlier if f.measured_s is not None]
    reasons = []
    if current.measured_s is not None and measured_before:
        previous = measured_before[-1]
        assert previous.measured_s is not None
        resolution = max(current.resolution_s or 0.0, previous.resolution_s or 0.0)
        worse = current.measured_s - previous.measured_s
        if worse > resolution:
            reasons.append(
                f"{current.name} {format_seconds(current.measured_s)} vs "
                f"{format_seconds(previous.measured_s)} the run before: worse by "
                f"{format_seconds(worse)}, more than the ±{format_seconds(resolution)} resolution"
            )
    if current.met is False and any(f.met is True for f in earlier):
        reasons.append(
            f"missed the {current.name} target {format_seconds(current.target_s)} "
            "that earlier runs met"
        )
    return "; ".join(reasons) or None


def build_trends(summaries: list[RunSummary]) -> list[ExperimentTrend]:
    """Group runs by experiment title and environment (sandbox figures are never compared
    with AWS ones), oldest first; runs without a start time are left out."""
    groups: dict[tuple[str, str], list[RunSummary]] = {}
    for summary in summaries:
        if summary.started_at is None:
            continue
        groups.setdefault((summary.title, summary.environment), []).append(summary)
    trends = []
    for title, environment in sorted(groups):
        runs = sorted(groups[(title, environment)], key=lambda s: s.started_at)
        trend = ExperimentTrend(title, environment)
        for index, run in enumerate(runs):
            earlier = runs[:index]
            trend.rows.append(
                TrendRow(
                    run,
                    rto_regression=regression_of(run.rto, [r.rto for r in earlier]),
                    rpo_regression=regression_of(run.rpo, [r.rpo for r in earlier]),
                )
            )
        trends.append(trend)
    return trends
