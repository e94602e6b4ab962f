"""The DR plan's scorecard on a simulated history: met, missed, never tested, overdue,
a regression; as a table (`gameday scorecard`) and as the first section of the report."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from gameday.cli import main as gameday
from reports.journal import load_journals
from reports.plan import PlanError, load_plan
from reports.scorecard import build_scorecard
from tests.helpers import REPO, TESTS
from tests.helpers.journal_history import NOW, write_history

PLAN_TEST_TYPES = [
    "RDS Failover",
    "Route 53 Failover",
    "Full DR Drill",
    "Backup Restore",
    "Runbook Review",
]


@pytest.fixture()
def history(tmp_path: Path) -> Path:
    return write_history(tmp_path / "history")


@pytest.fixture()
def card(history: Path):
    journals, errors = load_journals([history])
    assert errors == []
    return build_scorecard(journals, load_plan(), now=NOW)


def _row(card, name: str):
    (row,) = [r for r in card.rows if r.name == name]
    return row


def test_one_row_per_service_of_targets_and_per_test_type_of_the_schedule(card) -> None:
    services = yaml.safe_load((REPO / "experiments" / "targets.yaml").read_text())["services"]
    assert [r.name for r in card.services] == list(services)
    assert [r.name for r in card.tests] == PLAN_TEST_TYPES
    assert _row(card, "RDS Failover").experiments == ["rds-forced-failover"]
    assert _row(card, "Route 53 Failover").experiments == ["healthcheck-path-block"]
    assert _row(card, "Backup Restore").experiments == ["dynamodb-pitr-drill"]
    assert _row(card, "Full DR Drill").experiments == ["region-failover-drill"]
    assert _row(card, "Runbook Review").experiments == []
    assert _row(card, "Runbook Review").note == "no experiment carries this test out yet"


def test_met_with_a_regression_beyond_the_resolution_and_the_next_due_date(card) -> None:
    for name in ("rds-analytics", "RDS Failover"):
        row = _row(card, name)
        assert row.verdict == "targets met"
        assert row.last.started_at.date() == date(2026, 11, 20)
        assert row.last.environment == "sandbox"
        assert (row.rto.measured_s, row.rto.target_s, row.rto.met) == (41.25, 300, True)
        assert row.trend == "worse"
        assert row.trend_detail == "RTO 41.25 s vs 12 s on 2026-10-05 (±0.25 s)"
        assert row.frequency == "monthly"
        assert row.next_due == date(2026, 12, 20)
        assert row.status == "due 2026-12-20"


def test_overdue_and_a_failed_run_does_not_count_as_executed(card) -> None:
    for name in ("route53-failover", "Route 53 Failover"):
        row = _row(card, name)
        assert row.last.verdict == "failed"  # the last run, 11-30, reached no verdict
        assert row.last_executed == date(2026, 7, 15)
        assert row.next_due == date(2026, 10, 15)
        assert row.status == "overdue since 2026-10-15 (47 days)"
        assert row.last_measured.started_at.date() == date(2026, 7, 15)


def test_missed_on_aws_and_better_than_the_run_before(card) -> None:
    row = _row(card, "dynamodb")
    assert row.verdict == "target missed"
    assert row.last.environment == "aws"
    assert row.rpo.measured_s == 3.4 and row.rpo.met is False
    assert row.trend == "better"
    assert row.trend_detail.startswith("RTO 47.5 s vs 60 s on 2026-11-01")
    # no test type of the schedule carries out the DynamoDB experiment
    assert row.next_due is None and row.status == "tested; not in the testing schedule"


def test_never_tested_is_said_plainly(card) -> None:
    ticket = _row(card, "ticket-api")
    assert ticket.experiments == [
        "az-nacl-blackhole",
        "az-power-interruption",
        "ec2-stop-instances",
        "fis-az-disrupt-connectivity",
        "region-failover-drill",
    ]
    assert ticket.last is None and ticket.status == "never tested"
    assert ticket.verdict == "never tested"
    assert _row(card, "lambda").status == "never tested (no experiment yet)"
    assert _row(card, "Full DR Drill").status == "never tested"
    assert _row(card, "Full DR Drill").experiments == ["region-failover-drill"]


def test_coverage_counts_services_with_a_measured_verdict(card) -> None:
    assert card.covered == 3  # rds-analytics, route53-failover, dynamodb
    assert card.coverage == "3 of 14 services in the plan have a measured verdict (21%)"


def test_runs_after_today_and_other_environments_are_left_out(history: Path) -> None:
    journals, _ = load_journals([history])
    aws_only = build_scorecard(journals, load_plan(), now=NOW, environment="aws")
    assert _row(aws_only, "rds-analytics").status == "never tested"
    assert _row(aws_only, "dynamodb").verdict == "target missed"
    earlier = build_scorecard(journals, load_plan(), now=NOW.replace(month=10, day=1))
    assert _row(earlier, "RDS Failover").last is None
    assert _row(earlier, "Route 53 Failover").status == "due 2026-10-15"


def test_gameday_scorecard_prints_the_table(history: Path, capsys) -> None:
    assert gameday(["scorecard", str(history), "--now", "2026-12-01"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["row", "experiments"]
    rds = next(line for line in lines if line.startswith("[test] RDS Failover"))
    assert re.search(r"2026-11-20 sandbox\s+41\.25 s / 300 s met .*targets met\s+worse", rds)
    assert "due 2026-12-20" in rds
    route53 = next(line for line in lines if line.startswith("[test] Route 53 Failover"))
    assert "overdue since 2026-10-15 (47 days)" in route53
    assert "41.25 s / 300 s met (measured 2026-07-15)" in route53  # the failed run measured nothing
    drill = next(line for line in lines if line.startswith("[test] Full DR Drill"))
    assert "region-failover-drill" in drill and "never tested" in drill
    review = next(line for line in lines if line.startswith("[test] Runbook Review"))
    assert "none yet" in review and "never tested (no experiment yet)" in review
    assert "coverage: 3 of 14 services in the plan have a measured verdict (21%)" in out
    assert "overdue: route53-failover, Route 53 Failover" in out


def test_gameday_scorecard_html_page(history: Path, tmp_path: Path, capsys) -> None:
    page = tmp_path / "scorecard.html"
    assert gameday(["scorecard", str(history), "--now", "2026-12-01", "-o", str(page)]) == 0
    html = page.read_text()
    assert "<h1>DR plan scorecard</h1>" in html
    assert html.count('data-kind="service"') == 14 and html.count('data-kind="test"') == 5
    assert 'id="summary"' not in html


def test_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    assert gameday(["scorecard", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"scorecard: {tmp_path / 'missing'}: not a folder of journals"
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "targets.yaml").write_text("services: {a: {rto_s: 1, rpo_s: 1}}\n")
    (plan / "schedule.yaml").write_text("tests: [{type: X, frequency: weekly}]\n")
    with pytest.raises(PlanError, match=r"schedule.yaml: test 'X' has frequency 'weekly'"):
        load_plan(plan)
    assert gameday(["scorecard", str(tmp_path), "--experiments-dir", str(plan)]) == 2
    assert "frequency 'weekly' (one of monthly, quarterly" in capsys.readouterr().err


def test_report_with_trend_opens_with_the_scorecard(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    today = TESTS / "data" / "journals" / "completed-met.json"  # 2026-11-28, rds-analytics
    args = ["report", str(today), "--trend", str(history), "--now", "2026-12-01", "-o", str(out)]
    assert gameday(args) == 0
    html = out.read_text()
    sections = re.findall(r'<section class="[^"]+" id="([^"]+)"', html)
    assert sections[:2] == ["scorecard", "summary"]
    assert "Coverage: 3 of 14 services in the plan have a measured verdict (21%)" in html
    rds = re.search(r'<tr class="[^"]*" data-row="RDS Failover".*?</tr>', html, re.S)
    assert rds is not None and "2026-11-28" in rds.group(0)  # today's run is the last run
    assert "overdue since 2026-10-15" in html
    plain = tmp_path / "plain.html"
    assert gameday(["report", str(today), "-o", str(plain)]) == 0
    assert 'id="scorecard"' not in plain.read_text()


def _scenario_journal(analytics_rto: float, analytics_met: bool) -> dict:
    """An az-power-interruption run: the Ticket API its own service, the analytics
    database measured beside it (``recovery.services``) against its own target."""
    import copy
    import json

    journal = json.loads((TESTS / "data" / "journals" / "completed-met.json").read_text())
    journal["experiment"]["title"] = yaml.safe_load(
        (REPO / "experiments" / "az-power-interruption.yaml").read_text()
    )["title"]
    journal["start"] = journal["end"] = "2026-11-29T02:00:00+00:00"
    recovery = journal["recovery"]
    recovery["service"] = "ticket-api"
    analytics = {
        "target": {"rto_s": 300, "rpo_s": 0},
        "rto": {"measured_s": analytics_rto, "resolution_s": 0.5, "met": analytics_met},
        "rpo": {"measured_s": 0.0, "resolution_s": 0.2, "met": True, "written": 40,
                "acknowledged": 40, "lost": 0},
        "fault": recovery["fault"],
        "samplers": ["db"],
        "errors": [],
    }  # fmt: skip
    own = {k: copy.deepcopy(recovery[k]) for k in ("target", "rto", "rpo", "fault")}
    recovery["services"] = {
        "ticket-api": {**own, "samplers": ["api"], "errors": []},
        "rds-analytics": analytics,
    }
    return journal


@pytest.mark.parametrize(("rto", "met", "verdict"), [(30.5, True, "targets met"),
                                                     (320.0, False, "target missed")])  # fmt: skip
def test_a_scenario_counts_for_every_service_it_measured(
    history: Path, rto: float, met: bool, verdict: str
) -> None:
    journals, _ = load_journals([history])
    scenario = _scenario_journal(rto, met)
    card = build_scorecard([*journals, scenario], load_plan(), now=NOW)
    ticket = _row(card, "ticket-api")
    assert ticket.verdict == "targets met" and ticket.rto.measured_s == 41.25
    analytics = _row(card, "rds-analytics")
    assert "az-power-interruption" in analytics.experiments
    assert analytics.runs == 3  # two rds-forced-failover runs and the scenario
    assert analytics.last.started_at.date() == date(2026, 11, 29)
    assert (analytics.rto.measured_s, analytics.rto.target_s, analytics.rto.met) == (rto, 300, met)
    assert analytics.verdict == verdict
    # the scenario is not an RDS Failover test: that schedule row still counts its own runs
    assert _row(card, "RDS Failover").last.started_at.date() == date(2026, 11, 20)
