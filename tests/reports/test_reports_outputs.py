"""JUnit XML, textfile metrics, series maths and trend regressions."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_reports_dom import DATA, FIXTURES

from reports import load_journals, write_junit, write_textfile
from reports.charts import nice_ticks
from reports.series import failing_spans, merge_spans, parse_samples
from reports.trend import regression_of
from reports.verdicts import Figure, format_seconds


@pytest.fixture(scope="module")
def journals():
    loaded, errors = load_journals(FIXTURES)
    assert not errors
    return loaded


def test_junit_one_testcase_per_run_with_measured_vs_target(journals, tmp_path):
    path = write_junit(journals, tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {j.title for j in journals}
    assert suite.get("tests") == "8"
    assert (suite.get("failures"), suite.get("errors")) == ("2", "4")
    met = cases["RDS Multi-AZ failover"]
    assert met.find("failure") is None and met.find("error") is None
    assert met.get("classname") == "gameday.sandbox.rds-analytics"
    missed = cases["DynamoDB regional outage"].find("failure")
    assert missed.get("message") == (
        "✘ target missed: RTO and RPO target missed; "
        "RTO 47.5 s (±0.25 s) vs target 30 s: missed; RPO 3.4 s (±0.2 s) vs target 1 s: missed"
    )
    interrupted = cases["ALB target group drain"].find("error")
    assert interrupted.get("type") == "interrupted"
    assert "fault NOT reverted" in interrupted.get("message")
    assert cases["Route 53 failover (pre-check fails)"].find("error").get("type") == "aborted"
    props = {p.get("name"): p.get("value") for p in met.find("properties")}
    assert props["rto_measured_s"] == "41.25" and props["rto_target_s"] == "300.0"


def test_textfile_gauges(journals, tmp_path):
    path = write_textfile(journals, tmp_path / "gameday.prom")
    samples = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            samples[(s.name, s.labels.get("experiment"), s.labels.get("verdict"))] = s
    rds = "RDS Multi-AZ failover"
    assert samples[("gameday_rto_measured_seconds", rds, None)].value == 41.25
    assert samples[("gameday_rto_measured_seconds", rds, None)].labels == {
        "experiment": rds,
        "service": "rds-analytics",
        "environment": "sandbox",
    }
    assert samples[("gameday_rto_target_seconds", rds, None)].value == 300
    assert samples[("gameday_target_met", rds, None)].value == 1
    assert samples[("gameday_target_met", "DynamoDB regional outage", None)].value == 0
    assert samples[("gameday_verdict", "DynamoDB regional outage", "missed")].value == 1
    assert samples[("gameday_verdict", "DynamoDB regional outage", "met")].value == 0
    assert samples[("gameday_faults_reverted", "ALB target group drain", None)].value == 0
    assert samples[("gameday_last_run_timestamp_seconds", rds, None)].value > 1.7e9
    # not measured: no sample at all rather than a misleading 0
    assert ("gameday_rto_measured_seconds", "ALB target group drain", None) not in samples
    assert ("gameday_rto_measured_seconds", "Plain experiment with secrets", None) not in samples


def test_failing_spans_are_exact_and_merge_keeps_outer_edges():
    rows = [[t / 4, 0 if 8 <= t < 20 or t in (30, 32) else 1, 10.0] for t in range(40)]
    samples, skipped = parse_samples(rows + [["bad"], None, [1, 7, 3]])
    assert skipped == 3
    spans = failing_spans(samples)
    assert [(s.start, s.end, s.failures) for s in spans] == [
        (2.0, 5.0, 12),
        (7.5, 7.75, 1),
        (8.0, 8.25, 1),
    ]
    merged = merge_spans(spans, 0.5)
    assert [(s.start, s.end, s.merged) for s in merged] == [(2.0, 5.0, 1), (7.5, 8.25, 2)]
    ends_failing, _ = parse_samples([[0, 1, 1], [1, 0, None], [2, 0, None]])
    assert [(s.start, s.end, s.open) for s in failing_spans(ends_failing)] == [(1, 2, True)]


def test_merge_bounds_the_number_of_spans():
    rows = [[i * 0.05, i % 2, None] for i in range(100_000)]
    spans = failing_spans(parse_samples(rows)[0])
    assert len(spans) == 50_000
    merged = merge_spans(spans, 0.0, limit=400)
    assert len(merged) <= 400
    assert merged[0].start == spans[0].start and merged[-1].end == spans[-1].end
    assert sum(s.failures for s in merged) == 50_000


def test_regressions():
    def fig(measured, met=True, resolution=0.25, target=30.0):
        return Figure("RTO", measured, target, resolution, met)

    assert regression_of(fig(12.2), [fig(12.0)]) is None  # within resolution
    assert "worse by 0.5 s" in regression_of(fig(12.5), [fig(12.0)])
    assert regression_of(fig(None, None), [fig(12.0)]) is None
    assert "missed the RTO target 30 s that earlier runs met" in regression_of(
        fig(40.0, met=False), [fig(50.0, met=False), fig(45.0, met=True)]
    )
    assert regression_of(fig(40.0, met=False), [fig(45.0, met=False)]) is None


def test_format_and_ticks():
    assert [format_seconds(v) for v in (None, 0, 41.25, 0.000044, 300, 1234.5)] == [
        "—",
        "0 s",
        "41.25 s",
        "0.044 ms",
        "300 s (5 min 0 s)",
        "1234.5 s (20 min 34 s)",
    ]
    assert nice_ticks(0, 3.6, 6) == [0, 1, 2, 3, 4]


def test_fixture_journals_are_small():
    for path in DATA.rglob("*.json"):
        assert path.stat().st_size < 40_000, path


def test_downsample_keeps_counts_and_ignores_latency_of_failures():
    from reports.series import downsample

    rows = [
        [i * 0.1, 0 if 10 <= i < 20 else 1, 500.0 if 10 <= i < 20 else 10.0 + i % 7]
        for i in range(1000)
    ]
    buckets = downsample(parse_samples(rows)[0], buckets=100)
    assert len(buckets) == 100
    assert sum(b.ok + b.failed for b in buckets) == 1000
    assert sum(b.failed for b in buckets) == 10
    assert all(b.latency_max is None or b.latency_max < 500 for b in buckets)
    assert buckets[1].latency_max is None and buckets[1].failed == 10
