"""A run history for the scorecard: the repo's journal fixtures re-dated and re-labelled.

Each run is a copy of a fixture journal (tests/data/journals) with its start moved to a
simulated date, its title and service set to a shipped experiment's, and optionally its
environment and measured RTO changed. Written as ``gameday run`` keeps its history
(``<stamp>-<experiment>.journal.json``). ``NOW`` is the fixed "today" of the tests.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.helpers import TESTS

__all__ = ["NOW", "SimulatedRun", "STANDARD_HISTORY", "write_history"]

JOURNALS = TESTS / "data" / "journals"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

#: the shipped experiments' titles and services (experiments/*.yaml)
EXPERIMENTS = {
    "rds-forced-failover": (
        "The analytics database fails over to its standby and comes back available",
        "rds-analytics",
    ),
    "healthcheck-path-block": (
        "Route 53 fails over when the health-check path fails at the load balancer",
        "route53-failover",
    ),
    "dynamodb-replica-conflict": (
        "Concurrent writes to one item from two regions of a DynamoDB global table converge",
        "dynamodb",
    ),
}


@dataclass(frozen=True)
class SimulatedRun:
    fixture: str  # file name under tests/data/journals, without .json
    experiment: str
    when: str  # ISO date-time, UTC
    environment: str = "sandbox"
    rto_s: float | None = None  # override the measured RTO (same resolution)


#: met, missed, never tested, overdue and a regression, as of NOW:
#: - RDS Failover (monthly): met on 10-05 (RTO 12 s), met on 11-20 with RTO 41.25 s:
#:   worse beyond the ±0.25 s resolution; next due 12-20
#: - Route 53 Failover (quarterly): met on 07-15, a failed run on 11-30 (no verdict):
#:   due 10-15, overdue
#: - dynamodb: missed on 11-01 (RTO 60 s) and on 11-25 (RTO 47.5 s): better, still missed,
#:   on AWS
#: - ticket-api (az-nacl-blackhole), Full DR Drill, ...: never tested
STANDARD_HISTORY = (
    SimulatedRun("completed-met", "rds-forced-failover", "2026-10-05T02:00:00+00:00", rto_s=12.0),
    SimulatedRun("completed-met", "rds-forced-failover", "2026-11-20T02:00:00+00:00"),
    SimulatedRun("completed-met", "healthcheck-path-block", "2026-07-15T02:00:00+00:00"),
    SimulatedRun("failed", "healthcheck-path-block", "2026-11-30T02:00:00+00:00"),
    SimulatedRun(
        "deviated-missed", "dynamodb-replica-conflict", "2026-11-01T02:00:00+00:00", "aws", 60.0
    ),
    SimulatedRun(
        "deviated-missed", "dynamodb-replica-conflict", "2026-11-25T02:00:00+00:00", "aws"
    ),
)


def simulated_journal(run: SimulatedRun) -> dict[str, Any]:
    journal = copy.deepcopy(json.loads((JOURNALS / f"{run.fixture}.json").read_text()))
    title, service = EXPERIMENTS[run.experiment]
    journal["experiment"]["title"] = title
    journal["start"] = run.when
    journal["end"] = run.when
    recovery = journal["recovery"]
    recovery["service"] = service
    recovery["environment"]["target"] = run.environment
    if run.rto_s is not None:
        recovery["rto"]["measured_s"] = run.rto_s
    return journal


def write_history(folder: Path, runs: tuple[SimulatedRun, ...] = STANDARD_HISTORY) -> Path:
    """Write ``runs`` into ``folder`` as a gameday history; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for run in runs:
        stamp = datetime.fromisoformat(run.when).strftime("%Y%m%dT%H%M%S")
        path = folder / f"{stamp}-{run.experiment}.journal.json"
        path.write_text(json.dumps(simulated_journal(run), indent=1))
    return folder
