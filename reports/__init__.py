"""Reports: Chaos Toolkit journals -> self-contained HTML, JUnit XML, Prometheus gauges.

Knows only the journal format (``reports.journal``); imports nothing else of ours.
Public entry points::

    load_journals(paths) -> (journals, errors)
    render_html(journals, out_path, trend_journals=...)
    write_junit(journals, path)
    push_metrics(journals, gateway_url, job=...)
    write_textfile(journals, path)
    report_main(argv) -> exit code   (``python -m reports``)
    write_reports(journal_paths, out_dir, pushgateway) -> {html, junit, pushed, problems}
"""

from reports.cli import report_main, write_reports
from reports.html import render_html
from reports.journal import Journal, JournalError, load_journals
from reports.junit import write_junit
from reports.metrics import push_metrics, write_textfile

__all__ = [
    "Journal",
    "JournalError",
    "load_journals",
    "push_metrics",
    "render_html",
    "report_main",
    "write_junit",
    "write_reports",
    "write_textfile",
]
