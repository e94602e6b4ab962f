"""What a stranger meets on a first run: the sandbox starts whatever TMPDIR is, a part
that fails to start is one line naming it, and a run without a journal says why."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from chaosaws_ext.ledger import Ledger
from gameday.runner import RunOutcome
from gameday.summary import no_journal_reason, reverted_of, summary_table
from sandbox.dataplane.postgres import SOCKET_PATH_LIMIT, PostgresBackend
from sandbox.server import Sandbox, SandboxStartError
from tests.helpers import REPO

ROOT = REPO


@pytest.fixture
def long_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TMPDIR as long as a CI runner's: pgserver alone cannot fit its socket there."""
    folder = tmp_path / ("runner-temp-folder-" * 5)
    folder.mkdir()
    assert len(str(folder)) + len("/0123456789/.s.PGSQL.5432") > SOCKET_PATH_LIMIT
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    return folder


def test_postgres_starts_under_a_long_tmpdir(long_tmpdir: Path) -> None:
    backend = PostgresBackend(long_tmpdir / "pgdata")
    socket_path = backend.start()
    try:
        assert len(socket_path) <= SOCKET_PATH_LIMIT
        with psycopg.connect(backend.dsn, connect_timeout=10) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        backend.stop()
    assert not Path(socket_path).parent.exists()  # its short socket folder is removed


def test_pgserver_imports_without_the_xdg_runtime_warning() -> None:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            "from sandbox.dataplane.postgres import import_pgserver; import_pgserver()",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr


def test_a_part_that_fails_to_start_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sandbox.dataplane.dns import FailoverDnsServer

    def port_taken(self: object) -> None:
        raise OSError("Address already in use\nsecond line")

    monkeypatch.setattr(FailoverDnsServer, "start", port_taken)
    sandbox = Sandbox(time_scale=0.05, with_database=False)
    with pytest.raises(SandboxStartError) as caught:
        sandbox.start()
    assert str(caught.value) == "sandbox: the DNS server failed to start: Address already in use"
    # what it had started is stopped: a new sandbox starts in this process
    assert sandbox._stack is None


def _outcome(tmp_path: Path, log_text: str | None, exit_code: int, run_id: str) -> RunOutcome:
    log = tmp_path / "x.chaos.log"
    if log_text is not None:
        log.write_text(log_text)
    return RunOutcome("x", tmp_path / "x.journal.json", log, exit_code, run_id)


def test_a_run_without_journal_names_chaos_first_error(tmp_path: Path) -> None:
    outcome = _outcome(
        tmp_path,
        "\x1b[32m[2026-12-01 08:30:13 INFO] [run:100] Validating\x1b[0m\n"
        "\x1b[31m[2026-12-01 08:30:13 ERROR] [activity:268]  => failed: Install the "
        "`jsonpath2` package to use a JSON path tolerance\x1b[0m\n"
        "\x1b[31m[2026-12-01 08:30:14 ERROR] [run:9] later error\x1b[0m\n",
        1,
        "run-1",
    )
    assert no_journal_reason(outcome) == (
        "=> failed: Install the `jsonpath2` package to use a JSON path tolerance"
    )
    table = summary_table([outcome])
    assert "NO JOURNAL" in table
    assert table.splitlines()[-1] == (
        "x: no journal: => failed: Install the `jsonpath2` package to use a JSON path tolerance"
    )
    # nothing was ever applied: the table does not claim "yes"
    assert reverted_of(outcome) == "nothing applied"


def test_a_killed_run_without_log_says_so(tmp_path: Path) -> None:
    outcome = _outcome(tmp_path, None, -9, "run-2")
    assert no_journal_reason(outcome) == (
        "chaos was killed by signal 9, before writing its journal"
    )
    assert no_journal_reason(_outcome(tmp_path, "", 3, "run-3")) == (
        "chaos exited with status 3 without writing a journal"
    )


def test_reverted_says_yes_only_when_the_ledger_holds_undone_changes(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    entry_id = ledger.record(
        run_id="run-4",
        experiment="x",
        fault="f",
        region="eu-south-1",
        resource="r",
        change="c",
        undoer="u",
        undo_args={},
        undo_describe="d",
    )
    outcome = _outcome(tmp_path, "", 0, "run-4")
    outcome.unreverted = [e.describe() for e in ledger.unreverted(run_id="run-4")]
    assert reverted_of(outcome) == "NO (1 left)"
    ledger.mark_reverted(entry_id)
    outcome.unreverted = []
    assert reverted_of(outcome) == "yes"
