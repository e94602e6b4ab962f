"""Fresh journals from the real ``chaos run`` (incl. SIGINT) render with the right verdicts."""

from __future__ import annotations

import sys

import pytest
from test_reports_dom import DATA, external_references, parse_html, summary_rows

from reports import load_journals, render_html, write_junit

sys.path.insert(0, str(DATA))
from generate import INLINE_PASSWORD, generate  # noqa: E402


@pytest.mark.e2e
def test_fresh_real_journals_render(tmp_path):
    written = generate(tmp_path / "journals", workdir=tmp_path / "work")
    current = [p for n, p in written.items() if n != "var_file" and not n.startswith("nightly")]
    journals, errors = load_journals(current)
    assert not errors
    statuses = {j.title: j.status for j in journals}
    # what chaostoolkit 1.19 really writes for each case
    assert statuses["RDS Multi-AZ failover"] == "completed"
    assert statuses["DynamoDB regional outage"] == "completed"  # deviated=true, status kept
    assert statuses["NACL blackhole of one AZ"] == "failed"
    assert statuses["ALB target group drain"] == "interrupted"
    assert statuses["ALB target group drain (no status)"] is None
    out = render_html(journals, tmp_path / "report.html")
    html = out.read_text()
    rows = summary_rows(parse_html(html))
    verdicts = {t: r.find("span", "verdict").attrs["data-verdict"] for t, r in rows.items()}
    assert verdicts == {
        "RDS Multi-AZ failover": "met",
        "DynamoDB regional outage": "missed",
        "NACL blackhole of one AZ": "failed",
        "ALB target group drain": "interrupted",
        "ALB target group drain (no status)": "interrupted",
        "Route 53 failover (pre-check fails)": "aborted",
        "Plain experiment with secrets": "met",
        # the real measurement control: 1.5 s outage against api-gateway's 0 s target
        "TCP listener outage (real measurement control)": "missed",
    }
    assert INLINE_PASSWORD not in html
    assert external_references(html) == []
    write_junit(journals, tmp_path / "junit.xml")
    assert INLINE_PASSWORD not in (tmp_path / "junit.xml").read_text()
