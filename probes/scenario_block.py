"""``recovery.scenario`` and ``recovery.services``: a composed experiment's fault steps
on one time axis, and each measured service against its own target.

A step is a method action during which a fault stamped its injection (or its skip: a
fault action without targets changes nothing, as AWS FIS skips it); its revert is that
fault's first ``reverted`` stamp after the injection; its phases are the phase stamps
naming that fault. Times are seconds since the scenario's t0, the run's first injection.
Pure reads of the session and the timeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaosaws_ext.core.recovery_schema import (
    RecoveryBlock,
    ScenarioBlock,
    ScenarioPhase,
    ScenarioStep,
    ServiceBlock,
)
from chaosaws_ext.core.timeline import FaultStamp, PhaseStamp, fault_stamps, phase_stamps

if TYPE_CHECKING:
    from probes.session import MeasurementSession

__all__ = ["scenario_block", "service_blocks", "INTERRUPTED"]

INTERRUPTED = "(an action that did not finish)"


def _rel(at: float | None, origin: float | None) -> float | None:
    return None if at is None or origin is None else round(at - origin, 3)


def _phase(stamp: PhaseStamp, origin: float | None) -> ScenarioPhase:
    return ScenarioPhase(
        name=stamp.name, fault=stamp.fault, at=stamp.wall, at_s=_rel(stamp.monotonic, origin)
    )


def _within(stamp: FaultStamp, activity: dict[str, Any]) -> bool:
    """Stamped during the action, on its thread when both are known (background actions
    overlap in time; each runs on a thread of its own)."""
    thread = activity.get("thread")
    if thread is not None and stamp.thread is not None and thread != stamp.thread:
        return False
    return bool(activity["started_mono"] <= stamp.monotonic <= activity["ended_mono"])


def _step(
    activity: dict[str, Any],
    stamps: list[FaultStamp],
    phases: list[PhaseStamp],
    origin: float | None,
) -> ScenarioStep | None:
    """The step of one method action, None when it injected nor skipped any fault."""
    mine = [s for s in stamps if s.event in ("injected", "skipped") and _within(s, activity)]
    output = activity.get("output") or {}
    if not mine and not output.get("skipped"):
        return None
    injected = next((s for s in mine if s.event == "injected"), None)
    skipped = injected is None
    fault = injected or (mine[0] if mine else None)
    name = fault.fault if fault else output.get("fault")
    reverted = None
    if injected is not None:
        reverted = next(
            (
                s
                for s in stamps
                if s.event == "reverted" and s.fault == name and s.monotonic >= injected.monotonic
            ),
            None,
        )
    reason = None
    if skipped:
        reason = (mine[0].reason if mine else None) or output.get("reason")
    return ScenarioStep(
        action=str(activity["action"]),
        function=str(activity["function"]),
        fault=name,
        status=activity.get("status"),
        skipped=skipped,
        reason=reason,
        applied_at=injected.wall if injected else None,
        applied_s=_rel(injected.monotonic if injected else None, origin),
        reverted_at=reverted.wall if reverted else None,
        reverted_s=_rel(reverted.monotonic if reverted else None, origin),
        phases=[_phase(p, origin) for p in phases if name is not None and p.fault == name],
    )


def scenario_block(session: MeasurementSession) -> ScenarioBlock | None:
    """The method's fault steps on one axis; None when no action injected or skipped."""
    start = session.started_mono
    stamps = [s for s in fault_stamps() if start is None or s.monotonic >= start]
    phases = [p for p in phase_stamps() if start is None or p.monotonic >= start]
    first = next((s for s in stamps if s.event == "injected"), None)
    origin = first.monotonic if first else None
    activities = list(session.activities)
    # an injection no finished action holds: its action was interrupted (Ctrl-C, an
    # abort) before chaos recorded its end; still a step, applied and undone
    for stamp in stamps:
        if stamp.event in ("injected", "skipped") and not any(
            _within(stamp, a) for a in activities
        ):
            activities.append(
                {"action": INTERRUPTED, "function": "", "status": "interrupted", "output": None,
                 "started_mono": stamp.monotonic, "ended_mono": stamp.monotonic}
            )  # fmt: skip
    activities.sort(key=lambda a: a["started_mono"])
    steps = [
        step
        for activity in activities
        if (step := _step(activity, stamps, phases, origin)) is not None
    ]
    if not steps:
        return None
    claimed = {step["fault"] for step in steps}
    return ScenarioBlock(
        t0=first.wall if first else None,
        steps=steps,
        phases=[_phase(p, origin) for p in phases if p.fault is None or p.fault not in claimed],
    )


def service_blocks(
    session: MeasurementSession, main: RecoveryBlock
) -> dict[str, ServiceBlock] | None:
    """Every measured service's figures, the main one's from its block; None for one."""
    if not session.children:
        return None
    blocks = {session.spec.service: (session, main)}
    for child in session.children:
        blocks[child.spec.service] = (child, child.recovery_block())
    return {
        name: ServiceBlock(
            target=block["target"],
            rto=block["rto"],
            rpo=block["rpo"],
            fault=block["fault"],
            samplers=[s.name for s in owner.samplers],
            errors=list(block.get("errors") or []),
        )
        for name, (owner, block) in blocks.items()
    }
