"""The read-only plan of the DynamoDB replica write conflict: table facts, regions,
keys and the refusals, for the inject and for ``gameday plan``."""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import region_of
from chaosaws_ext.core.identity import RunContext, current_run
from chaosaws_ext.core.numbers import checked_integer
from chaosaws_ext.dynamodb import FAULT
from chaosaws_ext.dynamodb.conflict import (
    ALL_REGIONS,
    LEGACY_GLOBAL_TABLE_VERSION,
    MAX_KEYS,
    MAX_WRITES_PER_REGION,
    TableFacts,
    describe_global_table,
    table_tags,
)
from chaosaws_ext.planning import FaultPlan, PlannedChange

__all__ = ["plan_conflicting_writes", "build_plan"]


def _as_int(value: Any, name: str) -> int:
    """A whole number (inf, nan, 2.5 and words refused in one line); the range is
    checked by the caller, which lists every problem at once."""
    return checked_integer(value, name, minimum=-(2**62), activity=f"refusing {FAULT}")


def _as_regions(value: Any) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise ActivityFailed(
            f"refusing {FAULT}: regions must be a list of region names or a comma-separated "
            f"string, got {value!r}"
        )
    return [str(part) for part in value]


def _wanted_regions(
    asked: list[str] | None, facts: TableFacts, configuration: Configuration
) -> list[str]:
    """The writer regions: as asked (``all``: every active replica), else two replicas,
    the experiment's region and configuration ``other_region`` when that is an active
    replica, or the first other active replica. Two, because a conflict needs two and
    every further region is one more region the IAM policy must allow (a strongly
    consistent table always has three replicas, or two and a witness)."""
    if asked == [ALL_REGIONS]:
        return list(facts.replica_regions)
    if asked:
        return list(dict.fromkeys(asked))
    others = [r for r in facts.replica_regions if r != facts.region]
    other = str((configuration or {}).get("other_region") or "")
    if other in others:
        return [facts.region, other]
    return [facts.region] + others[:1]


def build_plan(
    table_name: str,
    run: RunContext,
    regions: list[str] | str | None = None,
    keys: int = 1,
    writes_per_region: int = 10,
    timeout: float = 60,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of the conflicting writes; ActivityFailed (one line) when refused."""
    home = region_of(configuration)
    count = _as_int(keys, "keys")
    per_region = _as_int(writes_per_region, "writes_per_region")
    problems = []
    if not table_name:
        problems.append("table_name is empty")
    if not 1 <= count <= MAX_KEYS:
        problems.append(f"keys must be 1..{MAX_KEYS}, got {count}")
    if not 1 <= per_region <= MAX_WRITES_PER_REGION:
        problems.append(f"writes_per_region must be 1..{MAX_WRITES_PER_REGION}, got {per_region}")
    try:
        bound = float(timeout)
    except (TypeError, ValueError):
        bound = -1.0
    if not 0 < bound <= run.max_fault_seconds:
        problems.append(f"timeout must be in (0, {run.max_fault_seconds:g}] s, got {timeout!r}")
    if problems:
        raise ActivityFailed(f"refusing {FAULT}: " + "; ".join(problems))
    facts = describe_global_table(table_name, home, configuration, secrets)
    if facts.version == LEGACY_GLOBAL_TABLE_VERSION:
        raise ActivityFailed(
            f"refusing {FAULT}: table {table_name} is a legacy global table (2017.11.29); "
            "legacy global tables (2017.11.29) are not supported; upgrade to 2019.11.21"
        )
    wanted = _wanted_regions(_as_regions(regions), facts, configuration)
    if len(facts.replica_regions) < 2:
        problems.append(
            f"table {table_name} has {len(facts.replica_regions)} active replica "
            f"({', '.join(facts.replica_regions)}); a write conflict needs at least 2"
        )
    else:
        unknown = [r for r in wanted if r not in facts.replica_regions]
        if unknown:
            problems.append(
                f"{', '.join(unknown)} not among the active replicas of {table_name} "
                f"({', '.join(facts.replica_regions)})"
            )
        elif len(wanted) < 2:
            problems.append("regions must name at least 2 replica regions")
    if facts.schema.problem():
        problems.append(str(facts.schema.problem()))
    if problems:
        raise ActivityFailed(f"refusing {FAULT}: " + "; ".join(problems))
    item_keys = [facts.schema.item_key(run.run_id, i) for i in range(1, count + 1)]
    labels = [facts.schema.label(k) for k in item_keys]
    named = labels[0] if count == 1 else f"{labels[0]}..{labels[-1]}"
    arns = {region: facts.arn.replace(f":{home}:", f":{region}:") for region in wanted}
    changes = [
        PlannedChange(
            resource=arns[region],
            change=(
                f"{per_region} PutItem per key from {region} on {count} key(s) {named}, "
                "released together with the other regions"
            ),
            undo=f"DeleteItem of those {count} key(s) in {', '.join(wanted)}",
            # a replica's tags are its own: each region's protection tag counts
            resource_tags=(
                facts.tags
                if region == home
                else table_tags(arns[region], region, configuration, secrets)
            ),
            kind="table",
        )
        for region in wanted
    ]
    return FaultPlan(
        fault=FAULT,
        region=home,
        target=f"{FAULT}:{table_name}",
        changes=changes,
        details={
            "table": table_name,
            "regions": wanted,
            "replica_regions": facts.replica_regions,
            "keys": item_keys,
            "writes_per_region": per_region,
            "timeout_s": bound,
            "mode": "STRONG" if facts.strong else "EVENTUAL",
            "key_schema": {
                "hash": [facts.schema.hash_name, facts.schema.hash_type],
                "range": [facts.schema.range_name, facts.schema.range_type],
            },
        },
    )


def plan_conflicting_writes(
    table_name: str,
    regions: list[str] | str | None = None,
    keys: int = 1,
    writes_per_region: int = 10,
    timeout: float = 60,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of :func:`write_conflicting_items` (same arguments), for
    ``gameday plan``; raises ActivityFailed with the refusal, changes nothing."""
    return build_plan(
        table_name,
        current_run(configuration),
        regions,
        keys,
        writes_per_region,
        timeout,
        configuration,
        secrets,
    )
