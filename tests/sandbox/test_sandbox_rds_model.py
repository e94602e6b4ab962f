"""The RDS failover model of the sandbox, without moto: windows, transitions, listeners."""

from __future__ import annotations

import threading

import pytest

from sandbox.rds.failover import (
    INSTANCE_FAILOVER_SECONDS,
    ChangeListeners,
    FailoverWindows,
    PendingWindows,
    other_az,
)


def test_windows_are_the_published_figures_times_the_scale() -> None:
    windows = FailoverWindows.scaled(time_scale=0.01)
    assert INSTANCE_FAILOVER_SECONDS == 90.0
    assert windows.instance_failover == pytest.approx(0.9)
    assert windows.cluster_failover == pytest.approx(0.3)
    assert windows.reboot == pytest.approx(0.6)
    with pytest.raises(ValueError, match="time_scale > 0"):
        FailoverWindows.scaled(time_scale=0)
    with pytest.raises(ValueError, match="windows must be >= 0"):
        FailoverWindows.scaled(failover_seconds=-1)


def test_the_standby_az_is_the_other_letter_of_the_region() -> None:
    assert other_az("eu-south-1a") == "eu-south-1b"
    assert other_az("eu-south-1b") == "eu-south-1a"
    assert other_az("eu-south-1c") == "eu-south-1a"


def _windows() -> tuple[PendingWindows, list[str]]:
    ended: list[str] = []
    return PendingWindows(threading.RLock(), on_end=ended.append), ended


def test_a_window_ends_by_itself_running_its_finish_step_once() -> None:
    windows, ended = _windows()
    finished: list[str] = []
    windows.begin("db-1", 0.05, lambda: finished.append("db-1"))
    assert windows.is_pending("db-1")
    assert windows.wait_idle(timeout=5)
    assert not windows.is_pending("db-1")
    assert finished == ["db-1"]
    assert ended == ["db-1"]
    windows.settle()  # nothing pending: nothing runs again
    assert finished == ["db-1"] and ended == ["db-1"]


def test_settle_ends_every_pending_window_at_once() -> None:
    windows, ended = _windows()
    finished: list[str] = []
    for db_id in ("db-1", "db-2"):
        windows.begin(db_id, 60.0, lambda db_id=db_id: finished.append(db_id))
    assert not windows.wait_idle(timeout=0.01)
    windows.settle()
    assert sorted(finished) == ["db-1", "db-2"]
    assert sorted(ended) == ["db-1", "db-2"]
    assert windows.wait_idle(timeout=0.01)


def test_a_broken_listener_does_not_stop_the_others() -> None:
    listeners = ChangeListeners()
    heard: list[tuple[str, bool, str]] = []

    def broken(*_: object) -> None:
        raise RuntimeError("listener bug")

    listeners.add(broken)
    remove = listeners.add(lambda *change: heard.append(change))
    listeners.notify("db-1", False, "eu-south-1a")
    remove()
    listeners.notify("db-1", True, "eu-south-1b")
    assert heard == [("db-1", False, "eu-south-1a")]
