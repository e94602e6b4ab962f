"""The journal's top-level ``recovery`` block, built from a stopped measurement.

Field names and meanings: docs "The recovery journal block" (names may grow, never
change meaning). Building it reads the session only; the control stops the session
(which reads the markers back) and cleans the markers up before asking for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from chaosaws_ext.core.recovery_schema import (
    AvailabilityBlock,
    FaultBlock,
    LagBlock,
    RecoveryBlock,
    RestoreBlock,
    RestorePhase,
    RpoBlock,
    RtoBlock,
    SamplerAvailability,
    SamplerRef,
    SamplerRto,
    SamplingBlock,
    TargetBlock,
)
from chaosaws_ext.core.timeline import PhaseStamp, fault_details, phase_stamps
from probes import drills
from probes.recovery import RtoResult, availability, percentiles, recovery_rule
from probes.replication_block import replication_block
from probes.scenario_block import scenario_block, service_blocks
from probes.verdicts import T0, find_t0, headline_rto, reverted_at, rpo_verdict, rto_verdict

if TYPE_CHECKING:
    from probes.session import MeasurementSession

__all__ = ["recovery_block", "phases"]


def _dns_flip(session: MeasurementSession, t0: T0) -> float | None:
    """Seconds from t0 to the first ``http_dns`` answer that differs from the last one
    before t0 (the failover seen by a client's resolver)."""
    for sampler in session.samplers:
        if sampler.kind != "http_dns":
            continue
        before = [s.detail for s in sampler.samples() if s.t_mono < t0.monotonic and s.detail]
        baseline = before[-1] if before else None
        for sample in sampler.samples():
            if sample.t_mono >= t0.monotonic and sample.detail:
                if baseline is None:
                    baseline = sample.detail
                elif sample.detail != baseline:
                    return round(sample.t_mono - t0.monotonic, 3)
    return None


def phases(
    session: MeasurementSession, t0: T0, by_sampler: dict[str, RtoResult]
) -> dict[str, float | None]:
    """``rto.phases``: seconds from t0 of what the samples saw and of the faults' marks."""

    def rel(mono: float | None) -> float | None:
        return None if mono is None else round(mono - t0.monotonic, 3)

    judged = [by_sampler[s.name] for s in session.samplers if s.judge]
    firsts = [r.outage_started_mono for r in judged if r.outage_started_mono is not None]
    lasts = [r.last_failure_mono for r in judged if r.last_failure_mono is not None]
    everything = list(by_sampler.values())
    full = None
    if all(r.recovered for r in everything):
        full = max((r.recovered_mono or t0.monotonic) for r in everything)
    worst, _ = headline_rto(session)
    found: dict[str, float | None] = {
        "detected_s": rel(min(firsts)) if firsts else None,
        "last_failure_s": rel(max(lasts)) if lasts else None,
        "first_success_s": rel(worst.recovered_mono) if worst else None,
        "full_availability_s": rel(full) if full is not None else None,
        "dns_s": _dns_flip(session, t0),
    }
    seen: set[str] = set()
    stamps: list[PhaseStamp] = phase_stamps()
    for stamp in stamps:
        if session.started_mono is None or stamp.monotonic < session.started_mono:
            continue
        if stamp.name in seen:
            continue
        seen.add(stamp.name)
        key = f"{stamp.name}_s"
        if key == "dns_s" and found.get("dns_s") is not None:
            key = "dns_marked_s"
        found[key] = rel(stamp.monotonic)
    return found


def _replication_lag(session: MeasurementSession) -> LagBlock | None:
    """p50/p99/max of first visibility in the replica region - acknowledgement."""
    if not (session.poller and session.writer):
        return None
    values = [
        m.seen_mono - m.ack_mono
        for m in session.writer.markers()
        if m.seen_mono is not None and m.ack_mono is not None
    ]
    spread = percentiles(values)
    return LagBlock(
        p50=spread["p50"],
        p99=spread["p99"],
        max=spread["max"],
        count=int(spread["count"] or 0),
        unseen=sum(1 for m in session.writer.markers() if m.acked and m.seen_mono is None),
        resolution_s=session.poller.interval,
    )


def _sampler_availability(counts: dict[str, object]) -> SamplerAvailability:
    return SamplerAvailability(
        samples=cast(int, counts["samples"]),
        ok=cast(int, counts["ok"]),
        ratio=cast(float | None, counts["ratio"]),
    )


def _availability(session: MeasurementSession, origin: float) -> AvailabilityBlock:
    primary = next(
        (s for s in session.samplers if s.judge), session.samplers[0] if session.samplers else None
    )
    if primary is None:
        return AvailabilityBlock(samples=0, ok=0, ratio=None, series=[])
    counts = availability(primary.samples(), origin, session.spec.series_limit)
    return AvailabilityBlock(
        **_sampler_availability(counts),
        series=cast(list, counts["series"]),
        sampler=primary.name,
        by_sampler={
            s.name: _sampler_availability(availability(s.samples(), origin, 1))
            for s in session.samplers
        },
    )


def _restore(session: MeasurementSession) -> RestoreBlock | None:
    """The ``restore`` block of a restore drill, None without one: a database restore's
    (probes.drills) or a table restore's (probes.dynamodb_drills)."""
    from probes.dynamodb_drills import drill_of

    detail = drills.reported_restore()
    if detail is None:
        return None
    if not drills.is_table_restore(detail):
        return drills.restore_block()
    drill = drill_of(session)
    return RestoreBlock(
        kind=str(detail["kind"]),
        source=str(detail["source"]),
        restored=str(detail["restored"]),
        restore_point=detail.get("restore_point"),
        drill_started=detail.get("drill_started"),
        latest_restorable_lag_s=detail.get("latest_restorable_lag_s"),
        phases=[RestorePhase(name=str(p["name"]), at_s=float(p["at_s"])) for p in detail["phases"]],
        verification=drill.verification() if drill else None,
        deleted=bool(detail.get("deleted")),
    )


def recovery_block(session: MeasurementSession) -> RecoveryBlock:
    """The journal's top-level ``recovery`` block of ``session``."""
    spec = session.spec
    target = spec.target
    t0 = find_t0(session)
    by_sampler = session.rto_by_sampler() or {}
    worst, _reason = headline_rto(session)
    rto = rto_verdict(session)
    restore = _restore(session)
    rto_block = RtoBlock(
        measured_s=rto["measured_s"],
        resolution_s=rto["resolution_s"],
        met=rto.get("judged_met", rto["met"]),
        target_s=rto["target_s"],
        reason=rto["reason"],
        consecutive=spec.consecutive,
        window_s=spec.recovery_window_s,
        rule=recovery_rule(spec.consecutive, spec.recovery_window_s),
        outage_started_at=worst.outage_started_wall if worst else None,
        recovered_at=worst.recovered_wall if worst else None,
        phases=phases(session, t0, by_sampler) if t0 else {},
        by_sampler={
            name: SamplerRto(
                measured_s=None if r.measured_s is None else round(r.measured_s, 3),
                outage=r.outage,
                failed_samples=r.failed_samples,
                judge=next(s.judge for s in session.samplers if s.name == name),
            )
            for name, r in by_sampler.items()
        },
    )
    rpo = rpo_verdict(session)
    rpo_block = RpoBlock(
        target_s=rpo["target_s"],
        measured_s=rpo["measured_s"],
        resolution_s=rpo["resolution_s"],
        # no markers: this experiment does not judge RPO: no verdict, not a miss
        met=rpo.get("judged_met", rpo["met"]) if spec.markers else None,
        reason=rpo["reason"],
        written=rpo["written"],
        acknowledged=rpo["acknowledged"],
        lost=rpo["lost"],
    )
    if session.cleaned is not None:
        rpo_block["cleaned_up"] = session.cleaned
    if restore is not None:  # a restore drill: its phases, from the restore call
        rto_block["phases"] = {f"{p['name']}_s": p["at_s"] for p in restore["phases"]}
        rto_block["outage_started_at"] = restore["drill_started"]
        rto_block["recovered_at"] = drills.first_query_at(restore)
    if rpo.get("basis"):
        rpo_block["basis"] = rpo["basis"]
    origin = t0.monotonic if t0 else (session.started_mono or 0.0)
    block = RecoveryBlock(
        service=spec.service,
        target=TargetBlock(
            rto_s=target.rto_s,
            rpo_s=target.rpo_s,
            rto_bound=target.rto_bound,
            rpo_bound=target.rpo_bound,
            source=target.source,
            file=target.file,
        ),
        fault=FaultBlock(
            name=t0.fault if t0 else None,
            injected_at=t0.wall if t0 else None,
            t0_source=t0.source if t0 else None,
            reverted_at=reverted_at(t0),
            detail=fault_details() or None,
        ),
        rto=rto_block,
        rpo=rpo_block,
        replication_lag_s=_replication_lag(session),
        replication=replication_block(session),
        availability=_availability(session, origin),
        sampling=SamplingBlock(
            interval_s=session.interval,
            timeout_s=session.sample_timeout,
            started_at=session.started_wall,
            samplers=[SamplerRef(name=s.name, kind=s.kind) for s in session.samplers],
        ),
        environment=session.environment(),
        errors=list(session.errors),
    )
    if restore is not None:
        block["restore"] = restore
    scenario = scenario_block(session)
    if scenario is not None:
        block["scenario"] = scenario
    services = service_blocks(session, block)
    if services is not None:
        block["services"] = services
    return block
