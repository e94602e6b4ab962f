"""A composed experiment's report parts: one row per measured service, judged against
its own target (``recovery.services``), and the scenario timeline (``recovery.scenario``:
every fault applied, reverted or skipped and every phase, on one time axis from the
scenario's first injection)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaosaws_ext.core.recovery_schema import ScenarioPhase, ScenarioStep
from reports.journal import get_path, number, recovery_value
from reports.verdicts import format_seconds

__all__ = ["ServiceRow", "TimelineRow", "service_rows", "timeline_rows"]


@dataclass(frozen=True)
class ServiceRow:
    service: str
    rto: str  # "measured / target"
    rto_met: bool | None
    rpo: str
    rpo_met: bool | None
    samplers: str


@dataclass(frozen=True)
class TimelineRow:
    at: str  # seconds since the scenario's t0, formatted ("" when it has no time)
    event: str  # applied, reverted, skipped, phase
    step: str  # the method action, or the phase's fault
    detail: str


def _figure(block: Any, name: str) -> tuple[str, bool | None]:
    measured = number(get_path(block, name, "measured_s"))
    target = get_path(block, "target", f"{name}_s")
    bound = get_path(block, "target", f"{name}_bound") or "<="
    shown = "not measured" if measured is None else format_seconds(measured)
    goal = "no target" if target is None else f"{bound} {format_seconds(number(target))}"
    met = get_path(block, name, "met")
    return f"{shown} / {goal}", met if isinstance(met, bool) else None


def service_rows(recovery: Any) -> list[ServiceRow]:
    """One row per service of ``recovery.services`` (empty for a one-service run)."""
    services = recovery_value(recovery, "services")
    if not isinstance(services, dict):
        return []
    rows = []
    for name, block in services.items():
        rto, rto_met = _figure(block, "rto")
        rpo, rpo_met = _figure(block, "rpo")
        samplers = get_path(block, "samplers", default=[]) or []
        rows.append(ServiceRow(str(name), rto, rto_met, rpo, rpo_met, ", ".join(samplers)))
    return rows


def _at(value: Any) -> str:
    seconds = number(value)
    return "" if seconds is None else f"+{seconds:.3f} s"


def _phase_row(phase: ScenarioPhase, step: str) -> tuple[float | None, TimelineRow]:
    at = number(phase.get("at_s"))
    return at, TimelineRow(_at(at), "phase", step, str(phase.get("name")))


def timeline_rows(recovery: Any) -> list[TimelineRow]:
    """Every step's applied/reverted/skipped and every phase, in time order (a skipped
    step, which has no time, right after the step applied before it; a revert never
    recorded at the end)."""
    steps: list[ScenarioStep] = recovery_value(recovery, "scenario", "steps", default=[])
    events: list[tuple[float, int, TimelineRow]] = []
    anchor = float("-inf")  # the latest applied step's time: where a skipped one goes

    def add(at: float, row: TimelineRow) -> None:
        events.append((at, len(events), row))

    for step in steps if isinstance(steps, list) else []:
        name = f"{step.get('action')} ({step.get('fault')})"
        if step.get("skipped"):
            add(anchor, TimelineRow("", "skipped", name, str(step.get("reason"))))
            continue
        applied = number(step.get("applied_s"))
        anchor = anchor if applied is None else applied
        add(anchor, TimelineRow(_at(applied), "applied", name, str(step.get("function"))))
        for phase in step.get("phases") or []:
            at, row = _phase_row(phase, name)
            add(anchor if at is None else at, row)
        reverted = number(step.get("reverted_s"))
        if reverted is None:
            add(float("inf"), TimelineRow("", "NOT reverted", name, "no revert recorded"))
        else:
            add(reverted, TimelineRow(_at(reverted), "reverted", name, ""))
    for phase in recovery_value(recovery, "scenario", "phases", default=[]) or []:
        at, row = _phase_row(phase, str(phase.get("fault") or ""))
        add(float("inf") if at is None else at, row)
    return [row for _at_s, _index, row in sorted(events, key=lambda item: item[:2])]
