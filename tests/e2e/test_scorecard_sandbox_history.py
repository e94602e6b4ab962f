"""The DR plan's scorecard on a history of REAL sandbox runs placed on simulated dates.

Three real ``gameday run --sandbox`` batches (one session-scoped fixture, about a
minute): the default settings; a targets file that tightens the Route 53 failover
target (a real miss, judged by the run itself); a slower emulated AWS (``--time-scale``
0.1 instead of the demo's 0.05: the RDS failover window doubles, a real regression).
Each journal is then moved to a simulated date by ``tests.helpers.redate`` (every
timestamp shifted alike; figures untouched). As of 2026-12-01 the history holds:
met (DynamoDB), missed and overdue (Route 53 Failover, quarterly, last run 07-15), a
regression (RDS Failover: met on 10-05, slower on 11-20, next due 12-20), never tested
(ticket-api and the Full DR Drill, whose experiments did not run). Every figure
asserted is read from the journals the runs wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.cli import main as gameday
from reports.journal import load_journals
from reports.plan import load_plan
from reports.scorecard import Scorecard, ScoreRow, build_scorecard
from reports.verdicts import format_seconds
from tests.helpers import REPO
from tests.helpers.redate import redate_journal

pytestmark = pytest.mark.e2e
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TIGHT_ROUTE53_RTO_S = 2.0  # the demo-scale Route 53 failover takes ~6 s: a real miss


@dataclass(frozen=True)
class Batch:
    name: str
    experiments: tuple[str, ...]
    dates: dict[str, str]  # experiment -> simulated start (ISO, UTC)
    options: tuple[str, ...] = ()  # more `gameday run` options (formatted with the folder)


BATCHES = (
    Batch(
        "baseline",
        ("rds-forced-failover", "dynamodb-replica-conflict"),
        {
            "rds-forced-failover": "2026-10-05T02:00:00+00:00",
            "dynamodb-replica-conflict": "2026-11-25T02:00:00+00:00",
        },
    ),
    Batch(
        "tight-route53-target",
        ("healthcheck-path-block",),
        {"healthcheck-path-block": "2026-07-15T02:00:00+00:00"},
        ("--var-file", "{folder}/tight-targets.json"),
    ),
    Batch(
        "slower-aws",
        ("rds-forced-failover",),
        {"rds-forced-failover": "2026-11-20T02:00:00+00:00"},
        ("--time-scale", "0.1"),
    ),
)


def _tight_targets(folder: Path) -> None:
    """A targets file (the plan's, Route 53 tightened) and the var file that selects it."""
    plan = yaml.safe_load((REPO / "experiments" / "targets.yaml").read_text())
    plan["services"]["route53-failover"]["rto_s"] = TIGHT_ROUTE53_RTO_S
    targets = folder / "tight-targets.yaml"
    targets.write_text(yaml.safe_dump(plan, sort_keys=False))
    var_file = {"configuration": {"targets_file": str(targets)}}
    (folder / "tight-targets.json").write_text(json.dumps(var_file))


@pytest.fixture(scope="session")
def sandbox_history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real runs, their journals as written, and the history of them on simulated dates."""
    folder = tmp_path_factory.mktemp("scorecard-runs")
    _tight_targets(folder)
    tmpdir = folder / "tmp"  # only what these runs start is looked at
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    env["TMPDIR"] = str(tmpdir)
    history = folder / "history"
    history.mkdir()
    written: dict[str, dict[str, Any]] = {}  # "<batch>/<experiment>" -> journal as run
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    for batch in BATCHES:
        out = folder / batch.name
        options = [o.format(folder=folder) for o in batch.options]
        outputs[batch.name] = subprocess.run(
            [sys.executable, "-m", "gameday", "run", "--sandbox", "--out", str(out)]
            + options
            + list(batch.experiments),
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        for name in batch.experiments:
            path = out / f"{name}.journal.json"
            assert path.exists(), outputs[batch.name].stderr[-3000:]
            journal = json.loads(path.read_text())
            written[f"{batch.name}/{name}"] = journal
            moved = redate_journal(journal, datetime.fromisoformat(batch.dates[name]))
            stamp = datetime.fromisoformat(batch.dates[name]).strftime("%Y%m%dT%H%M%S")
            (history / f"{stamp}-{name}.journal.json").write_text(json.dumps(moved))
    return {"history": history, "journals": written, "outputs": outputs}


@pytest.fixture(scope="session")
def card(sandbox_history: dict[str, Any]) -> Scorecard:
    journals, errors = load_journals([sandbox_history["history"]])
    assert errors == [] and len(journals) == 4
    return build_scorecard(journals, load_plan(), now=NOW)


def _row(card: Scorecard, name: str) -> ScoreRow:
    (row,) = [r for r in card.rows if r.name == name]
    return row


def _figure(journal: dict[str, Any], name: str) -> tuple[float, float, float]:
    block = journal["recovery"][name]
    return block["measured_s"], journal["recovery"]["target"][f"{name}_s"], block["resolution_s"]


def test_the_runs_really_ran_and_judged_themselves(sandbox_history: dict[str, Any]) -> None:
    outputs, journals = sandbox_history["outputs"], sandbox_history["journals"]
    assert outputs["baseline"].returncode == 0, outputs["baseline"].stderr[-3000:]
    assert outputs["slower-aws"].returncode == 0, outputs["slower-aws"].stderr[-3000:]
    assert outputs["tight-route53-target"].returncode == 1  # the missed target fails the run
    for key, journal in journals.items():
        assert journal["status"] == "completed", key
        assert journal["recovery"]["environment"]["target"] == "sandbox"
        assert journal["safety"]["all_reverted"] is True, key
    tight = journals["tight-route53-target/healthcheck-path-block"]["recovery"]
    assert tight["target"]["rto_s"] == TIGHT_ROUTE53_RTO_S
    assert tight["target"]["file"].endswith("tight-targets.yaml")
    assert tight["rto"]["measured_s"] > TIGHT_ROUTE53_RTO_S and tight["rto"]["met"] is False


def test_redating_moves_every_stamp_and_keeps_every_figure(sandbox_history: dict) -> None:
    raw = sandbox_history["journals"]["baseline/rds-forced-failover"]
    (moved_path,) = sandbox_history["history"].glob("20261005T020000-rds-forced-failover*")
    moved = json.loads(moved_path.read_text())
    # on the simulated date, within its second; chaoslib's own format kept
    assert moved["start"] == "2026-10-05T02:00:00" + raw["start"][19:]
    delta = datetime.fromisoformat(moved["start"]) - datetime.fromisoformat(raw["start"])
    for path in (
        ("end",),
        ("recovery", "fault", "injected_at"),
        ("recovery", "rto", "recovered_at"),
    ):
        before, after = raw, moved
        for key in path:
            before, after = before[key], after[key]
        shifted = datetime.fromisoformat(before.replace("Z", "+00:00")) + delta
        assert datetime.fromisoformat(after.replace("Z", "+00:00")) == shifted, path
    assert moved["recovery"]["rto"] == {
        **raw["recovery"]["rto"],
        "outage_started_at": moved["recovery"]["rto"]["outage_started_at"],
        "recovered_at": moved["recovery"]["rto"]["recovered_at"],
    }
    assert (
        moved["duration"] == raw["duration"] and moved["recovery"]["rpo"] == raw["recovery"]["rpo"]
    )


def test_a_regression_on_real_runs_and_the_next_due_date(card: Scorecard, sandbox_history) -> None:
    journals = sandbox_history["journals"]
    then_rto, _, then_res = _figure(journals["baseline/rds-forced-failover"], "rto")
    now_rto, target, now_res = _figure(journals["slower-aws/rds-forced-failover"], "rto")
    # a twice slower emulated failover: worse beyond the resolution
    assert now_rto - then_rto > max(then_res, now_res)
    for name in ("rds-analytics", "RDS Failover"):
        row = _row(card, name)
        assert row.last is not None and row.rto is not None
        assert row.runs == 2 and row.verdict == "targets met"
        assert row.last.started_at.date() == date(2026, 11, 20)
        assert row.last.environment == "sandbox"
        assert (row.rto.measured_s, row.rto.target_s, row.rto.met) == (now_rto, target, True)
        assert row.trend == "worse"
        resolution = format_seconds(max(then_res, now_res), minutes=False)
        assert row.trend_detail.startswith(
            f"RTO {format_seconds(now_rto, minutes=False)} vs "
            f"{format_seconds(then_rto, minutes=False)} on 2026-10-05 (±{resolution})"
        )
        assert row.status == "due 2026-12-20" and row.next_due == date(2026, 12, 20)


def test_missed_and_overdue_on_a_real_run(card: Scorecard, sandbox_history) -> None:
    journal = sandbox_history["journals"]["tight-route53-target/healthcheck-path-block"]
    measured, target, _ = _figure(journal, "rto")
    for name in ("route53-failover", "Route 53 Failover"):
        row = _row(card, name)
        assert row.rto is not None and row.verdict == "target missed"
        assert (row.rto.measured_s, row.rto.target_s, row.rto.met) == (measured, target, False)
        assert row.last_executed == date(2026, 7, 15)  # a miss is an execution of the test
        assert row.status == "overdue since 2026-10-15 (47 days)"


def test_met_outside_the_schedule_never_tested_and_coverage(
    card: Scorecard, sandbox_history
) -> None:
    journal = sandbox_history["journals"]["baseline/dynamodb-replica-conflict"]
    dynamodb = _row(card, "dynamodb")
    assert dynamodb.verdict == "targets met" and dynamodb.trend == "—"
    assert dynamodb.rto is not None and dynamodb.rpo is not None
    assert dynamodb.rpo.measured_s == journal["recovery"]["rpo"]["measured_s"]
    assert dynamodb.rto.measured_s == journal["recovery"]["rto"]["measured_s"]
    assert dynamodb.status == "tested; not in the testing schedule"
    ticket = _row(card, "ticket-api")
    assert (
        ticket.experiments
        == [
            "az-nacl-blackhole",
            "az-power-interruption",
            "ec2-stop-instances",
            "fis-az-disrupt-connectivity",
            "region-failover-drill",
        ]
        and ticket.status == "never tested"
    )
    assert _row(card, "Full DR Drill").status == "never tested"
    assert _row(card, "Runbook Review").status == "never tested (no experiment yet)"
    assert card.runs == 4 and card.covered == 3
    assert card.coverage == "3 of 14 services in the plan have a measured verdict (21%)"


def test_gameday_scorecard_reads_the_real_history(sandbox_history, capsys) -> None:
    assert gameday(["scorecard", str(sandbox_history["history"]), "--now", "2026-12-01"]) == 0
    out = capsys.readouterr().out
    route53 = next(line for line in out.splitlines() if line.startswith("[test] Route 53 Failover"))
    assert "2026-07-15 sandbox" in route53 and "overdue since 2026-10-15 (47 days)" in route53
    rds = next(line for line in out.splitlines() if line.startswith("[test] RDS Failover"))
    assert "worse" in rds and "due 2026-12-20" in rds


def test_the_review_sentences_of_a_real_conflict_run(sandbox_history) -> None:
    """The findings of a real DynamoDB conflict run say what its journal counted."""
    from reports.journal import Journal
    from reports.review import findings
    from reports.verdicts import summarise

    journal = sandbox_history["journals"]["baseline/dynamodb-replica-conflict"]
    conflict = journal["recovery"]["fault"]["detail"]["conflict"]
    said = findings(summarise(Journal("dynamodb-replica-conflict.journal.json", journal)))
    assert said[0].startswith("SANDBOX run")
    lost, acked = conflict["lost"], conflict["acknowledged"]
    verb = "was" if lost == 1 else "were"
    noun = "acknowledged write" if lost == 1 else "acknowledged writes"
    assert (
        f"{lost} {noun} (of {acked} concurrent from {len(conflict['regions'])} regions) "
        f"{verb} silently overwritten by last-writer-wins."
    ) in said
    assert said[-1] == "The fault was reverted; 0 leftovers."
