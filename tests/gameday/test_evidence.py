"""The evidence pack: manifest of hashes, versions and context, the report printed by
real headless Chromium, and `gameday evidence verify` naming any changed file."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gameday.cli import main as gameday
from gameday.evidence import chromium_executable
from tests.helpers import TESTS
from tests.helpers.journal_history import write_history

SECRET = "wJalrXUtnFEMI-evidence-secret"


@pytest.fixture()
def game_day(tmp_path: Path) -> Path:
    """A game day folder as `gameday run --out` leaves it: journals, ledger, reports,
    history."""
    out = tmp_path / "out"
    write_history(out / "history")
    shutil.copy(
        TESTS / "data" / "journals" / "completed-met.json", out / "rds-forced-failover.journal.json"
    )
    (out / "ledger.jsonl").write_text('{"run_id": "r1", "phase": "intent"}\n')
    (out / "report.html").write_text("<html>the run's report</html>\n")
    (out / "junit.xml").write_text("<testsuites/>\n")
    (out / "rds-forced-failover.chaos.log").write_text("log\n")
    return out


@pytest.fixture()
def no_chromium(monkeypatch) -> None:
    monkeypatch.setenv("GAMEDAY_CHROMIUM", "/nonexistent/chromium")


def _manifest(out: Path) -> dict:
    return json.loads((out / "evidence" / "manifest.json").read_text())


def test_manifest_hashes_every_journal_ledger_report_and_experiment_file(
    game_day: Path, no_chromium, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "sre-alice")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    assert gameday(["evidence", str(game_day), "--now", "2026-12-01"]) == 0
    err = capsys.readouterr().err
    assert "evidence: chromium not installed: no PDF (apt-get install chromium); " in err
    manifest = _manifest(game_day)
    kinds = {item["path"]: item["kind"] for item in manifest["files"]}
    assert kinds["rds-forced-failover.journal.json"] == "journal"
    assert sum(1 for k in kinds.values() if k == "journal") == 7  # 1 + 6 in history
    assert kinds["ledger.jsonl"] == "ledger"
    assert kinds["report.html"] == kinds["junit.xml"] == kinds["evidence/report.html"] == "report"
    assert kinds["evidence/experiments/targets.yaml"] == "targets"
    assert kinds["evidence/experiments/schedule.yaml"] == "schedule"
    assert kinds["evidence/experiments/rds-forced-failover.yaml"] == "experiment"
    assert "rds-forced-failover.chaos.log" not in kinds
    for item in manifest["files"]:
        data = (game_day / item["path"]).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        assert item["bytes"] == len(data)
    assert {"python", "chaostoolkit", "chaostoolkit-lib", "boto3"} <= set(manifest["versions"])
    git = manifest["experiments"]["git"]
    assert git is None or len(git["commit"]) == 40
    context = manifest["context"]
    assert context["accounts"] == ["000000000000"] and context["regions"] == ["eu-south-1"]
    assert context["operator"] == "sre-alice" and context["ci"]["GITHUB_RUN_ID"] == "4242"
    assert manifest["pdf"] == {
        "file": None,
        "chromium": None,
        "note": "chromium not installed: no PDF (apt-get install chromium)",
    }
    assert SECRET not in (game_day / "evidence" / "manifest.json").read_text()


def test_verify_names_every_changed_missing_or_added_file(
    game_day: Path, no_chromium, capsys
) -> None:
    assert gameday(["evidence", str(game_day)]) == 0
    assert gameday(["evidence", "verify", str(game_day)]) == 0
    assert "every file of" in capsys.readouterr().out
    journal = game_day / "history" / "20261120T020000-rds-forced-failover.journal.json"
    data = json.loads(journal.read_text())
    data["recovery"]["rto"]["measured_s"] = 4.0  # a nicer figure than was measured
    journal.write_text(json.dumps(data))
    (game_day / "evidence" / "experiments" / "targets.yaml").unlink()
    shutil.copy(journal, game_day / "history" / "20261201T000000-extra.journal.json")
    assert gameday(["evidence", "verify", str(game_day)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "evidence: 3 file(s) differ from the manifest: NOT VERIFIED"
    assert sorted(lines[:-1]) == [
        "ADDED history/20261201T000000-extra.journal.json (journal): not in the manifest",
        "CHANGED history/20261120T020000-rds-forced-failover.journal.json (journal): "
        "sha256 differs from the manifest",
        "MISSING evidence/experiments/targets.yaml (targets)",
    ]


def test_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    assert gameday(["evidence", "verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"gameday: {tmp_path}/evidence/manifest.json: no manifest "
        f"(run `gameday evidence {tmp_path}` first)"
    )
    assert gameday(["evidence", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"gameday: {tmp_path}: holds no *.journal.json (the --out of a game day)"
    )
    assert not (tmp_path / "evidence").exists()


@pytest.mark.skipif(
    chromium_executable() is None or shutil.which("pdftotext") is None,
    reason="needs chromium and pdftotext (apt-get install chromium poppler-utils)",
)
def test_the_pdf_printed_by_chromium_holds_the_scorecard_and_the_summary(
    game_day: Path, monkeypatch, capsys
) -> None:
    monkeypatch.delenv("GAMEDAY_CHROMIUM", raising=False)
    assert gameday(["evidence", str(game_day), "--now", "2026-12-01"]) == 0
    manifest = _manifest(game_day)
    assert manifest["pdf"]["file"] == "evidence/report.pdf"
    assert manifest["pdf"]["chromium"].startswith("Chromium")
    pdf = game_day / "evidence" / "report.pdf"
    assert "evidence/report.pdf" in {item["path"] for item in manifest["files"]}
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60
    ).stdout
    text = " ".join(text.split())  # table cells wrap: compare words
    scorecard = text.index("DR plan scorecard")
    summary = text.index("Summary")
    assert scorecard < summary
    assert "Coverage: 3 of 14 services in the plan have a measured verdict (21%)" in text
    assert "overdue since" in text and "never tested" in text
    assert "RDS Multi-AZ failover" in text[summary:]  # the run's row in the summary
    assert "SANDBOX" in text
    assert gameday(["evidence", "verify", str(game_day)]) == 0
