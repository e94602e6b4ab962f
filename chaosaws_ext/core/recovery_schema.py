"""The journal's top-level ``recovery`` block as types: what the measurement writes
(``probes.recovery_block``) and what ``reports`` reads, named once.

Field names may grow, never change meaning (architecture notes, "The recovery journal
block"). Writers build these TypedDicts; readers name a field with :func:`field`, which
refuses a path the schema does not hold, so a renamed field breaks its readers loudly
instead of blanking a report. :func:`problems` checks a parsed block against the types.
A block written after a failure holds ``service`` and ``errors`` only (every other key
is ``NotRequired`` for readers; the writer always fills them).
"""

import types
from typing import Any, NotRequired, TypedDict, Union, get_args, get_origin, get_type_hints

__all__ = [
    "RecoveryBlock",
    "RunbookStep",
    "FailbackStep",
    "FailbackBlock",
    "TargetBlock",
    "FaultBlock",
    "RtoBlock",
    "SamplerRto",
    "RpoBlock",
    "LagBlock",
    "ReplicationBlock",
    "FailoverBlock",
    "CatchUpBlock",
    "AvailabilityBlock",
    "SamplerAvailability",
    "SamplingBlock",
    "SamplerRef",
    "EnvironmentBlock",
    "RecoveryPointBlock",
    "RestoreBlock",
    "RestorePhase",
    "RestoreVerification",
    "ServiceBlock",
    "ScenarioBlock",
    "ScenarioStep",
    "ScenarioPhase",
    "field",
    "is_field",
    "problems",
]

Seconds = float | None  # a duration in seconds; None when not measured / no target
Instant = str | None  # ISO 8601 wall time (UTC); None when it did not happen


class TargetBlock(TypedDict):
    """The DR plan's targets the run was judged against (targets.yaml)."""

    rto_s: Seconds
    rpo_s: Seconds
    rto_bound: str  # "<=" or "<"
    rpo_bound: str
    source: str  # where the plan states it
    file: str  # the targets file used


class FaultBlock(TypedDict):
    """t0 and the fault's revert: what the RTO is measured from."""

    name: str | None
    injected_at: Instant  # t0: the fault's mutating call returned
    t0_source: str | None  # "stamp" or "method-action" (fallback)
    reverted_at: Instant
    detail: dict[str, Any] | None  # the fault's own findings (core.timeline)


class SamplerRto(TypedDict):
    measured_s: Seconds
    outage: bool
    failed_samples: int
    judge: bool  # false: observed, not judged


class RtoBlock(TypedDict):
    """RTO = recovery (first of K consecutive successes after the outage, with no failed
    sample within ``window_s`` of it) - t0."""

    measured_s: Seconds
    resolution_s: float  # the sampling interval (a drill's: its polling interval)
    met: bool | None  # None: no target to judge against (a drill the plan gives none)
    target_s: Seconds
    reason: str | None  # why not met / not measured
    consecutive: int  # K
    window_s: NotRequired[float]  # W: no failure this long after the recovery (0: none)
    rule: NotRequired[str]  # the recovery rule in words (probes.recovery.recovery_rule)
    outage_started_at: Instant
    recovered_at: Instant
    phases: dict[str, Seconds]  # detected_s, first_success_s, <fault phase>_s, ... from t0
    by_sampler: dict[str, SamplerRto]


class RpoBlock(TypedDict):
    """RPO = the longest span of acknowledged write markers lost; 0 when none is."""

    measured_s: Seconds
    resolution_s: float | None  # the writer interval; None when not measured
    met: bool | None  # None: this experiment does not judge RPO (no markers)
    target_s: Seconds
    reason: str | None
    written: int
    acknowledged: int
    lost: int
    cleaned_up: NotRequired[int]  # markers deleted after the run
    basis: NotRequired[str]  # "failover": the replication block's failover RPO is judged


class LagBlock(TypedDict):
    """DynamoDB replication lag: first visibility in the replica - acknowledgement."""

    p50: Seconds
    p99: Seconds
    max: Seconds
    count: int
    unseen: int  # markers sent after the pause (acknowledged) never seen in the replica
    resolution_s: float  # the lag poller's interval
    series: NotRequired[list[list[float]]]  # [t_rel_s, lag_s]; read by reports, not written


class FailoverBlock(TypedDict):
    """What a failover to the other region at ``at`` would not find."""

    at: Instant
    basis: str  # "end of the pause" or "t0 + N s" (markers.failover_at_s)
    after_t0_s: Seconds
    acknowledged: int  # markers acknowledged at or before the failover
    missing: int  # of those, not yet in the other region
    rpo_s: float  # first to last missing acknowledgement; 0 when none is missing
    resolution_s: float  # the writer interval


class CatchUpBlock(TypedDict):
    """From the end of the pause until every marker acknowledged before it is there."""

    measured_s: Seconds  # None: not caught up within window_s
    caught_up: bool
    window_s: float  # how long after the end of the pause the poller looked
    still_missing: int  # acknowledged before the end of the pause, never seen
    resolution_s: float  # the lag poller's interval
    reason: str | None  # "not caught up within N s" (and why, when known)


class ReplicationBlock(TypedDict):
    """An asynchronous replication under a pause: failover RPO, catch-up, lag outside
    the pause, the source objects' ReplicationStatus (S3), judged against the target."""

    kind: str  # the markers' kind: "s3" or "dynamodb"
    source: str  # "bucket@region" / "table@region"
    replica: str
    pause_s: Seconds  # t0 to the end of the pause
    failover: FailoverBlock | None  # None: no failover moment (no t0)
    catch_up: CatchUpBlock | None
    lag: LagBlock | None  # markers acknowledged outside the pause
    replication_status: NotRequired[dict[str, int]]  # S3: status -> markers ("none")
    write_errors: NotRequired[dict[str, int]]  # error class (or "unfinished") -> unacked markers
    met: bool | None  # the failover RPO against the target rpo_s; None: not judged
    target_s: Seconds
    finding: str | None  # a missed target under a pause: a finding about the plan


class SamplerAvailability(TypedDict):
    samples: int
    ok: int
    ratio: float | None


class AvailabilityBlock(TypedDict):
    """The headline sampler's samples: counts and ``[t_rel_s, ok, latency_ms]`` rows,
    ``t_rel_s`` from t0 (from the sampling start without a t0)."""

    samples: int
    ok: int
    ratio: float | None
    series: list[list[float | int | None]]
    sampler: NotRequired[str]
    by_sampler: NotRequired[dict[str, SamplerAvailability]]
    origin: NotRequired[Instant]  # the series' zero when not t0; read by reports, not written
    started_at: NotRequired[Instant]  # older name of ``origin``; read by reports, not written


class SamplerRef(TypedDict):
    name: str
    kind: str


class SamplingBlock(TypedDict):
    interval_s: float
    timeout_s: float
    started_at: Instant
    samplers: list[SamplerRef]


class EnvironmentBlock(TypedDict):
    target: str  # "sandbox" or "aws"
    region: str | None
    account: str | None
    versions: dict[str, str | None]


class RestorePhase(TypedDict):
    name: str  # api_accepted, active, first_read (DynamoDB); status_available, ... (RDS)
    at_s: float  # seconds after the restore call


class RestoreVerification(TypedDict):
    """The write markers in the restored copy: every one older than the restore point
    must be there."""

    markers_expected: int
    markers_present: int
    missing_count: int
    first_missing: int | None
    last_missing: int | None
    passed: bool
    # a table restore: the restored table's item count against the source's as of the
    # restore point (the source counted at the restore call, less the run's own markers
    # written after the restore point); None when a count was not taken
    items_expected: NotRequired[int | None]
    items_restored: NotRequired[int | None]
    items_not_accounted: NotRequired[int | None]  # expected - restored: others' changes
    items_uncertain: NotRequired[int]  # markers in flight while the source was counted
    items_passed: NotRequired[bool | None]


class RecoveryPointBlock(TypedDict):
    """The AWS Backup recovery point a ``rds-backup-copy`` drill restored."""

    arn: str
    vault: str
    region: str  # the vault's (DR) region, where the copy was restored
    created: Instant  # CreationDate: the restore point
    completed: Instant | None  # CompletionDate: the copy's end
    age_at_drill_start_s: Seconds  # restore call - CreationDate


class RestoreBlock(TypedDict):
    """A backup restore drill: restored side by side, verified, deleted. Its restore RTO
    and RPO are the block's ``rto`` and ``rpo``."""

    kind: str  # rds-point-in-time | rds-snapshot | rds-backup-copy | dynamodb-point-in-time
    source: str  # the source db/table id
    restored: str  # the new resource's id
    restore_point: Instant
    drill_started: Instant
    latest_restorable_lag_s: Seconds  # latest restorable time behind the drill's start
    phases: list[RestorePhase]
    verification: RestoreVerification | None  # None: the copy was never read back
    deleted: bool
    region: NotRequired[str]  # where the copy was restored (rds-backup-copy: the DR region)
    recovery_point: NotRequired[RecoveryPointBlock]  # rds-backup-copy only


class ServiceBlock(TypedDict):
    """One service of a run measuring several, judged against its own targets.yaml row
    (``recovery.services``; the main service's figures are also the top-level ones)."""

    target: TargetBlock
    rto: RtoBlock
    rpo: RpoBlock
    fault: FaultBlock
    samplers: list[str]  # the samplers that measured it
    errors: list[str]


class ScenarioPhase(TypedDict):
    """A phase on the scenario's time axis (seconds since the scenario's first t0)."""

    name: str
    fault: str | None  # the fault that stamped it, when it said
    at: Instant
    at_s: Seconds


class ScenarioStep(TypedDict):
    """One fault action of the method: applied and reverted, or skipped and why."""

    action: str  # the method action's name
    function: str  # module.func
    fault: str | None
    status: str | None  # chaos's activity status (succeeded, failed, ...)
    skipped: bool
    reason: str | None  # why it was skipped (no target), or why it failed
    applied_at: Instant
    applied_s: Seconds  # seconds since the scenario's t0
    reverted_at: Instant
    reverted_s: Seconds
    phases: list[ScenarioPhase]


class ScenarioBlock(TypedDict):
    """Every fault step of a composed experiment on one time axis."""

    t0: Instant  # the first injection of the run: 0 s on the axis
    steps: list[ScenarioStep]
    phases: list[ScenarioPhase]  # phases no step claimed (no fault named)


class RunbookStep(TypedDict):
    """One step of the DR runbook measured against its time box (seconds from t0)."""

    step: str  # "1", "2", "3"
    title: str
    started_s: Seconds
    ended_s: Seconds  # None: its end was not seen
    box_s: list[float]  # [start, end] of the runbook's box, scaled
    met: bool | None
    ended_by: str  # the phase that ends it (detected, first_success, secondary_verified)


class FailbackStep(TypedDict):
    """One step of the gradual failback: the weights set, then its window judged."""

    percent: int  # of the traffic to the primary
    window_s: float  # 0: not monitored
    set_after_s: float  # since the shift started
    duration_s: float
    good: bool
    reason: str | None
    samples: NotRequired[int]
    errors: NotRequired[int]
    error_rate: NotRequired[float | None]
    p99_latency_ms: NotRequired[float | None]
    thresholds: NotRequired[dict[str, float]]


class FailbackBlock(TypedDict):
    completed: bool  # every step done with a good window
    rolled_back: bool  # a bad window put all the traffic back on the secondary
    duration_s: NotRequired[float]
    steps: list[FailbackStep]


class RecoveryBlock(TypedDict):
    service: str
    target: NotRequired[TargetBlock]
    fault: NotRequired[FaultBlock]
    rto: NotRequired[RtoBlock]
    rpo: NotRequired[RpoBlock]
    replication_lag_s: NotRequired[LagBlock | None]
    replication: NotRequired[ReplicationBlock | None]
    availability: NotRequired[AvailabilityBlock]
    sampling: NotRequired[SamplingBlock]
    environment: NotRequired[EnvironmentBlock]
    restore: NotRequired[RestoreBlock]  # restore drills only
    services: NotRequired[dict[str, ServiceBlock]]  # several services measured in one run
    scenario: NotRequired[ScenarioBlock]  # the method's fault steps, on one time axis
    runbook: NotRequired[list[RunbookStep]]  # the DR drill's runbook steps
    failback: NotRequired[FailbackBlock]  # the DR drill's gradual failback
    errors: list[str]


def _hints(typed: Any) -> dict[str, Any]:
    return get_type_hints(typed)


def _is_typeddict(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, dict) and hasattr(kind, "__total__")


def _strip(kind: Any) -> Any:
    """``NotRequired[X]`` -> X and ``X | None`` -> X (for walking a path)."""
    if get_origin(kind) is NotRequired:
        kind = get_args(kind)[0]
    if get_origin(kind) in (Union, types.UnionType):
        rest = [a for a in get_args(kind) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return kind


def _step(kind: Any, key: str, where: str) -> Any:
    kind = _strip(kind)
    if _is_typeddict(kind):
        hints = _hints(kind)
        if key not in hints:
            raise KeyError(f"recovery schema: {where} has no field {key!r}")
        return hints[key]
    if get_origin(kind) is dict:  # a mapping by name (by_sampler, phases, versions)
        return get_args(kind)[1]
    raise KeyError(f"recovery schema: {where} is a value, not a block: no {key!r} in it")


def field(*path: str) -> tuple[str, ...]:
    """``path`` into the recovery block, checked against the schema (KeyError naming the
    first step it does not hold): readers name every field they read through this."""
    kind: Any = RecoveryBlock
    where = "recovery"
    for key in path:
        kind = _step(kind, key, where)
        where = f"{where}.{key}"
    return tuple(path)


def is_field(*path: str) -> bool:
    try:
        field(*path)
    except KeyError:
        return False
    return True


def _check(value: Any, kind: Any, where: str, found: list[str]) -> None:
    origin = get_origin(kind)
    if origin is NotRequired:
        _check(value, get_args(kind)[0], where, found)
    elif kind is Any:
        return
    elif origin in (Union, types.UnionType):
        for option in get_args(kind):
            trial: list[str] = []
            _check(value, option, where, trial)
            if not trial:
                return
        found.append(f"{where}: {value!r} is not {kind}")
    elif kind is type(None):
        if value is not None:
            found.append(f"{where}: {value!r} is not null")
    elif _is_typeddict(kind):
        if not isinstance(value, dict):
            found.append(f"{where}: {type(value).__name__}, not an object")
            return
        hints = _hints(kind)
        for key in sorted(kind.__required_keys__ - set(value)):
            found.append(f"{where}.{key}: missing")
        for key in sorted(set(value) - set(hints)):
            found.append(f"{where}.{key}: not in the schema")
        for key, item in value.items():
            if key in hints:
                _check(item, hints[key], f"{where}.{key}", found)
    elif origin is dict:
        if not isinstance(value, dict):
            found.append(f"{where}: {type(value).__name__}, not an object")
            return
        key_kind, item_kind = get_args(kind)
        for key, item in value.items():
            _check(key, key_kind, f"{where} key", found)
            _check(item, item_kind, f"{where}.{key}", found)
    elif origin is list:
        if not isinstance(value, list):
            found.append(f"{where}: {type(value).__name__}, not a list")
            return
        (item_kind,) = get_args(kind)
        for index, item in enumerate(value):
            _check(item, item_kind, f"{where}[{index}]", found)
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            found.append(f"{where}: {value!r} is not a number")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            found.append(f"{where}: {value!r} is not an integer")
    elif isinstance(kind, type) and not isinstance(value, kind):
        found.append(f"{where}: {value!r} is not {kind.__name__}")


def problems(block: Any) -> list[str]:
    """What in ``block`` does not match :class:`RecoveryBlock` (empty: it matches);
    extra keys are reported too: a new field is added here first."""
    found: list[str] = []
    _check(block, RecoveryBlock, "recovery", found)
    return found
