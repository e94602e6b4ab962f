from __future__ import annotations

import json

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext import undo
from chaosaws_ext.ledger import Ledger, LedgerError
from chaosaws_ext.mutation import journaled
from chaosaws_ext.runcontext import RunContext

calls: list[dict] = []


@undo.undoer("test.remember")
def _remember(value: str, configuration=None, secrets=None, region=None) -> str:
    calls.append({"value": value, "region": region})
    return f"undid {value}"


@undo.undoer("test.broken")
def _broken(configuration=None, secrets=None, region=None) -> None:
    raise RuntimeError("resource is stuck")


def _journal(run: RunContext, value: str, undoer: str = "test.remember") -> str:
    return journaled(
        fault="test-fault",
        region="eu-south-1",
        resource=f"thing-{value}",
        change="on -> off",
        undoer=undoer,
        undo_args={"value": value} if undoer == "test.remember" else {},
        undo_describe="turn it back on",
        call=lambda: value,
    )


def test_intent_is_written_before_the_call_and_outcome_after(run_context: RunContext) -> None:
    seen_in_call: list[int] = []

    def call() -> str:
        seen_in_call.append(len(run_context.ledger_path.read_text().splitlines()))
        return "done"

    journaled(
        fault="f",
        region="r",
        resource="x",
        change="c",
        undoer="test.remember",
        undo_args={"value": "x"},
        undo_describe="d",
        call=call,
    )
    lines = [json.loads(line) for line in run_context.ledger_path.read_text().splitlines()]
    assert seen_in_call == [1]
    assert [line["event"] for line in lines] == ["intent", "applied"]
    assert lines[0]["undo"] == {"undoer": "test.remember", "args": {"value": "x"}, "describe": "d"}


def test_failed_call_is_still_unreverted(run_context: RunContext) -> None:
    def call() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        journaled(
            fault="f",
            region="r",
            resource="x",
            change="c",
            undoer="test.remember",
            undo_args={"value": "x"},
            undo_describe="d",
            call=call,
        )
    (entry,) = Ledger(run_context.ledger_path).unreverted()
    assert entry.outcome == "failed"


def test_replay_undoes_newest_first_once(run_context: RunContext) -> None:
    calls.clear()
    for value in ("a", "b", "c"):
        _journal(run_context, value)
    result = undo.revert_faults(fault="test-fault")
    assert result["reverted"] == 3
    assert [c["value"] for c in calls] == ["c", "b", "a"]
    assert calls[0]["region"] == "eu-south-1"
    again = undo.revert_faults(fault="test-fault")
    assert again["reverted"] == 0
    assert len(calls) == 3


def test_failed_undo_stays_unreverted_and_names_the_resource(run_context: RunContext) -> None:
    calls.clear()
    _journal(run_context, "ok")
    _journal(run_context, "x", undoer="test.broken")
    with pytest.raises(ActivityFailed, match="thing-x: resource is stuck"):
        undo.revert_faults()
    (left,) = Ledger(run_context.ledger_path).unreverted()
    assert left.resource == "thing-x"
    assert [c["value"] for c in calls] == ["ok"]


def test_torn_last_line_is_ignored_but_corruption_elsewhere_is_an_error(tmp_path) -> None:
    path = tmp_path / "l.jsonl"
    ledger = Ledger(path)
    ledger.record(
        run_id="r",
        experiment="e",
        fault="f",
        region="x",
        resource="res",
        change="c",
        undoer="test.remember",
        undo_args={},
        undo_describe="d",
    )
    with path.open("a") as handle:
        handle.write('{"event": "appl')
    assert len(ledger.unreverted()) == 1
    path.write_text("garbage\n" + path.read_text())
    with pytest.raises(LedgerError, match="line 1 is not JSON"):
        ledger.entries()


def test_a_record_written_after_a_torn_line_is_not_lost(tmp_path) -> None:
    path = tmp_path / "l.jsonl"
    ledger = Ledger(path)
    common = dict(
        run_id="r",
        experiment="e",
        fault="f",
        region="x",
        change="c",
        undoer="test.remember",
        undo_args={},
        undo_describe="d",
    )
    first = ledger.record(resource="before-crash", **common)
    with path.open("a") as handle:
        handle.write('{"event": "reverted", "id": "' + first[:4])  # killed mid-write
    second = ledger.record(resource="after-crash", **common)
    ledger.outcome(second, ok=True)
    entries = {e.resource: e for e in ledger.entries()}
    assert set(entries) == {"before-crash", "after-crash"}
    assert entries["after-crash"].outcome == "applied"
    assert [e.resource for e in ledger.unreverted()] == ["before-crash", "after-crash"]
