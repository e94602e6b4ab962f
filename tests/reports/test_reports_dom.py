"""Structural tests of the HTML report (parsed with html.parser), plus the tiny DOM helper
the other test_reports_* modules import."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from reports import load_journals, render_html
from reports.html import build_report_html
from tests.helpers import TESTS

DATA = TESTS / "data" / "journals"
FIXTURES = sorted(DATA.glob("*.json"))
NIGHTLY = DATA / "nightly"

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(
        self, tag: str | None = None, cls: str | None = None, pred: Callable[[Node], bool] = None
    ) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.classes)
            and (pred is None or pred(n))
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **kw: Any) -> Node:
        found = self.find_all(tag, cls, **kw)
        assert found, f"no <{tag} class={cls}>"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is None:
            self.errors.append(f"stray </{tag}>")
            return
        if node is not self.current:
            self.errors.append(f"unclosed inside <{tag}>")
        self.current = node.parent or self.root

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse_html(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    assert not builder.errors, builder.errors[:5]
    return builder.root


def external_references(html: str) -> list[str]:
    """http(s) URLs used as a resource (src, href, url(), @import, xlink:href)."""
    root = parse_html(html)
    found = []
    for node in root.iter():
        for name, value in node.attrs.items():
            if name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data"):
                if value and re.match(r"\s*(https?:)?//", value):
                    found.append(f"{node.tag} {name}={value}")
    for style in root.find_all("style"):
        found += re.findall(r"url\(\s*['\"]?\s*(?:https?:)?//[^)]*\)", style.text())
        found += re.findall(r"@import", style.text())
    for node in root.iter():
        found += re.findall(
            r"url\(\s*['\"]?\s*(?:https?:)?//[^)]*\)", node.attrs.get("style") or ""
        )
    found += [f"<{n.tag}>" for n in root.iter() if n.tag in ("script", "link", "iframe", "img")]
    return found


def summary_rows(root: Node) -> dict[str, Node]:
    table = root.find("table", "summary-table")
    rows = table.find("tbody").find_all("tr")
    return {row.find("a").text().strip(): row for row in rows}


@pytest.fixture(scope="module")
def fixture_journals():
    journals, errors = load_journals(FIXTURES)
    assert not errors
    return journals


@pytest.fixture(scope="module")
def report(fixture_journals, tmp_path_factory) -> tuple[str, Node]:
    out = tmp_path_factory.mktemp("report") / "report.html"
    past, errors = load_journals([NIGHTLY])
    assert not errors
    render_html(fixture_journals, out, trend_journals=past)
    html = out.read_text(encoding="utf-8")
    return html, parse_html(html)


def test_every_experiment_is_in_the_summary_and_has_a_section(fixture_journals, report):
    _, root = report
    titles = {j.title for j in fixture_journals}
    assert set(summary_rows(root)) == titles
    sections = {
        s.find("h2").text().split(" sandbox")[0].split(" aws")[0].split(" unknown")[0]
        for s in root.find_all("section", "experiment")
    }
    assert len(root.find_all("section", "experiment")) == len(fixture_journals)
    for title in titles:
        assert any(title in s for s in sections), title


def test_summary_comes_before_any_experiment_section(report):
    html, _ = report
    assert html.index('class="summary-table"') < html.index('class="experiment"')


@pytest.mark.parametrize(
    "title, verdict, words",
    [
        ("RDS Multi-AZ failover", "met", "✔ targets met"),
        ("DynamoDB regional outage", "missed", "✘ target missed"),
        ("NACL blackhole of one AZ", "failed", "✘ failed"),
        ("ALB target group drain", "interrupted", "⚠ interrupted"),
        ("ALB target group drain (no status)", "interrupted", "⚠ interrupted"),
        ("Route 53 failover (pre-check fails)", "aborted", "⚠ aborted"),
        ("Plain experiment with secrets", "met", "✔ steady state held"),
        ("TCP listener outage (real measurement control)", "missed", "✘ target missed"),
    ],
)
def test_verdicts_in_words_and_icons(report, title, verdict, words):
    _, root = report
    row = summary_rows(root)[title]
    cell = row.find("span", "verdict")
    assert cell.attrs["data-verdict"] == verdict
    assert cell.text() == words
    section = root.find("section", pred=lambda n: n.attrs.get("id") == row.attrs["data-anchor"])
    assert section.attrs["data-verdict"] == verdict
    banner = section.find("div", "banner")
    assert words.split(" ", 1)[1].upper() in banner.text()


def test_figures_measured_vs_target_with_resolution(report):
    _, root = report
    rows = summary_rows(root)
    met = rows["RDS Multi-AZ failover"].find_all("td", "num")
    assert " ".join(met[0].text().split()) == "41.25 s ±0.25 s / 300 s ✔ met"
    assert " ".join(met[1].text().split()) == "0 s ±0.2 s / 60 s ✔ met"
    missed = rows["DynamoDB regional outage"].find_all("td", "num")
    assert " ".join(missed[0].text().split()) == "47.5 s ±0.25 s / 30 s ✘ missed"
    assert " ".join(missed[1].text().split()) == "3.4 s ±0.2 s / 1 s ✘ missed"
    assert "not measured" in rows["Plain experiment with secrets"].find_all("td", "num")[0].text()
    section = root.find("section", pred=lambda n: n.attrs.get("id") == "run-2")
    rto = section.find("div", "figure-rto")
    assert "47.5 s ✘ missed" in " ".join(rto.text().split())
    phases = {
        r.find_all("td")[0].text(): r.find_all("td")[1].text()
        for r in rto.find("table", "phases").find("tbody").find_all("tr")
    }
    assert phases == {
        "detected": "33.25 s",
        "control plane done": "42.75 s",
        "DNS switched": "—",
        "first success": "47.5 s",
    }
    rpo = section.find("div", "figure-rpo")
    terms = dict(
        zip(
            [d.text() for d in rpo.find_all("dt")],
            [d.text() for d in rpo.find_all("dd")],
            strict=True,
        )
    )
    assert terms == {
        "target": "1 s",
        "resolution": "±0.2 s",
        "writes written": "800",
        "writes acknowledged": "778",
        "writes lost": "17",
    }


def test_faults_reverted_column(report):
    _, root = report
    rows = summary_rows(root)
    assert rows["RDS Multi-AZ failover"].find_all("td")[5].text() == "✔ yes"
    # SIGINT without --rollback-strategy always: rollbacks never ran, fault not reverted
    assert rows["ALB target group drain"].find_all("td")[5].text() == "✘ NO"
    assert rows["ALB target group drain (no status)"].find_all("td")[5].text() == "✘ NO"


def test_sandbox_runs_are_labelled_sandbox(report):
    _, root = report
    rows = summary_rows(root)
    assert rows["RDS Multi-AZ failover"].find("span", "badge").text() == "sandbox"
    assert rows["DynamoDB regional outage"].find("span", "badge").text() == "aws"
    assert "SANDBOX" in root.find("p", "sandbox-note").text()
    section = root.find("section", pred=lambda n: n.attrs.get("id") == "run-1")
    assert "SANDBOX run" in section.find("div", "banner").text()
    aws = root.find("section", pred=lambda n: n.attrs.get("id") == "run-2")
    assert "SANDBOX" not in aws.find("div", "banner").text()


def test_charts_are_inline_svg_with_marks_and_outage(report):
    _, root = report
    section = root.find("section", pred=lambda n: n.attrs.get("id") == "run-1")
    chart = section.find("svg", "chart-availability")
    kinds = {g.attrs["data-kind"] for g in chart.find_all("g", "mark")}
    assert kinds == {"injected", "reverted", "outage", "recovered"}
    assert chart.find_all("rect", "outage")
    assert "RTO 41.25 s" in chart.find("g", "mark-recovered").text()
    lag = root.find("section", pred=lambda n: n.attrs.get("id") == "run-2").find("svg", "chart-lag")
    assert "p99 2.9 s" in lag.attrs["aria-label"]


def test_steady_state_method_rollbacks_environment(report):
    _, root = report
    section = root.find("section", pred=lambda n: n.attrs.get("id") == "run-2")
    text = " ".join(section.text().split())
    assert "Steady state after ✘ not met" in text
    assert "✘ out of tolerance" in text and "✔ within tolerance" in text
    assert "blackhole-dynamodb" in text and "revert-fault" in text
    env = {
        r.find("th").text(): r.find("td").text()
        for r in section.find("table", "environment").find_all("tr")
    }
    assert env["target"] == "aws" and env["region"] == "eu-west-1"
    assert env["account"] == "123456789012" and env["chaoslib"] == "1.44.0"
    failed = root.find("section", pred=lambda n: n.attrs.get("data-verdict") == "failed")
    assert "RuntimeError: boom: injected failure" in failed.find("div", "error").text()


def test_no_external_resources_and_no_script(report):
    html, _ = report
    assert external_references(html) == []
    assert "@media print" in html


def test_trend_flags_regressions(report):
    _, root = report
    trend = root.find("section", "trend")
    regressed = trend.find_all("tr", "regressed")
    assert len(regressed) == 2
    assert "missed the RPO target" in regressed[0].text()
    assert "worse by" in regressed[1].text()
    charts = trend.find_all("svg", "chart-trend")
    assert len(charts) == 2 and charts[0].find_all("g", "regression")


def test_autoescape_of_journal_text(tmp_path):
    journal = json.loads((DATA / "completed-met.json").read_text())
    journal["experiment"]["title"] = "<script>alert(1)</script> & <b>x</b>"
    journal["run"][0]["output"] = "<img src=http://evil.example/x.png>"
    html = build_report_html([journal])
    assert "<script>alert" not in html and "<img src=http" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;x&lt;/b&gt;" in html
    assert external_references(html) == []


def test_real_measurement_control_block(report):
    """The block written by chaosaws_ext.controls.measurement (a real run) reads right."""
    _, root = report
    row = summary_rows(root)["TCP listener outage (real measurement control)"]
    cells = row.find_all("td")
    assert cells[3].text().endswith("/ 0 s ✘ missed")  # RTO target 0 s for api-gateway
    assert " ".join(cells[4].text().split()) == "— / 0 s ✘ missed"  # RPO: no markers
    # its fault does not stamp a revert; the succeeded rollback is the evidence
    assert cells[5].text() == "✔ yes"
    section = root.find("section", pred=lambda n: n.attrs.get("id") == row.attrs["data-anchor"])
    rto = section.find("div", "figure-rto")
    terms = dict(
        zip(
            [d.text() for d in rto.find_all("dt")],
            [d.text() for d in rto.find_all("dd")],
            strict=True,
        )
    )
    assert terms["why"].startswith("measured ") and terms["why"].endswith("target <= 0s")
    assert terms["targets from"].endswith("experiments/targets.yaml")
    rpo = section.find("div", "figure-rpo")
    assert "RPO not measured: no markers configured" in rpo.text()
    phases = [r.find("td").text() for r in rto.find("table", "phases").find("tbody").find_all("tr")]
    assert phases == [
        "detected",
        "last failure",
        "first success",
        "fully available",
        "DNS switched",
    ]
    chart = section.find("svg", "chart-availability")
    assert {g.attrs["data-kind"] for g in chart.find_all("g", "mark")} == {
        "injected",
        "outage",
        "recovered",
    }
