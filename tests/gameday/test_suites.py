"""``gameday run --suite``: which experiments each suite runs (default unchanged: the
four faults), and the one-line refusals."""

from __future__ import annotations

from typing import Any

import pytest

from gameday import gamedayrun
from gameday.catalog import DEFAULT_EXPERIMENTS, DRILL_EXPERIMENTS, EXPERIMENTS, SUITES
from gameday.cli import main as gameday

FOUR = (
    "az-nacl-blackhole",
    "rds-forced-failover",
    "healthcheck-path-block",
    "dynamodb-replica-conflict",
)


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    asked: list[list[str]] = []

    def run_game_day(experiments: list[str], **_: Any) -> int:
        asked.append(list(experiments))
        return 0

    monkeypatch.setattr(gamedayrun, "run_game_day", run_game_day)
    return asked


def test_each_suite_runs_its_experiments(ran: list[list[str]]) -> None:
    assert gameday(["run", "--sandbox"]) == 0
    assert gameday(["run", "--sandbox", "--suite", "default"]) == 0
    assert gameday(["run", "--sandbox", "--suite", "drills"]) == 0
    assert gameday(["run", "--sandbox", "--suite", "all"]) == 0
    assert gameday(["run", "--sandbox", "--suite", "scenarios"]) == 0
    assert ran[0] == []  # no names: run_game_day's default, the four faults
    assert DEFAULT_EXPERIMENTS == FOUR
    assert ran[1] == list(FOUR)
    assert ran[2] == ["rds-restore-drill", "dynamodb-pitr-drill"]
    scenarios = ["az-power-interruption", "region-failover-drill"]
    assert ran[3] == [*FOUR, "rds-restore-drill", "dynamodb-pitr-drill", *scenarios]
    assert ran[4] == scenarios
    assert set(DRILL_EXPERIMENTS) <= set(EXPERIMENTS) and set(SUITES) == {
        "default",
        "drills",
        "scenarios",
        "all",
    }


def test_names_and_a_suite_together_are_refused_in_one_line(
    ran: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert gameday(["run", "--sandbox", "--suite", "drills", "az-nacl-blackhole"]) == 2
    assert capsys.readouterr().err == "gameday: give experiment names or --suite, not both\n"
    with pytest.raises(SystemExit) as bad:
        gameday(["run", "--sandbox", "--suite", "nightly"])
    assert bad.value.code == 2
    assert "invalid choice: 'nightly'" in capsys.readouterr().err
    assert ran == []


def test_sandbox_up_passes_the_backup_interval_to_the_twin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`gameday sandbox up --backup-interval 600`: the twin's backup plan runs every 600 s
    (before scaling), so the backup-copy restore drill has a fresh copy to wait for."""
    import sandbox.server
    from gameday.cli import main

    seen: dict[str, object] = {}

    def fake_run_foreground(**kwargs: object) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(sandbox.server, "run_foreground", fake_run_foreground)
    assert main(["sandbox", "up", "--backup-interval", "600", "--time-scale", "0.1"]) == 0
    assert seen == {"time_scale": 0.1, "backup_interval_seconds": 600.0}
