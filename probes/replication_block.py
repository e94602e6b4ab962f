"""The journal's ``recovery.replication`` block and the failover RPO verdict: a pure
read of a stopped measurement whose markers replicate to another region (S3 objects, or
DynamoDB items of a global table), built on :mod:`probes.replication`.

The failover moment is the end of the pause (the fault's ``reverted`` stamp), or
``markers.failover_at_s`` after t0, or with ``markers.failover: dns-change`` the
moment the name was moved to the secondary (the phase ``dns_changed``: the DR drill,
where the region is left while replication is still paused). ``markers.pause_fault``
names the fault whose ``reverted`` stamp ends the pause when it is not t0's. Judged
against the service's ``rpo_s``: a target of 0 is missed by one missing marker. A miss
under a pause is a finding about the DR plan (an asynchronous replication cannot
promise RPO 0), said so in ``finding``.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from chaosaws_ext.core.recovery_schema import (
    CatchUpBlock,
    FailoverBlock,
    LagBlock,
    ReplicationBlock,
)
from chaosaws_ext.core.timeline import fault_stamps, phase_stamps
from probes.dr_targets import meets
from probes.replication import catch_up, failover_rpo, lag_outside
from probes.verdicts import T0, find_t0

if TYPE_CHECKING:
    from probes.session import MeasurementSession

__all__ = ["judges_failover", "failover_moment", "replication_block", "failover_verdict"]

S3_NEVER = (
    "S3 does not replicate objects written while the replication rules were disabled "
    "once they are enabled again (Amazon S3 User Guide, 'Managing or pausing live "
    "replication'): without S3 Batch Replication they stay missing in the replica"
)


def judges_failover(session: MeasurementSession) -> bool:
    """Markers replicate to another region and the experiment declares a failover
    (``markers.failover``: ``end-of-pause``, the default for S3 markers, or ``none``)."""
    markers = session.spec.markers or {}
    default = "end-of-pause" if markers.get("kind") == "s3" else "none"
    return bool(markers.get("replica_region")) and markers.get("failover", default) != "none"


def _pause_end(t0: T0, pause_fault: str | None = None) -> float | None:
    """The monotonic time the pausing fault (``pause_fault``, else the fault of ``t0``)
    was stamped reverted (end of the pause)."""
    fault = pause_fault or t0.fault
    for stamp in fault_stamps():
        if stamp.event == "reverted" and stamp.monotonic >= t0.monotonic:
            if fault in (None, stamp.fault):
                return stamp.monotonic
    return None


def _dns_change(t0: T0) -> float | None:
    for stamp in phase_stamps():
        if stamp.name == "dns_changed" and stamp.monotonic >= t0.monotonic:
            return stamp.monotonic
    return None


def failover_moment(session: MeasurementSession) -> tuple[float, str, T0, float | None] | None:
    """(failover monotonic, basis, t0, end of the pause) or None without a t0."""
    t0 = find_t0(session)
    if t0 is None:
        return None
    markers = session.spec.markers or {}
    end = _pause_end(t0, markers.get("pause_fault"))
    at = markers.get("failover_at_s")
    if markers.get("failover") == "dns-change":
        changed = _dns_change(t0)
        if changed is not None:
            return changed, "DNS change to the secondary", t0, end
        stopped = session.stopped_mono or t0.monotonic
        return stopped, "end of the method (no DNS change was stamped)", t0, end
    if at is not None:
        return t0.monotonic + float(at), f"t0 + {float(at):g} s", t0, end
    if end is not None:
        return end, "end of the pause", t0, end
    stopped = session.stopped_mono or t0.monotonic
    return stopped, "end of the method (no end of the pause was stamped)", t0, None


def _wall(t0: T0, mono: float) -> str:
    from datetime import datetime, timedelta

    start = datetime.fromisoformat(t0.wall.replace("Z", "+00:00"))
    moment = start + timedelta(seconds=mono - t0.monotonic)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _where(markers: dict[str, Any], session: MeasurementSession) -> tuple[str, str]:
    backend = session.markers_backend
    name = str(markers.get("bucket") or markers.get("table") or "")
    replica = str(getattr(backend, "replica_bucket", "") or name)
    region = str(getattr(backend, "region", "") or markers.get("region") or "")
    return f"{name}@{region}", f"{replica}@{markers.get('replica_region')}"


def failover_verdict(session: MeasurementSession) -> dict[str, Any] | None:
    """``{measured_s, missing, acknowledged, met, reason}`` of the failover RPO, or None
    when this measurement does not judge one (or it is not measured yet)."""
    if not judges_failover(session) or session.writer is None or session.stopped_mono is None:
        return None
    moment = failover_moment(session)
    if moment is None:
        return None
    at, basis, t0, _end = moment
    result = failover_rpo(session.writer.markers(), at, session.writer.interval)
    target = session.spec.target
    met = meets(result.span_s, target.rpo_s, target.rpo_bound)
    if target.rpo_s == 0 and result.missing:
        met = False
    _, replica = _where(session.spec.markers or {}, session)
    reason = None
    if met is False:
        reason = (
            f"failover RPO at the {basis}: {result.missing} acknowledged markers "
            f"({result.span_s:.3f} s of writes) not yet in {replica}; "
            f"target {target.rpo_bound} {target.rpo_s:g}s"
        )
    return {
        "measured_s": result.span_s,
        "resolution_s": result.resolution_s,
        "missing": result.missing,
        "acknowledged": result.acknowledged,
        "met": met,
        "reason": reason,
        "result": result,
        "at": at,
        "basis": basis,
        "t0": t0,
    }


def _status_counts(session: MeasurementSession) -> dict[str, int] | None:
    if session.replication_status is None:
        return None
    return dict(Counter(s or "none" for s in session.replication_status.values()))


def _finding(
    session: MeasurementSession, verdict: dict[str, Any], pause: float | None, never: bool
) -> str | None:
    if verdict["met"] is not False:
        return None
    target = session.spec.target
    text = (
        f"a finding about the DR plan, not a bug: {session.spec.service} promises RPO "
        f"{target.rpo_bound} {target.rpo_s:g} s, but its cross-region replication is "
        "asynchronous: "
        + (
            f"a failover at the end of a {pause:.1f} s pause"
            if verdict["basis"] == "end of the pause" and pause
            else f"a failover at the {verdict['basis']}"
        )
        + f" loses {verdict['missing']} acknowledged writes ({verdict['measured_s']:.3f} s)"
    )
    kind = (session.spec.markers or {}).get("kind")
    if never and kind == "s3":
        text += f"; {S3_NEVER}"
    return text


def replication_block(session: MeasurementSession) -> ReplicationBlock | None:
    """The ``recovery.replication`` block (None when no failover is judged)."""
    verdict = failover_verdict(session)
    if verdict is None or session.writer is None:
        return None
    markers = session.spec.markers or {}
    source, replica = _where(markers, session)
    result, t0 = verdict["result"], verdict["t0"]
    end = failover_moment(session)
    pause_end = end[3] if end else None
    pause = None if pause_end is None else round(pause_end - t0.monotonic, 3)
    catch: CatchUpBlock | None = None
    never = False
    if pause_end is not None and session.poller is not None:
        polled = session.polled_until_mono or session.stopped_mono or pause_end
        found = catch_up(session.writer.markers(), pause_end, polled, session.poller.interval)
        never = found.caught_up_s is None
        reason = None
        if never:
            reason = (
                f"not caught up within {found.window_s:.1f} s: {found.still_missing} markers "
                f"acknowledged before the end of the pause never reached {replica}"
            )
            if markers.get("kind") == "s3":
                reason += f" ({S3_NEVER})"
        catch = CatchUpBlock(
            measured_s=found.caught_up_s,
            caught_up=not never,
            window_s=found.window_s,
            still_missing=found.still_missing,
            resolution_s=found.resolution_s,
            reason=reason,
        )
    spread = lag_outside(session.writer.markers(), t0.monotonic, pause_end)
    lag = None
    if session.poller is not None:
        # unseen: sent after the pause ended, acknowledged, never replicated (a PUT in
        # flight across the resume may have been taken while the rule was still off)
        after = pause_end or t0.monotonic
        outside = [m for m in session.writer.markers() if m.acked and m.sent_mono > after]
        lag = LagBlock(
            p50=spread["p50"],
            p99=spread["p99"],
            max=spread["max"],
            count=int(spread["count"] or 0),
            unseen=sum(1 for m in outside if m.seen_mono is None),
            resolution_s=session.poller.interval,
        )
    block = ReplicationBlock(
        kind=str(markers.get("kind")),
        source=source,
        replica=replica,
        pause_s=pause,
        failover=FailoverBlock(
            at=_wall(t0, verdict["at"]),
            basis=verdict["basis"],
            after_t0_s=round(verdict["at"] - t0.monotonic, 3),
            acknowledged=result.acknowledged,
            missing=result.missing,
            rpo_s=result.span_s,
            resolution_s=result.resolution_s,
        ),
        catch_up=catch,
        lag=lag,
        met=verdict["met"],
        target_s=session.spec.target.rpo_s,
        finding=_finding(session, verdict, pause, never),
    )
    counts = _status_counts(session)
    if counts is not None:
        block["replication_status"] = counts
    errors = Counter(m.error or "unfinished" for m in session.writer.markers() if not m.acked)
    if errors:
        block["write_errors"] = dict(errors)
    return block
