"""A run that began its undo refuses new changes, and its undo waits for the change under
way: a fault action on another thread (a background activity, or the method while a
stop alarm's undo runs) cannot change AWS behind the undo."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import (
    MutationsClosed,
    close_mutations,
    journaled,
    open_mutations,
    record_intent,
)
from chaosaws_ext.runcontext import RunContext

RECORD: dict[str, Any] = {
    "fault": "test-fault",
    "region": "eu-south-1",
    "resource": "thing",
    "change": "on -> off",
    "undoer": "test.remember",
    "undo_args": {"value": "x"},
    "undo_describe": "turn it back on",
}


def _events(run: RunContext) -> list[str]:
    if not run.ledger_path.exists():
        return []
    return [json.loads(line)["event"] for line in run.ledger_path.read_text().splitlines()]


def test_after_the_undo_began_no_change_is_recorded_or_made(run_context: RunContext) -> None:
    open_mutations()
    journaled(**RECORD, call=lambda: "before")
    assert close_mutations("stop condition: alarm x is in ALARM") == 0
    made: list[str] = []
    with pytest.raises(MutationsClosed) as refused:
        journaled(**RECORD, call=lambda: made.append("after"))
    assert made == []
    assert str(refused.value) == (
        f"test-fault: on -> off: refused, run {run_context.run_id} is undoing its changes "
        "(stop condition: alarm x is in ALARM); nothing was changed"
    )
    with pytest.raises(MutationsClosed):
        record_intent(**RECORD)  # another extension's action, adopted: refused too
    assert _events(run_context) == ["intent", "applied"]  # only the change before


def test_the_undo_waits_for_the_change_under_way(run_context: RunContext) -> None:
    open_mutations()
    in_call, release = threading.Event(), threading.Event()

    def slow_call() -> str:
        in_call.set()
        assert release.wait(10), "never released"
        return "done"

    injector = threading.Thread(target=lambda: journaled(**RECORD, call=slow_call))
    injector.start()
    assert in_call.wait(10)
    left: list[int] = []
    closer = threading.Thread(target=lambda: left.append(close_mutations("ended", wait_s=10)))
    closer.start()
    closer.join(0.5)
    assert closer.is_alive() and left == []  # still waiting for the call under way
    release.set()
    closer.join(10)
    injector.join(10)
    assert left == [0]
    # by the time the undo may start, the change is recorded with its outcome
    assert _events(run_context) == ["intent", "applied"]
    assert [e.resource for e in Ledger(run_context.ledger_path).unreverted()] == ["thing"]


def test_the_wait_is_bounded_and_says_what_is_still_under_way(run_context: RunContext) -> None:
    open_mutations()
    in_call, release = threading.Event(), threading.Event()

    def stuck_call() -> None:
        in_call.set()
        release.wait(10)

    injector = threading.Thread(target=lambda: journaled(**RECORD, call=stuck_call))
    injector.start()
    try:
        assert in_call.wait(10)
        assert close_mutations("ended", wait_s=0.2) == 1
    finally:
        release.set()
        injector.join(10)


def test_a_new_run_with_the_same_id_starts_open(tmp_path) -> None:
    from chaosaws_ext.runcontext import start_run

    configuration = {"chaos_ledger_path": str(tmp_path / "l.jsonl"), "chaos_run_id": "run-same"}
    start_run(configuration, "first")
    open_mutations(configuration)
    close_mutations("ended", configuration)
    start_run(configuration, "second")
    open_mutations(configuration)
    assert journaled(**RECORD, call=lambda: "again", configuration=configuration) == "again"
