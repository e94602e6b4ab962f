"""The ``recovery`` block's schema (chaosaws_ext.core.recovery_schema): the block the
measurement writes validates against it, and reports read every field they display
through it (a field the schema does not hold is refused, never blanked silently)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any, get_type_hints

import pytest

import reports.html as html
from chaosaws_ext.core.recovery_schema import RecoveryBlock, field, is_field, problems
from chaosaws_ext.core.timeline import clear_phases, mark_phase, stamp_injected, stamp_reverted
from probes import session as measurement
from probes.activities import wait_for_recovery
from probes.outage_servers import SwitchableServer
from reports.journal import Journal, as_journals, recovery_value
from reports.junit import build_junit
from reports.verdicts import summarise
from tests.helpers import TESTS

JOURNAL = TESTS / "data" / "journals" / "measured-real.json"
INTERVAL = 0.05


@pytest.fixture
def written_block() -> Iterator[dict[str, Any]]:
    """A block written by a real measurement: an outage of 0.3 s after a fault stamp."""
    server = SwitchableServer().start()
    clear_phases()
    spec = measurement.parse_spec(
        {
            "service": "rds-analytics",
            "interval_s": INTERVAL,
            "fault": "schema-test",
            "samplers": [
                {"name": "api", "kind": "http", "url": server.url},
                {"name": "port", "kind": "tcp", "host": "127.0.0.1", "port": server.port},
            ],
        },
        {},
    )
    session = measurement.install(measurement.MeasurementSession(spec))
    try:
        session.start()
        deadline = time.monotonic() + 5
        while len(session.samplers[0].settled()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        stamp_injected("schema-test")
        server.down()
        time.sleep(0.3)
        mark_phase("control_plane")
        server.up()
        assert wait_for_recovery(timeout=5, quiet_period=5)["outage"] is True
        session.stop()
        stamp_reverted("schema-test")
        yield json.loads(json.dumps(session.recovery_block()))  # as the journal holds it
    finally:
        measurement.clear()
        server.stop()


def test_the_written_block_validates_and_holds_every_top_level_field(written_block) -> None:
    assert problems(written_block) == []
    # every field but a restore drill's ``restore`` (tests/e2e/test_dynamodb_pitr_drill_e2e.py)
    # and a scenario's ``services`` (tests/probes/test_scenario_measure.py) and the DR
    # drill's ``runbook`` and ``failback``, which its control adds
    # (tests/e2e/test_region_failover_drill_e2e.py); ``scenario`` is there: a fault was stamped
    optional = {"restore", "services", "runbook", "failback"}
    assert set(written_block) == set(get_type_hints(RecoveryBlock)) - optional
    assert written_block["rto"]["measured_s"] > 0 and written_block["fault"]["reverted_at"]


def test_a_renamed_or_mistyped_field_is_a_problem(written_block) -> None:
    renamed = copy.deepcopy(written_block)
    renamed["rto"]["measured"] = renamed["rto"].pop("measured_s")
    renamed["rpo"]["lost"] = "none"
    assert problems(renamed) == [
        "recovery.rto.measured_s: missing",
        "recovery.rto.measured: not in the schema",
        "recovery.rpo.lost: 'none' is not an integer",
    ]


def test_a_block_written_after_a_failure_validates() -> None:
    assert problems({"service": "x", "errors": ["could not build: boom"]}) == []


def test_readers_cannot_name_a_field_the_schema_does_not_hold() -> None:
    assert field("rto", "by_sampler", "api", "judge") == ("rto", "by_sampler", "api", "judge")
    with pytest.raises(KeyError, match="recovery.rto has no field 'measured'"):
        recovery_value({"rto": {"measured": 1}}, "rto", "measured")
    with pytest.raises(KeyError, match="recovery.service is a value"):
        field("service", "name")


class Recording(dict):
    """A journal object that records the path of every key read from it."""

    def __init__(self, data: dict[str, Any], path: tuple[str, ...], reads: set) -> None:
        super().__init__(data)
        self._path, self._reads = path, reads

    def _wrap(self, key: Any, value: Any) -> Any:
        if isinstance(value, dict) and not isinstance(value, Recording):
            value = Recording(value, (*self._path, key), self._reads)
            dict.__setitem__(self, key, value)
        return value

    def __getitem__(self, key: Any) -> Any:
        self._reads.add((*self._path, key))
        return self._wrap(key, dict.__getitem__(self, key))

    def get(self, key: Any, default: Any = None) -> Any:
        self._reads.add((*self._path, key))
        return self._wrap(key, dict.get(self, key, default)) if key in self.keys() else default

    def __contains__(self, key: object) -> bool:
        self._reads.add((*self._path, key))
        return dict.__contains__(self, key)


#: what the HTML report, JUnit and the metrics display of a run, by recovery path
DISPLAYED = {
    ("service",),
    ("target", "rto_s"),
    ("target", "rpo_s"),
    ("target", "file"),
    ("fault", "name"),
    ("fault", "injected_at"),
    ("fault", "reverted_at"),
    ("rto", "measured_s"),
    ("rto", "resolution_s"),
    ("rto", "met"),
    ("rto", "reason"),
    ("rto", "phases"),
    ("rto", "outage_started_at"),
    ("rto", "recovered_at"),
    ("rpo", "measured_s"),
    ("rpo", "written"),
    ("rpo", "acknowledged"),
    ("rpo", "lost"),
    ("rpo", "reason"),
    ("replication_lag_s",),
    ("availability", "series"),
    ("availability", "samples"),
    ("availability", "ok"),
    ("availability", "ratio"),
    ("environment", "target"),
    ("environment", "region"),
    ("environment", "account"),
    ("errors",),
}


def test_reports_read_every_displayed_field_through_the_schema(written_block, monkeypatch) -> None:
    data = json.loads(JOURNAL.read_text())
    reads: set[tuple[str, ...]] = set()
    data["recovery"] = Recording(written_block, (), reads)
    journal = Journal(source=str(JOURNAL), data=data)
    # the outputs mask a copy of the journal first: read the recording journal itself
    monkeypatch.setattr(html, "mask_journals", lambda items, **_: as_journals(items))
    page = html.build_report_html([journal])
    summary = summarise(journal)
    build_junit([copy.deepcopy(journal.data)])
    assert "RTO" in page and summary.rto.measured_s == written_block["rto"]["measured_s"]
    outside = sorted(path for path in reads if not is_field(*path))
    assert outside == []
    assert DISPLAYED <= reads, sorted(DISPLAYED - reads)
