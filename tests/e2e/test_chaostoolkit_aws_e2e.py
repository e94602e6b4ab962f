"""A chaostoolkit-aws fault under our measurement and safety, end to end in the sandbox.

``experiments/examples/rds-reboot-chaostoolkit-aws.yaml``: the fault is chaostoolkit-aws's
``chaosaws.rds.actions.reboot_db_instance`` (force_failover), its steady state is
chaostoolkit-aws's ``chaosaws.rds.probes.instance_status``; the safety control adopts
the action (ledger entry before it, t0 at its end) and the measurement judges RTO and
RPO. Run the way a user would: ``gameday run --sandbox <file>``, with every AWS call
recorded (ours and chaostoolkit-aws's) and checked against the IAM policy of the
experiment it mirrors, ``rds-forced-failover`` (the same calls: no policy of its own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from chaosaws_ext.ledger import Ledger
from gameday.policy import load_policy, render
from reports.verdicts import format_seconds
from tests.helpers import REPO
from tests.helpers.aws_calls import load_calls, recording_env
from tests.helpers.iam_authz import check_policy, failures, requirements
from tests.helpers.iam_sandbox import by_policy, sandbox_world
from tests.helpers.iam_scenarios import policy_values

pytestmark = pytest.mark.e2e

EXPERIMENT = REPO / "experiments" / "examples" / "rds-reboot-chaostoolkit-aws.yaml"
SCALE = 0.05  # gameday run --sandbox's demo scale
RDS_FAILOVER_S = 90 * SCALE  # sandbox/timing.py: midpoint of the published 60-120 s
INTERVAL_S = 0.25  # the experiment's 4 Hz sampling
CONSECUTIVE = 3


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("ctk-aws-out")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    calls = out / "calls.jsonl"
    env.update(recording_env(calls), PYTHONPATH=str(REPO))  # chaos imports the recorder
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "run", "--sandbox", str(EXPERIMENT), "--out", str(out)],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    journal_path = out / "rds-reboot-chaostoolkit-aws.journal.json"
    journal = json.loads(journal_path.read_text()) if journal_path.exists() else None
    return {"done": done, "out": out, "journal": journal, "calls": calls}


def test_the_chaostoolkit_aws_fault_is_measured_and_judged(run: dict) -> None:
    done, journal = run["done"], run["journal"]
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    assert journal["status"] == "completed" and journal["deviated"] is False
    inject = journal["run"][0]
    assert inject["activity"]["provider"]["module"] == "chaosaws.rds.actions"
    assert inject["status"] == "succeeded"
    hypothesis = journal["steady_states"]["before"]["probes"][0]
    assert hypothesis["activity"]["provider"]["module"] == "chaosaws.rds.probes"
    assert hypothesis["output"] == "available"

    recovery = journal["recovery"]
    assert recovery["fault"]["name"] == "rds-failover"
    assert recovery["fault"]["t0_source"] == "stamp"  # the adopted action's end
    assert recovery["fault"]["detail"]["injected_by"] == "chaosaws.rds.actions.reboot_db_instance"
    rto = recovery["rto"]["measured_s"]
    # the emulated failover window, give or take the sampling (K successes to recover)
    assert RDS_FAILOVER_S - INTERVAL_S <= rto <= RDS_FAILOVER_S + CONSECUTIVE * INTERVAL_S + 1.0
    assert recovery["rto"]["met"] is True and recovery["rto"]["target_s"] == 300
    assert recovery["rpo"]["lost"] == 0 and recovery["rpo"]["acknowledged"] > 0
    completion = {r["activity"]["name"]: r["output"] for r in journal["run"]}[
        "wait-for-failover-completion"
    ]
    assert completion["changed"] is True  # our probe compares with the adopted action's before
    assert "rds-reboot-chaostoolkit-aws" in done.stdout and " met " in done.stdout


def test_the_adopted_action_was_ledgered_and_undone(run: dict) -> None:
    entries = Ledger(run["out"] / "ledger.jsonl").entries()
    (failover,) = [e for e in entries if e.fault == "rds-failover"]
    assert failover.resource == "db-instance:production-analytics-db"
    assert failover.outcome == "applied" and failover.reverted
    assert failover.undo["undoer"] == "rds-failover.wait-available"
    locks = [e for e in entries if e.fault == "target-lock"]
    assert locks and locks[0].recorded_at < failover.recorded_at  # guardrails came first
    assert all(e.reverted for e in entries)


def test_the_report_shows_the_measured_figure_and_verdict(run: dict) -> None:
    report = (run["out"] / "report.html").read_text()
    rto = run["journal"]["recovery"]["rto"]["measured_s"]
    assert "rds-reboot-chaostoolkit-aws" in report
    assert format_seconds(rto) in report  # as the report formats it (4.50 is shown 4.5 s)
    assert "chaosaws.rds.actions" in report


def test_every_call_ours_and_chaostoolkit_aws_is_granted_by_the_policy(run: dict) -> None:
    calls = load_calls(run["calls"])
    theirs = {(c.origin, c.operation) for c in calls if c.origin.startswith("chaosaws.")}
    assert ("chaosaws.rds.actions", "RebootDBInstance") in theirs
    assert ("chaosaws.rds.probes", "DescribeDBInstances") in theirs
    world = sandbox_world(run["out"] / "sandbox.env")
    grouped = by_policy(calls, lambda call: "rds-forced-failover")
    assert set(grouped) == {"rds-forced-failover"}
    policy = render(load_policy("rds-forced-failover"), policy_values(world))
    assert failures(check_policy(policy, requirements(grouped["rds-forced-failover"]))) == []
