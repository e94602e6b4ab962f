"""gameday's runner never leaves a chaos process behind, even one that ignores SIGINT."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gameday import runner


def test_a_run_that_ignores_the_interrupt_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stubborn = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"
    monkeypatch.setattr(runner, "_chaos_command", lambda *_: [sys.executable, "-c", stubborn])
    monkeypatch.setattr(runner, "UNDO_GRACE_S", 0.5)

    outcome = runner.run_experiment("stubborn", tmp_path / "x.yaml", tmp_path, [], timeout_s=2.0)

    assert outcome.exit_code == -9
    assert outcome.status == "no journal"
    assert outcome.elapsed_s < 30
