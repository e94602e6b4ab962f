"""The report in a real headless Chromium: charts have a size, the summary is on screen."""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess

import pytest
from test_reports_dom import FIXTURES, NIGHTLY

from reports import load_journals, render_html

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="chromium not installed (apt-get install chromium; .ci/apt-packages.txt lists it)",
)

# Appended to a COPY of the report for the test only; the report itself has no script.
MEASURE = """
<script>
(function () {
  var out = {charts: [], viewport: [window.innerWidth, window.innerHeight]};
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var r = svg.getBoundingClientRect();
    out.charts.push({cls: svg.getAttribute("class"), w: r.width, h: r.height});
  });
  var table = document.querySelector("table.summary-table");
  var r = table.getBoundingClientRect();
  var style = getComputedStyle(table);
  out.summary = {top: r.top, w: r.width, h: r.height, visibility: style.visibility,
                 display: style.display, rows: table.querySelectorAll("tbody tr").length};
  var first = document.querySelector("table.summary-table tbody tr");
  var hit = document.elementFromPoint(first.getBoundingClientRect().left + 5,
                                      first.getBoundingClientRect().top + 5);
  out.summaryOnTop = first.contains(hit);
  out.fonts = document.fonts.size;
  var pre = document.createElement("pre");
  pre.id = "measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-quic",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1280,2000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    journals, errors = load_journals(FIXTURES)
    past, _ = load_journals([NIGHTLY])
    assert not errors
    out = tmp_path_factory.mktemp("chromium") / "report.html"
    render_html(journals, out, trend_journals=past)
    return out


def test_charts_have_size_and_summary_is_visible(report_file, tmp_path):
    probe = tmp_path / "measured.html"
    probe.write_text(report_file.read_text().replace("</body>", MEASURE + "</body>"))
    result = _chromium(tmp_path, "--dump-dom", probe.as_uri())
    match = re.search(r'<pre id="measure">(.*?)</pre>', result.stdout, re.S)
    assert match, result.stderr[-2000:]
    measured = json.loads(html_lib.unescape(match.group(1)))
    charts = measured["charts"]
    # 5 availability timelines, 1 replication lag chart, 2 trend charts (RTO, RPO)
    assert (
        sorted(c["cls"].split()[-1] for c in charts)
        == ["chart-availability"] * 5 + ["chart-lag"] + ["chart-trend"] * 2
    )
    for chart in charts:
        assert chart["w"] > 300 and chart["h"] > 100, chart
    summary = measured["summary"]
    assert summary["visibility"] == "visible" and summary["display"] != "none"
    assert summary["rows"] == 8 and summary["w"] > 600 and summary["h"] > 100
    assert 0 < summary["top"] < measured["viewport"][1] / 2  # near the top of the first screen
    assert measured["summaryOnTop"] is True


def test_screenshot_and_print_to_pdf(report_file, tmp_path):
    png = tmp_path / "report.png"
    result = _chromium(tmp_path, f"--screenshot={png}", report_file.as_uri())
    assert png.exists(), result.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    pdf = tmp_path / "report.pdf"
    result = _chromium(
        tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", report_file.as_uri()
    )
    assert pdf.exists(), result.stderr[-2000:]
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    # print CSS: each run starts on a new page (summary + 7 runs + trend at least)
    assert pages >= 9, pages
