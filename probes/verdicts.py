"""RTO and RPO of a measurement against the DR plan's target: pure reads of the session.

Nothing here stops a sampler, writes, or changes the session: the verdict probes may run
any number of times (the after-hypothesis, a continuous hypothesis during the method),
so the markers are read back by the session's ``stop`` (the control's after-method),
never by a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaosaws_ext.core.timeline import fault_stamps
from probes import drills
from probes.dr_targets import meets
from probes.recovery import RpoResult, RtoResult, compute_rto

if TYPE_CHECKING:
    from probes.session import MeasurementSession

__all__ = [
    "T0",
    "find_t0",
    "reverted_at",
    "rto_by_sampler",
    "headline_rto",
    "rto_verdict",
    "rpo_verdict",
]


@dataclass
class T0:
    """The fault's start: the stamp of its mutating call, or the method-action fallback."""

    monotonic: float
    wall: str
    fault: str | None
    source: str  # "stamp" (the fault's own t0) or "method-action" (fallback)


def find_t0(session: MeasurementSession) -> T0 | None:
    """The first fault stamp after sampling started (of ``spec.fault`` when given)."""
    if session.started_mono is None:
        return None
    for stamp in fault_stamps():
        if stamp.event != "injected" or stamp.monotonic < session.started_mono:
            continue
        if session.spec.fault and stamp.fault != session.spec.fault:
            continue
        return T0(stamp.monotonic, stamp.wall, stamp.fault, "stamp")
    return session.fallback_t0


def reverted_at(t0: T0 | None) -> str | None:
    """When the fault of ``t0`` was stamped reverted (wall clock), if it was."""
    for stamp in fault_stamps():
        if stamp.event == "reverted" and t0 and stamp.monotonic >= t0.monotonic:
            if t0.fault in (None, stamp.fault):
                return stamp.wall
    return None


def rto_by_sampler(
    session: MeasurementSession, settled: bool = False
) -> dict[str, RtoResult] | None:
    """Each sampler's RTO from t0 (None without a t0); ``settled`` ignores the samples
    after the oldest check still running (what ``wait_for_recovery`` may trust)."""
    t0 = find_t0(session)
    if t0 is None:
        return None
    return {
        s.name: compute_rto(
            s.settled() if settled else s.samples(),
            t0.monotonic,
            session.interval,
            session.spec.consecutive,
            session.spec.recovery_window_s,
        )
        for s in session.samplers
    }


def headline_rto(
    session: MeasurementSession, settled: bool = False
) -> tuple[RtoResult | None, str | None]:
    """The worst RTO of the judging samplers, and why there is none."""
    by_sampler = rto_by_sampler(session, settled)
    if by_sampler is None:
        return None, "no t0: no fault stamped (stamp_injected) and no method action ran"
    judged = [by_sampler[s.name] for s in session.samplers if s.judge]
    if not judged:
        return None, "no sampler judges (all have judge: false)"
    if any(r.samples_after_t0 == 0 for r in judged):
        return None, "no samples after t0"
    open_outage = [r for r in judged if r.outage and not r.recovered]
    if open_outage:
        return open_outage[0], "the outage had not ended when sampling stopped"
    return max(judged, key=lambda r: r.measured_s or 0.0), None


def _drill_rto_verdict(session: MeasurementSession, detail: dict[str, Any]) -> dict[str, Any]:
    """A restore drill's RTO: from the restore call to the copy's first read (a table,
    :mod:`probes.dynamodb_drills`: the fault's ``first_read`` phase, at its polling
    resolution) or first successful query through the restored endpoint (a database,
    :mod:`probes.drills`: once its markers were verified, at the query interval).

    A table drill is unjudged where the plan gives no target: the probe's ``met`` (a
    bool for its tolerance) is True then, ``judged_met`` (the journal's) None, and a
    copy that never answered is not met. A database drill without a target, or not
    measured, has no verdict to miss, as for faults (``met`` True, the reason kept)."""
    target = session.spec.target
    table = drills.is_table_restore(detail)
    unmeasured: str | None
    if table:
        at = {p["name"]: p["at_s"] for p in detail.get("phases") or []}
        measured = at.get("first_read")
        resolution = float(detail.get("resolution_s") or session.interval)
        unmeasured = "the restored copy never answered a read"
    else:
        measured, resolution, unmeasured = drills.rto_figures(session)
        resolution = round(resolution, 4)
    met = meets(measured, target.rto_s, target.rto_bound)
    reason = unmeasured if measured is None else None
    if measured is not None and met is False:
        reason = f"restore took {measured:.3f}s, target {target.rto_bound} {target.rto_s:g}s"
    elif measured is not None and met is None and table:
        reason = f"no target: {target.source}"
    verdict: dict[str, Any] = {
        "service": session.spec.service,
        "measured_s": measured if measured is None or table else round(measured, 3),
        "target_s": target.rto_s,
        "bound": target.rto_bound,
        "resolution_s": resolution,
    }
    if table:
        # the probe's tolerance needs a bool; the journal's block says None: no verdict
        verdict.update(
            met=met is not False and measured is not None,
            judged_met=met,
            outage=False,
            reason=reason,
        )
    else:
        verdict.update(
            met=True if met is None else met,
            outage=True,
            reason=reason if met is not True else None,
        )
    return verdict


def _drill_rpo(session: MeasurementSession) -> dict[str, Any] | None:
    """A table restore drill's RPO (probes.dynamodb_drills), None before its markers
    were verified."""
    from probes.dynamodb_drills import drill_of

    drill = drill_of(session)
    if drill is None:
        return None
    target = session.spec.target
    rpo = drill.rpo
    met = meets(rpo.measured_s, target.rpo_s, target.rpo_bound)
    reason = None
    if rpo.measured_s is None:
        reason = f"RPO not measured: {unacknowledged(rpo)}"
    elif met is False:
        reason = (
            f"restore lost {rpo.measured_s:.3f}s of acknowledged writes ({rpo.lost} markers), "
            f"target {target.rpo_bound} {target.rpo_s:g}s"
        )
    elif met is None:
        reason = f"no target: {target.source}"
    return {
        "service": session.spec.service,
        "target_s": target.rpo_s,
        "bound": target.rpo_bound,
        "measured_s": None if rpo.measured_s is None else round(rpo.measured_s, 3),
        "resolution_s": round(rpo.resolution_s, 4),
        "met": met is not False,
        "judged_met": met,
        "reason": reason,
        "written": rpo.written,
        "acknowledged": rpo.acknowledged,
        "lost": rpo.lost,
    }


def rto_verdict(session: MeasurementSession) -> dict[str, Any]:
    """``{service, measured_s, target_s, bound, resolution_s, met, outage, reason}``; for
    a restore drill, the restore RTO (:mod:`probes.drills`, :mod:`probes.dynamodb_drills`)."""
    detail = drills.reported_restore()
    if detail is not None:
        return _drill_rto_verdict(session, detail)
    worst, reason = headline_rto(session)
    measured = worst.measured_s if worst else None
    target = session.spec.target
    met = meets(measured, target.rto_s, target.rto_bound)
    if met is False and reason is None:
        reason = f"measured {measured:.3f}s, target {target.rto_bound} {target.rto_s:g}s"
    return {
        "service": session.spec.service,
        "measured_s": None if measured is None else round(measured, 3),
        "target_s": target.rto_s,
        "bound": target.rto_bound,
        "resolution_s": round(session.interval, 4),
        "met": True if met is None else met,
        "outage": bool(worst and worst.outage),
        "reason": reason if met is not True else None,
    }


def _drill_rpo_verdict(session: MeasurementSession, base: dict[str, Any]) -> dict[str, Any]:
    """Span of markers acknowledged before the restore call, missing in the restore."""
    target = session.spec.target
    result = drills.drill_result()
    measured = None if result is None else result.rpo.measured_s
    if result is None or measured is None:
        why = (
            "the restored markers were never read back"
            if result is None or result.rpo.acknowledged
            else unacknowledged(result.rpo)
        )
        return {
            **base,
            "measured_s": None,
            "resolution_s": None,
            "met": target.rpo_s is None,
            "reason": f"restore RPO not measured: {why}",
            "written": 0,
            "acknowledged": 0,
            "lost": 0,
        }
    rpo = result.rpo
    met = meets(measured, target.rpo_s, target.rpo_bound)
    reason = None
    if met is False:
        reason = (
            f"restore lost {measured:.3f}s of acknowledged writes ({rpo.lost} markers), "
            f"target {target.rpo_bound} {target.rpo_s:g}s"
        )
    return {
        **base,
        "measured_s": round(measured, 3),
        "resolution_s": round(rpo.resolution_s, 4),
        "met": True if met is None else met,
        "reason": reason,
        "written": rpo.written,
        "acknowledged": rpo.acknowledged,
        "lost": rpo.lost,
    }


def unacknowledged(rpo: RpoResult) -> str:
    """Why an RPO read back without a figure has none: no write was acknowledged (an
    RPO of 0 s then would judge writes that never happened)."""
    return (
        f"no marker write was acknowledged ({rpo.written} attempted): "
        "the data store took no write during the run"
    )


def _why_not_measured(session: MeasurementSession) -> str | None:
    """Why there is no RPO figure to judge, or None when the markers were read back."""
    if not session.spec.markers:
        return "no markers configured"
    if session.writer is None:
        if session.errors:
            return session.errors[-1]
        return "the writer never started (the method did not run)"
    if session.rpo_result is None:
        return "the markers are still being written (they are read back when the method ends)"
    return None


def _failover(session: MeasurementSession) -> dict[str, Any] | None:
    """The failover RPO verdict when the markers replicate to another region under a
    pause (probes.replication_block; imported here to keep the modules acyclic)."""
    from probes.replication_block import failover_verdict

    return failover_verdict(session)


def rpo_verdict(session: MeasurementSession) -> dict[str, Any]:
    """``{service, target_s, bound, measured_s, resolution_s, met, reason, written,
    acknowledged, lost}`` (``basis: failover`` when the replication's failover RPO is
    the one judged: probes.replication_block); not measured (and not met when there is
    a target) until the session has stopped and read its markers back. A restore
    drill's once verified."""
    drill = _drill_rpo(session)
    if drill is not None:
        return drill
    target = session.spec.target
    detail = drills.reported_restore()
    if detail is not None and drills.is_table_restore(detail):  # copy's markers never read
        return {
            "service": session.spec.service,
            "target_s": target.rpo_s,
            "bound": target.rpo_bound,
            "measured_s": None,
            "resolution_s": None,
            "met": target.rpo_s is None,
            "judged_met": None if target.rpo_s is None else False,
            "reason": "RPO not measured: the restored copy's markers were not verified",
            "written": 0,
            "acknowledged": 0,
            "lost": 0,
        }
    base = {
        "service": session.spec.service,
        "target_s": target.rpo_s,
        "bound": target.rpo_bound,
    }
    if drills.reported_restore() is not None:
        return _drill_rpo_verdict(session, base)
    why = _why_not_measured(session)
    rpo = session.rpo_result
    if why is not None or rpo is None:
        return {
            **base,
            "measured_s": None,
            "resolution_s": None,
            "met": target.rpo_s is None,
            "reason": f"RPO not measured: {why}",
            "written": 0,
            "acknowledged": 0,
            "lost": 0,
        }
    if not rpo.acknowledged:
        return {
            **base,
            "measured_s": None,
            "resolution_s": None,
            "met": target.rpo_s is None,
            "reason": f"RPO not measured: {unacknowledged(rpo)}",
            "written": rpo.written,
            "acknowledged": 0,
            "lost": 0,
        }
    failover = _failover(session)
    if failover is not None:
        return {
            **base,
            "measured_s": failover["measured_s"],
            "resolution_s": round(failover["resolution_s"], 4),
            "met": True if failover["met"] is None else failover["met"],
            "reason": failover["reason"],
            "written": rpo.written,
            "acknowledged": rpo.acknowledged,
            # missing in the other region at the failover moment
            "lost": failover["missing"],
            "basis": "failover",
        }
    met = meets(rpo.measured_s, target.rpo_s, target.rpo_bound)
    reason = None
    if rpo.measured_s is None:
        reason = session.rpo_error
    elif met is False:
        reason = (
            f"measured {rpo.measured_s:.3f}s ({rpo.lost} acknowledged markers lost), "
            f"target {target.rpo_bound} {target.rpo_s:g}s"
        )
    return {
        **base,
        "measured_s": None if rpo.measured_s is None else round(rpo.measured_s, 3),
        "resolution_s": round(rpo.resolution_s, 4),
        "met": True if met is None else met,
        "reason": reason,
        "written": rpo.written,
        "acknowledged": rpo.acknowledged,
        "lost": rpo.lost,
    }
