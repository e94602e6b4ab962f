"""gameday's runner never leaves a chaos process behind, even one that ignores SIGINT,
and a cancelled game day stops: no fault after the signal, every undo finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaosaws_ext.ledger import Ledger
from gameday import runner
from gameday.gamedayrun import _refuse_leftovers
from tests.helpers import REPO

ROOT = REPO


def test_a_run_that_ignores_the_interrupt_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    )
    monkeypatch.setattr(runner, "_chaos_command", lambda *_: [sys.executable, "-c", stubborn])
    monkeypatch.setattr(runner, "UNDO_GRACE_S", 0.5)

    outcome = runner.run_experiment("stubborn", tmp_path / "x.yaml", tmp_path, [], timeout_s=2.0)

    assert outcome.exit_code == -9
    assert outcome.status == "no journal"
    assert outcome.elapsed_s < 30


def _entry_line(run_id: str) -> str:
    return json.dumps(
        {"event": "intent", "id": "e1", "at": "2026-01-01T00:00:00Z", "run_id": run_id,
         "experiment": "x", "fault": "f", "region": "eu-south-1", "resource": "acl-1",
         "change": "swap", "undo": {"undoer": "u", "args": {}, "describe": "back"}}
    )  # fmt: skip


def test_the_ledger_of_a_gone_sandbox_does_not_block_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(_entry_line("run-1") + "\n")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "ledger.jsonl.sandbox").write_text(
        json.dumps({"sandbox": "http://127.0.0.1:1", "pid": dead.pid})
    )
    assert Ledger(ledger).unreverted()

    _refuse_leftovers(ledger)  # does not raise

    assert not ledger.exists()
    kept = list(tmp_path.glob("ledger.sandbox-*.jsonl"))
    assert len(kept) == 1 and Ledger(kept[0]).unreverted()
    err = capsys.readouterr().err
    assert "1 unreverted change(s)" in err and "which is gone with its resources" in err


def _sandbox_dirs(tmp: Path) -> set[str]:
    """The sandbox folders under ``tmp``: the gameday under test gets its own TMPDIR, so
    other sandboxes on this machine are not counted."""
    return {p.name for p in tmp.glob("gameday-sandbox-*")}


def _private_env(tmp: Path) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    env["TMPDIR"] = str(tmp)
    return env


def _descendants_of(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _wait(check, bound: float) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def _applied_faults(ledger: Path) -> list:
    if not ledger.exists():
        return []
    try:
        return [e for e in Ledger(ledger).entries() if e.outcome == "applied"]
    except Exception:  # noqa: BLE001 - a line being written
        return []


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_cancelled_sandbox_game_day_injects_nothing_more(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "out"
    env = _private_env(tmp_path / "tmp")
    process = subprocess.Popen(
        [sys.executable, "-m", "gameday", "run", "--sandbox", "--out", str(out),
         "healthcheck-path-block", "az-nacl-blackhole", "dynamodb-replica-conflict"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    ledger = out / "ledger.jsonl"
    try:
        if not _wait(lambda: _applied_faults(ledger), 120):
            process.kill()
            raise AssertionError("no fault was injected: " + process.communicate()[1][-3000:])
        children = _descendants_of(process.pid)
        process.send_signal(sig)
        signalled_at = time.time()
        time.sleep(0.3)
        process.send_signal(sig)  # a second signal during the undo does not abandon it
        stdout, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + sig, stderr[-3000:]
    entries = Ledger(ledger).entries()
    assert {e.run_id for e in entries} == {entries[0].run_id}  # one experiment ran
    assert all(e.reverted for e in entries), [e.describe() for e in entries]
    after = [e for e in entries if e.recorded_at > time.strftime(
        "%Y-%m-%dT%H:%M:%S", time.gmtime(signalled_at + 1))]  # fmt: skip
    assert after == []
    rows = {line.split()[0]: line for line in stdout.splitlines() if line.strip()}
    assert "CANCELLED" in rows["healthcheck-path-block"]
    assert "NOT STARTED" in rows["az-nacl-blackhole"]
    assert "NOT STARTED" in rows["dynamodb-replica-conflict"]
    assert f"cancelled by {signal.Signals(sig).name}: 2 experiment(s) not started" in stderr
    assert (out / "healthcheck-path-block.journal.json").exists()
    assert not (out / "az-nacl-blackhole.journal.json").exists()
    assert _sandbox_dirs(tmp_path / "tmp") == set()  # the sandbox's folder is gone
    assert _wait(lambda: not [c for c in children if Path(f"/proc/{c}").exists()], 10)


@pytest.mark.e2e
def test_a_signal_during_sandbox_start_up_cleans_up(tmp_path: Path) -> None:
    env = _private_env(tmp_path / "tmp")
    process = subprocess.Popen(
        [sys.executable, "-m", "gameday", "run", "--sandbox", "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert _wait(lambda: bool(_sandbox_dirs(tmp_path / "tmp")), 60), "no sandbox started"
        time.sleep(0.2)  # inside the start-up: its folder created, processes starting
        children = _descendants_of(process.pid)
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "SIGTERM during sandbox start-up: stopped and cleaned up" in stderr
    assert _sandbox_dirs(tmp_path / "tmp") == set()
    assert _wait(lambda: not [c for c in children if Path(f"/proc/{c}").exists()], 10)
