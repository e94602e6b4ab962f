"""The ledger never holds a DSN password; the replay (``gameday recover``) finds it again
in the configuration or the environment, against a PostgreSQL that requires it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from chaosaws_ext.controls.measurement import _journal_markers
from chaosaws_ext.core.redaction import restore_dsn_password, strip_dsn_password
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import start_run
from gameday.recover import recover_from_ledger
from probes.markers import PostgresMarkers
from tests.helpers import REPO

ROOT = REPO
ROLE, DATABASE = "gameday_pw_role", "gameday_pw_db"
PASSWORD = f"pw-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize(
    "dsn, stripped",
    [
        ("postgresql://app:s3cr%40t@db:5432/a", "postgresql://app@db:5432/a"),
        ("host=db user=app password=hunter2 dbname=x", "host=db user=app dbname=x"),
        ("host=db password='a b' user=app", "host=db user=app"),
        (
            "postgresql://app@db/a?password=pw&sslmode=require",
            "postgresql://app@db/a?sslmode=require",
        ),
        ("postgresql://app@db/a", "postgresql://app@db/a"),
    ],
)
def test_strip_dsn_password(dsn: str, stripped: str) -> None:
    assert strip_dsn_password(dsn) == stripped


def test_restore_finds_the_full_dsn_in_configuration_secrets_or_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    full = "postgresql://app:pw-1@db:5432/a"
    stored = strip_dsn_password(full)
    assert restore_dsn_password(stored, {"db_dsn": full}) == full
    assert restore_dsn_password(stored, {}, {"db": {"dsn": full}}) == full
    monkeypatch.setenv("SOME_DSN", full)
    assert restore_dsn_password(stored, {}) == full
    monkeypatch.delenv("SOME_DSN")
    # another database's DSN is not taken for this one
    assert restore_dsn_password(stored, {"x": "postgresql://app:pw-2@other:5432/a"}) == stored


@pytest.fixture(scope="module")
def password_dsn(postgres_dsn: str) -> Iterator[str]:
    """A role of the session's PostgreSQL that must give its password (scram)."""
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"DROP ROLE IF EXISTS {ROLE}")
        conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        conn.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
        socket_dir = conn.info.host
        original = hba.read_text()
        rule = f"local all {ROLE} scram-sha-256\nhost all {ROLE} 0.0.0.0/0 scram-sha-256\n"
        hba.write_text(rule + original)  # first match wins: only this role is affected
        conn.execute("SELECT pg_reload_conf()")
    yield f"postgresql://{ROLE}:{PASSWORD}@/{DATABASE}?host={socket_dir}"
    hba.write_text(original)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"DROP ROLE IF EXISTS {ROLE}")


def _crashed_run(tmp_path: Path, dsn: str, run_id: str) -> Path:
    """A run that ledgered its markers, wrote three and was killed."""
    ledger = tmp_path / f"{run_id}.jsonl"
    configuration = {"chaos_ledger_path": str(ledger), "chaos_run_id": run_id}
    start_run(configuration, "rds-forced-failover")
    _journal_markers({"kind": "postgres", "dsn": dsn, "table": "gameday_markers"}, configuration)
    markers = PostgresMarkers(dsn)
    markers.prepare()
    for seq in range(3):
        markers.write(run_id, seq, "2026-12-01T00:00:00Z", timeout=5)
    return ledger


def _count(dsn: str, run_id: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM gameday_markers WHERE run_id = %s", (run_id,))
        return int(row.fetchone()[0])


def test_the_password_is_required(password_dsn: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(strip_dsn_password(password_dsn), connect_timeout=5).close()


def test_recover_rereads_the_password_from_configuration(
    password_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    ledger = _crashed_run(tmp_path, password_dsn, "run-cfg")
    assert PASSWORD not in ledger.read_text()
    assert strip_dsn_password(password_dsn) in ledger.read_text()

    without = recover_from_ledger(ledger, {})  # nowhere to find the password: it fails
    assert len(without["left"]) == 1 and _count(password_dsn, "run-cfg") == 3

    outcome = recover_from_ledger(ledger, {"db_dsn": password_dsn})
    assert outcome["left"] == [] and outcome["results"][0]["detail"] == {"deleted": 3}
    assert _count(password_dsn, "run-cfg") == 0
    assert PASSWORD not in ledger.read_text()


def test_gameday_recover_rereads_the_password_from_the_environment(
    password_dsn: str, tmp_path: Path
) -> None:
    ledger = _crashed_run(tmp_path, password_dsn, "run-env")
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    env["GAMEDAY_DB_DSN"] = password_dsn
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "recover", "--ledger", str(ledger)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 unreverted entry found, 0 left" in done.stdout
    assert _count(password_dsn, "run-env") == 0
    assert PASSWORD not in done.stdout + done.stderr + ledger.read_text()
    assert Ledger(ledger).unreverted() == []
