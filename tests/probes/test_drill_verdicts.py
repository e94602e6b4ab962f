"""The restore drills' RTO verdict (probes.verdicts, one function for a table's and a
database's restore): the figure, its resolution, met and the reason a user reads."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from chaosaws_ext.core.timeline import clear_phases, note_fault_detail
from probes import drills
from probes.dr_targets import ServiceTarget
from probes.recovery import RpoResult
from probes.verdicts import rto_verdict


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    clear_phases()
    drills.clear()
    yield
    clear_phases()
    drills.clear()


def _session(rto_s: float | None) -> Any:
    target = ServiceTarget("svc", rto_s, None, rto_bound="<", source="the plan's row")
    return SimpleNamespace(spec=SimpleNamespace(target=target, service="svc"), interval=0.25)


def _table_restore(phases: list[dict[str, Any]]) -> None:
    note_fault_detail(
        "restore", {"kind": "dynamodb-point-in-time", "phases": phases, "resolution_s": 0.1}
    )


def test_a_table_restore_without_target_is_measured_unjudged() -> None:
    _table_restore([{"name": "active", "at_s": 4.9}, {"name": "first_read", "at_s": 5.012}])
    verdict = rto_verdict(_session(None))
    assert verdict == {
        "service": "svc",
        "measured_s": 5.012,
        "target_s": None,
        "bound": "<",
        "resolution_s": 0.1,
        "met": True,
        "judged_met": None,
        "outage": False,
        "reason": "no target: the plan's row",
    }


def test_a_table_copy_that_never_answered_is_not_met() -> None:
    _table_restore([{"name": "api_accepted", "at_s": 0.1}])
    verdict = rto_verdict(_session(60))
    assert (verdict["met"], verdict["judged_met"]) == (False, False)
    assert verdict["reason"] == "the restored copy never answered a read"


def test_a_table_restore_over_its_target_says_how_long_it_took() -> None:
    _table_restore([{"name": "first_read", "at_s": 61.5}])
    verdict = rto_verdict(_session(60))
    assert verdict["met"] is False
    assert verdict["reason"] == "restore took 61.500s, target < 60s"


def _database_restore(first_query: float | None) -> None:
    note_fault_detail("restore", {"kind": "rds-backup-copy", "phases": []})
    if first_query is not None:
        rpo = RpoResult(measured_s=1.0, resolution_s=0.1, written=1, acknowledged=1, lost=0)
        with drills._lock:
            drills._result = drills.DrillResult(
                verification={},  # type: ignore[typeddict-item]
                rpo=rpo,
                rto_s=first_query,
                rto_resolution_s=0.25,
            )


def test_a_database_restore_is_judged_on_its_first_query() -> None:
    _database_restore(30.29351)
    verdict = rto_verdict(_session(14400))
    assert verdict == {
        "service": "svc",
        "measured_s": 30.294,
        "target_s": 14400,
        "bound": "<",
        "resolution_s": 0.25,
        "met": True,
        "outage": True,
        "reason": None,
    }


def test_a_database_restore_never_verified_is_not_met_and_says_why() -> None:
    _database_restore(None)
    verdict = rto_verdict(_session(14400))
    assert verdict["met"] is False and verdict["measured_s"] is None
    assert verdict["reason"] == "restore RTO not measured: the drill never verified"
    assert rto_verdict(_session(None))["met"] is True  # no target: nothing to miss
