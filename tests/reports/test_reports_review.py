"""The review-ready pages: findings in sentences first, the DR plan's post-incident
template (timeline, impact, went well, went wrong, action items), raw outputs folded,
no secret, sandbox runs said to be sandbox runs. On the journal fixtures (real ``chaos
run`` journals, tests/data/journals): every figure asserted is read from the journal."""

from __future__ import annotations

import copy
import json
import sys

from test_reports_dom import DATA, Node, parse_html

from reports.html import build_report_html
from reports.journal import Journal
from reports.verdicts import format_seconds

sys.path.insert(0, str(DATA))
from generate import ENV_NAME, ENV_TOKEN, INLINE_PASSWORD  # noqa: E402

TEMPLATE_SECTIONS = ["Timeline", "Impact", "What went well", "What went wrong", "Action items"]


def _load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def _report(*journals: dict, names: list[str] | None = None, **kw) -> tuple[str, Node]:
    """The report of ``journals``, each named ``<index>-<title>.json`` (or ``names``)."""
    names = names or [f"{i}-{j['experiment']['title']}" for i, j in enumerate(journals)]
    html = build_report_html(
        [Journal(source=f"{n}.json", data=j) for n, j in zip(names, journals, strict=True)],
        **kw,
    )
    return html, parse_html(html)


def _sections(root: Node) -> list[Node]:
    return root.find_all("section", "experiment")


def _findings(section: Node) -> list[str]:
    return [" ".join(li.text().split()) for li in section.find("div", "findings").find_all("li")]


def test_each_section_starts_with_its_findings_in_sentences() -> None:
    met, missed = _load("completed-met"), _load("deviated-missed")
    _, root = _report(met, missed)
    first, second = _sections(root)
    # the findings come before the verdict banner and every table of the section
    children = [c for c in first.children if not isinstance(c, str)]
    assert children[0].tag == "h2" and "findings" in children[1].classes
    said = _findings(first)
    rto, rpo = met["recovery"]["rto"], met["recovery"]["rpo"]
    samples = met["recovery"]["availability"]
    assert said[0] == "SANDBOX run (the local twin of AWS): these are not AWS figures."
    assert said[1] == (
        f"The service {met['recovery']['service']} was unavailable for "
        f"{format_seconds(rto['measured_s'])} (±{format_seconds(rto['resolution_s'])}) "
        f"from the fault to recovery (target "
        f"{format_seconds(met['recovery']['target']['rto_s'], minutes=False)}: met; "
        f"{samples['samples'] - samples['ok']} of {samples['samples']} availability samples "
        "failed)."
    )
    assert said[2] == (
        f"No acknowledged write was lost: 0 of {rpo['acknowledged']} "
        f"({rpo['written']} attempted; RPO 0 s, target "
        f"{format_seconds(met['recovery']['target']['rpo_s'])}: met)."
    )
    # no safety record in this journal: the leftovers are said to be unknown, not 0
    assert said[3].startswith(
        "The fault was reverted: every fault reverted; leftovers not recorded"
    )
    lost = missed["recovery"]["rpo"]
    said = _findings(second)
    assert not any("SANDBOX" in line for line in said)  # an AWS run
    assert f"{lost['lost']} of {lost['acknowledged']} acknowledged writes were lost" in said[1]
    assert f"RPO {format_seconds(lost['measured_s'])}" in said[1] and ": missed)" in said[1]


def test_a_figure_the_journal_lacks_is_said_missing() -> None:
    real = _load("measured-real")  # the real measurement control: no markers
    interrupted = _load("interrupted")
    _, root = _report(real, interrupted)
    said = _findings(_sections(root)[0])
    assert said[0].startswith("The API Gateway was unavailable for 1.6 s (±0.1 s)")
    assert "RPO was not measured: this experiment writes no markers." in said
    said = _findings(_sections(root)[1])
    assert "RTO was not measured: the journal holds no RTO figure." in said
    assert said[-1] == "The fault was NOT reverted: no revert recorded for alb-drain."


def test_leftovers_from_the_safety_record() -> None:
    clean, left = _load("completed-met"), copy.deepcopy(_load("completed-met"))
    clean["safety"] = {
        "run_id": "r1",
        "final_undo": {"undone": 1, "left": []},
        "all_reverted": True,
    }
    left["experiment"]["title"] = "RDS failover, undo failed"
    left["safety"] = {
        "run_id": "r2",
        "ledger": "gameday-out/ledger.jsonl",
        "final_undo": {"undone": 0, "left": ["[rds-failover] db-1: reboot", "[lock] x"]},
        "all_reverted": False,
    }
    _, root = _report(clean, left)
    assert _findings(_sections(root)[0])[-1] == "The fault was reverted; 0 leftovers."
    assert _findings(_sections(root)[1])[-1] == (
        "The fault was NOT fully reverted: 2 leftovers "
        "(run `gameday recover --ledger gameday-out/ledger.jsonl`)."
    )
    review = root.find("section", "review")
    wrong = [li.text() for li in review.find("ul", "went-wrong").find_all("li")]
    assert "1-RDS failover, undo failed: 2 leftovers after the run." in wrong
    actions = review.find("table", "actions").find("tbody").find_all("tr")
    texts = [" ".join(r.text().split()) for r in actions]
    assert any(t.startswith("Recover 2 leftovers (gameday recover)") for t in texts)


def test_the_post_incident_template_sections_from_the_journals() -> None:
    met, missed, real = _load("completed-met"), _load("deviated-missed"), _load("measured-real")
    _, root = _report(met, missed, real)
    review = root.find("section", "review")
    assert [h.text() for h in review.find_all("h3")] == TEMPLATE_SECTIONS
    # sandbox runs are said to be sandbox runs in the new section too
    assert "SANDBOX" in review.find("p", "sandbox-note").text()
    # the timeline: one group per run, each event's time and offset from t0 from the journal
    rows = review.find("table", "timeline").find("tbody").find_all("tr")
    groups = [r for r in rows if "tl-run" in r.classes]
    assert [g.find("th").children[0].strip() for g in groups] == [
        "0-RDS Multi-AZ failover",
        "1-DynamoDB regional outage",
        "2-TCP listener outage (real measurement control)",
    ]
    assert "sandbox" in groups[0].text() and "sandbox" not in groups[1].text()
    events = {
        " ".join(r.find_all("td")[2].text().split()): r.find_all("td")[0].text()
        for r in rows[1 : rows.index(groups[1])]
    }
    injected = met["recovery"]["fault"]["injected_at"]  # "...T02:00:05.000Z"
    assert events["fault injected (t0)"] == injected[11:23]
    assert events["service recovered"] == met["recovery"]["rto"]["recovered_at"][11:23]
    impact = [li.text() for li in review.find("ul", "impact").find_all("li")]
    assert impact[1] == (
        f"1-DynamoDB regional outage: downtime {format_seconds(47.5)}; "
        f"{missed['recovery']['rpo']['lost']} acknowledged writes lost."
    )
    well = [li.text() for li in review.find("ul", "went-well").find_all("li")]
    assert "0-RDS Multi-AZ failover: RTO 41.25 s met its target 300 s on the sandbox." in well
    wrong = [li.text() for li in review.find("ul", "went-wrong").find_all("li")]
    assert "1-DynamoDB regional outage: RPO 3.4 s missed its target 1 s." in wrong
    assert "1-DynamoDB regional outage: the steady state deviated after the method." in wrong
    actions = [
        [" ".join(td.text().split()) for td in tr.find_all("td")]
        for tr in review.find("table", "actions").find("tbody").find_all("tr")
    ]
    # one per missed target and per unmeasured RPO, naming the experiment and the target row
    assert actions == [
        [
            "Bring RTO within target: measured 47.5 s, target 30 s",
            "1-DynamoDB regional outage",
            "orders-dynamodb",
        ],
        [
            "Bring RPO within target: measured 3.4 s, target 1 s",
            "1-DynamoDB regional outage",
            "orders-dynamodb",
        ],
        [
            "Bring RTO within target: measured 1.6 s, target 0 s",
            "2-TCP listener outage (real measurement control)",
            "api-gateway (| API Gateway | 0 min | 0 | Managed service, multi-AZ automatico |)",
        ],
        [
            "Measure RPO: add write markers to this experiment (the plan sets a target of 0 s)",
            "2-TCP listener outage (real measurement control)",
            "api-gateway (| API Gateway | 0 min | 0 | Managed service, multi-AZ automatico |)",
        ],
    ]


def test_raw_outputs_are_folded_in_closed_details() -> None:
    met = _load("completed-met")
    # what a fault action returns (the RDS failover's shape); the probes return a count
    met["run"][0]["output"] = {
        "fault": "rds-failover",
        "instance": "production-analytics-db",
        "from_az": "eu-south-1a",
        "to_az": "eu-south-1b",
    }
    _, root = _report(met)
    section = _sections(root)[0]
    outputs = section.find_all("div", "output")
    long = [o for o in outputs if len(o.text()) > 40]
    assert long and len(long) < len(outputs)
    for output in outputs:
        if output not in long:  # `true`, a count: shown as is
            assert output.parent.tag == "td"
            continue
        details = output.parent
        assert details.tag == "details" and "raw-output" in details.classes
        assert "open" not in details.attrs
        assert details.find("summary").text() == (
            f"raw output ({len(output.text())} characters, folded)"
        )


def test_no_secret_in_the_findings_the_review_or_the_raw_outputs(monkeypatch) -> None:
    monkeypatch.setenv(ENV_NAME, ENV_TOKEN)
    secrets = _load("plain-secrets")
    leaking = copy.deepcopy(_load("completed-met"))
    # a secret in what the new sections quote: the title, the target row, an error
    leaking["experiment"]["title"] = f"failover password={INLINE_PASSWORD}"
    leaking["recovery"]["errors"] = [f"sampler: token {ENV_TOKEN} refused"]
    leaking["recovery"]["target"]["source"] = f"| Ticket API {ENV_TOKEN} | < 5 min | 0 |"
    html, root = _report(secrets, leaking, names=["plain", "leaking"])
    assert INLINE_PASSWORD not in html and ENV_TOKEN not in html
    review = root.find("section", "review")
    assert "measurement error" in review.text()


def test_the_report_opens_with_the_game_day_in_brief() -> None:
    met, missed, real = _load("completed-met"), _load("deviated-missed"), _load("measured-real")
    _, root = _report(met, missed, real)
    brief = " ".join(root.find("header").find("p", "in-brief").text().split())
    (day,) = {j["start"][:10] for j in (met, missed, real)}
    assert brief == (
        f"In brief: 3 runs on {day}, 1 of them on the SANDBOX (not AWS figures). "
        "1 met every target, 2 missed one. Faults reverted in 3 of 3 runs; leftovers not "
        "recorded (the journals have no safety record). 4 action items (game day review below)."
    )
    met["safety"] = {"run_id": "r1", "final_undo": {"left": []}, "all_reverted": True}
    _, root = _report(met, missed)
    brief = " ".join(root.find("header").find("p", "in-brief").text().split())
    assert "Faults reverted in 2 of 2 runs; 0 leftovers (not recorded for 1 run)." in brief
