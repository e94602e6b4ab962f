"""Verdicts and figures of one run, read from its journal: what every output agrees on.

The HTML report, JUnit XML and Prometheus metrics all call ``summarise`` so that a run
that "missed" in the report also fails in CI and reports ``target_met 0`` in Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reports.journal import (
    Journal,
    fault_value,
    get_path,
    number,
    parse_time,
    recovery_value,
)

__all__ = [
    "VERDICTS",
    "Figure",
    "RunSummary",
    "format_seconds",
    "service_summaries",
    "summarise",
]

#: verdict key -> (icon, words); words always accompany the icon and the colour.
VERDICTS: dict[str, tuple[str, str]] = {
    "met": ("✔", "targets met"),
    "missed": ("✘", "target missed"),
    "aborted": ("⚠", "aborted"),
    "interrupted": ("⚠", "interrupted"),
    "failed": ("✘", "failed"),
}
_PLAIN_WORDS = {"met": "steady state held", "missed": "deviated"}


def format_seconds(value: float | None, minutes: bool = True) -> str:
    """``41.2 s``, ``0 s``, ``1 234 s (20 min 34 s)``; an em dash when unknown."""
    if value is None:
        return "—"
    if value == int(value) and abs(value) < 1e15:
        text = f"{int(value)} s"
    elif abs(value) >= 100:
        text = f"{value:.1f} s"
    elif abs(value) >= 0.01:
        text = f"{value:.2f}".rstrip("0").rstrip(".") + " s"
    elif value == 0:
        text = "0 s"
    else:
        text = f"{value * 1000:.2g} ms"
    if minutes and abs(value) >= 120:
        minutes, seconds = divmod(round(abs(value)), 60)
        text += f" ({minutes} min {seconds} s)"
    return text


@dataclass
class Figure:
    """One measured figure (RTO or RPO) against its target."""

    name: str
    measured_s: float | None = None
    target_s: float | None = None
    resolution_s: float | None = None
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def present(self) -> bool:
        return self.measured_s is not None or self.target_s is not None

    @property
    def icon(self) -> str:
        if self.met is None:
            return "⚠"
        return "✔" if self.met else "✘"

    @property
    def words(self) -> str:
        if self.met is not None:
            return "met" if self.met else "missed"
        if self.measured_s is None:
            return "not measured"
        return "no target to judge against"

    def describe(self) -> str:
        """``RTO 41.2 s (±0.25 s) vs target 300 s: met``."""
        text = f"{self.name} {format_seconds(self.measured_s)}"
        if self.resolution_s is not None:
            text += f" (±{format_seconds(self.resolution_s)})"
        text += f" vs target {format_seconds(self.target_s)}: {self.words}"
        return text


@dataclass
class RunSummary:
    """What a reviewer needs first about one run."""

    journal: Journal
    title: str
    status: str
    verdict: str
    verdict_reason: str
    measured: bool
    service: str | None
    environment: str
    region: str | None
    account: str | None
    rto: Figure
    rpo: Figure
    reverted: bool | None
    reverted_reason: str
    started_at: Any
    failed_activities: int

    @property
    def icon(self) -> str:
        return VERDICTS[self.verdict][0]

    @property
    def words(self) -> str:
        if not self.measured and self.verdict in _PLAIN_WORDS:
            return _PLAIN_WORDS[self.verdict]
        if self.unjudged:
            return "measured, no target to judge against"
        return VERDICTS[self.verdict][1]

    @property
    def unjudged(self) -> bool:
        """Measured, nothing failed, and no figure had a target (a drill the DR plan
        sets none for): the figures are shown, never called met."""
        measured = self.rto.measured_s is not None or self.rpo.measured_s is not None
        return self.verdict == "met" and self.measured and measured and self.target_met is None

    @property
    def target_met(self) -> bool | None:
        """Both targets met (None when nothing was judged)."""
        judged = [f.met for f in (self.rto, self.rpo) if f.met is not None]
        if not judged:
            return None
        return all(judged)

    @property
    def is_sandbox(self) -> bool:
        return self.environment == "sandbox"


def _figure(recovery: dict[str, Any] | None, name: str) -> Figure:
    key = name.lower()  # "rto" or "rpo": the block of the figure
    block = recovery_value(recovery, key, default={})
    block = block if isinstance(block, dict) else {}
    measured = number(recovery_value(recovery, key, "measured_s"))
    target = number(recovery_value(recovery, "target", f"{key}_s"))
    if target is None:
        target = number(recovery_value(recovery, key, "target_s"))
    resolution = number(recovery_value(recovery, key, "resolution_s"))
    met = recovery_value(recovery, key, "met")
    if not isinstance(met, bool):
        met = None if measured is None or target is None else measured <= target
    elif measured is None and target is None:
        met = None  # nothing measured and nothing to judge against: not a pass
    details = {k: v for k, v in block.items() if k not in ("measured_s", "resolution_s", "met")}
    return Figure(name, measured, target, resolution, met, details)


def _faults(recovery: dict[str, Any] | None) -> list[dict[str, Any]]:
    fault = recovery_value(recovery, "fault")
    if isinstance(fault, dict):
        return [fault]
    if isinstance(fault, list):
        return [f for f in fault if isinstance(f, dict)]
    return []


def _reverted(journal: Journal) -> tuple[bool | None, str]:
    rollbacks = journal.activities("rollbacks")
    declared = journal.experiment.get("rollbacks")
    declared = declared if isinstance(declared, list) else []
    failed = [r for r in rollbacks if r.get("status") != "succeeded"]
    faults = _faults(journal.recovery)
    if failed:
        names = ", ".join(str(get_path(r, "activity", "name", default="?")) for r in failed)
        return False, f"rollback did not succeed: {names}"
    if faults:
        injected = [f for f in faults if fault_value(f, "injected_at")]
        pending = [f for f in injected if not fault_value(f, "reverted_at")]
        unstamped = all(fault_value(f, "t0_source") == "method-action" for f in pending)
        if pending and unstamped and declared and len(rollbacks) >= len(declared):
            # t0 fell back to the end of the method's first action: the fault does not
            # stamp, so it cannot stamp its revert either; the rollbacks are the evidence
            return True, "every rollback succeeded (the fault records no revert time)"
        if pending:
            names = ", ".join(str(fault_value(f, "name") or "fault") for f in pending)
            return False, f"no revert recorded for {names}"
        if not injected:
            return True, "no fault was injected"
        return True, "every fault reverted"
    if declared and len(rollbacks) < len(declared):
        return False, f"{len(rollbacks)} of {len(declared)} rollbacks ran"
    if rollbacks:
        return True, "every rollback succeeded"
    return None, "no rollbacks declared and no fault record"


def _verdict(journal: Journal, rto: Figure, rpo: Figure) -> tuple[str, str]:
    status = journal.status
    if status is None:
        return "interrupted", "the journal has no status: the run was interrupted (SIGINT)"
    if status == "interrupted":
        return "interrupted", "the run was interrupted"
    if status == "aborted":
        return "aborted", "the run was aborted"
    if status == "failed":
        return "failed", "an activity or probe failed the run"
    before = journal.steady_state("before")
    if before is not None and before.get("steady_state_met") is False:
        return "aborted", "steady state not met before the fault: the method was skipped"
    missed = [f.name for f in (rto, rpo) if f.met is False]
    if missed:
        return "missed", f"{' and '.join(missed)} target missed"
    if status == "deviated" or journal.data.get("deviated") is True:
        return "missed", "the steady state deviated after the method"
    if status not in ("completed", "deviated"):
        return "failed", f"unknown run status {status!r}"
    return "met", "every target met" if journal.recovery else "steady state held"


def service_summaries(journal: Journal, include_own: bool = False) -> list[RunSummary]:
    """A scenario's measured services (``recovery.services``; the run's own service only
    with ``include_own``), each summarised as that service's run: its own target,
    figures and fault block, the run's status, environment and time."""
    recovery = journal.recovery or {}
    services = recovery.get("services")
    if not isinstance(services, dict):
        return []
    own = recovery.get("service")
    summaries = []
    for name, block in services.items():
        if (name == own and not include_own) or not isinstance(block, dict):
            continue
        view = {k: v for k, v in recovery.items() if k not in ("services", "scenario")}
        view.update({k: block[k] for k in ("target", "rto", "rpo", "fault") if k in block})
        view["service"] = name
        summaries.append(summarise(Journal(journal.source, {**journal.data, "recovery": view})))
    return summaries


def summarise(journal: Journal) -> RunSummary:
    """The verdict and headline figures of one (already masked) journal."""
    recovery = journal.recovery
    rto = _figure(recovery, "RTO")
    rpo = _figure(recovery, "RPO")
    verdict, reason = _verdict(journal, rto, rpo)
    reverted, reverted_reason = _reverted(journal)
    environment = recovery_value(recovery, "environment", "target")
    service = recovery_value(recovery, "service")
    failed_activities = sum(
        1 for r in journal.activities("run") if r.get("status") not in ("succeeded", None)
    )
    return RunSummary(
        journal=journal,
        title=journal.title,
        status=journal.status or "interrupted (no status)",
        verdict=verdict,
        verdict_reason=reason,
        measured=recovery is not None,
        service=str(service) if service is not None else None,
        environment=str(environment).lower() if environment else "unknown",
        region=str(recovery_value(recovery, "environment", "region") or "") or None,
        account=str(recovery_value(recovery, "environment", "account") or "") or None,
        rto=rto,
        rpo=rpo,
        reverted=reverted,
        reverted_reason=reverted_reason,
        started_at=journal.started_at
        or parse_time(recovery_value(recovery, "fault", "injected_at")),
        failed_activities=failed_activities,
    )
