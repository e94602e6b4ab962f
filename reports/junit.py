"""JUnit XML: one testcase per run, for CI dashboards.

Targets met (and faults reverted) pass; a missed target or an unreverted fault is a
``<failure>`` whose message gives measured vs target; failed, aborted and interrupted
runs are an ``<error>``.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reports.journal import Journal
from reports.redaction import mask_journals
from reports.verdicts import RunSummary, format_seconds, summarise

__all__ = ["build_junit", "write_junit"]


def _message(summary: RunSummary) -> str:
    parts = [f"{summary.icon} {summary.words}: {summary.verdict_reason}"]
    for figure in (summary.rto, summary.rpo):
        if figure.present:
            parts.append(figure.describe())
    if summary.reverted is False:
        parts.append(f"fault NOT reverted ({summary.reverted_reason})")
    if summary.is_sandbox:
        parts.append("sandbox run")
    return "; ".join(parts)


def _testcase(summary: RunSummary) -> ET.Element:
    duration = summary.journal.duration_s
    case = ET.Element(
        "testcase",
        {
            "name": summary.title,
            "classname": f"gameday.{summary.environment}.{summary.service or 'experiment'}",
            "time": f"{duration:.3f}" if duration is not None else "0",
            "file": summary.journal.source,
        },
    )
    properties = ET.SubElement(case, "properties")
    values: dict[str, Any] = {
        "verdict": summary.verdict,
        "status": summary.status,
        "environment": summary.environment,
        "service": summary.service,
        "rto_measured_s": summary.rto.measured_s,
        "rto_target_s": summary.rto.target_s,
        "rto_resolution_s": summary.rto.resolution_s,
        "rpo_measured_s": summary.rpo.measured_s,
        "rpo_target_s": summary.rpo.target_s,
        "rpo_resolution_s": summary.rpo.resolution_s,
        "faults_reverted": summary.reverted,
    }
    for name, value in values.items():
        if value is not None:
            ET.SubElement(properties, "property", {"name": name, "value": str(value)})
    message = _message(summary)
    if summary.verdict in ("failed", "aborted", "interrupted"):
        element = ET.SubElement(case, "error", {"message": message, "type": summary.verdict})
        element.text = message
    elif summary.verdict == "missed" or summary.reverted is False:
        element = ET.SubElement(case, "failure", {"message": message, "type": "target-missed"})
        element.text = message
    out = ET.SubElement(case, "system-out")
    out.text = "\n".join(
        [message]
        + [
            f"{f.name}: {format_seconds(f.measured_s)} / {format_seconds(f.target_s)}"
            for f in (summary.rto, summary.rpo)
            if f.present
        ]
    )
    return case


def build_junit(
    journals: Iterable[Journal | dict[str, Any]],
    *,
    extra_secret_values: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> ET.ElementTree:
    masked = mask_journals(journals, extra_secret_values=extra_secret_values, environ=environ)
    summaries = [summarise(j) for j in masked]
    failures = sum(
        1
        for s in summaries
        if s.verdict == "missed" or (s.verdict == "met" and s.reverted is False)
    )
    errors = sum(1 for s in summaries if s.verdict in ("failed", "aborted", "interrupted"))
    total = sum(s.journal.duration_s or 0.0 for s in summaries)
    suites = ET.Element("testsuites", {"name": "gameday"})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": "gameday",
            "tests": str(len(summaries)),
            "failures": str(failures),
            "errors": str(errors),
            "skipped": "0",
            "time": f"{total:.3f}",
        },
    )
    for summary in summaries:
        suite.append(_testcase(summary))
    suites.set("tests", str(len(summaries)))
    suites.set("failures", str(failures))
    suites.set("errors", str(errors))
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(
    journals: Iterable[Journal | dict[str, Any]],
    path: str | os.PathLike[str],
    *,
    extra_secret_values: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Write JUnit XML with one testcase per journal to ``path``."""
    tree = build_junit(journals, extra_secret_values=extra_secret_values, environ=environ)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
