"""Loading journals: malformed inputs give one clear line (exit 2), odd journals render."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reports_dom import DATA, external_references, parse_html, summary_rows

from reports import load_journals, render_html, report_main
from reports.html import build_report_html
from reports.journal import Journal, get_path, parse_time
from reports.verdicts import summarise

COMPLETED = json.loads((DATA / "completed-met.json").read_text())


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name, content, problem",
    [
        (
            "broken.json",
            '{"experiment": {',
            "not JSON (Expecting property name enclosed in double quotes at line 1 column 17)",
        ),
        ("list.json", "[1, 2, 3]", "JSON list, not a Chaos Toolkit journal object"),
        (
            "settings.json",
            '{"controls": {}}',
            "JSON but not a Chaos Toolkit journal (no 'experiment' object)",
        ),
        (
            "experiment.json",
            '{"experiment": {"title": "x"}}',
            "JSON but not a Chaos Toolkit journal (no 'start', 'run' or 'steady_states')",
        ),
        ("empty.json", "", "empty file, not a journal"),
        ("blank.json", "  \n\t", "empty file, not a journal"),
        ("binary.json", b"\xff\xfe\x00garbage", "not UTF-8 text, not a journal"),
        (
            "recovery.json",
            '{"experiment": {}, "start": "x", "recovery": [1]}',
            "'recovery' is not an object",
        ),
    ],
)
def test_malformed_journal_is_one_line_naming_the_file(tmp_path, name, content, problem):
    path = _write(tmp_path, name, content)
    journals, errors = load_journals([path])
    assert journals == []
    assert errors == [f"{path}: {problem}"]


def test_missing_file_and_directory_without_journals(tmp_path):
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    (empty / "notes.txt").write_text("no journals here")
    journals, errors = load_journals([tmp_path / "nope.json", empty])
    assert journals == []
    assert errors == [
        f"{tmp_path / 'nope.json'}: no such file",
        f"{empty}: directory holds no journals (*.json)",
    ]


def test_directory_is_searched_and_duplicates_loaded_once(tmp_path):
    folder = tmp_path / "runs" / "2026-11-28"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps(COMPLETED))
    journals, errors = load_journals([tmp_path / "runs", folder / "a.json"])
    assert errors == [] and len(journals) == 1
    assert journals[0].title == "RDS Multi-AZ failover"


def test_cli_malformed_exit_2_one_line_no_traceback(tmp_path):
    bad = _write(tmp_path, "bad.json", "{not json")
    good = DATA / "completed-met.json"
    out = tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "reports", str(good), str(bad), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"report: {bad}: not JSON (Expecting property name enclosed in double quotes at line 1 "
        "column 2)"
    ]
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()


def test_cli_writes_everything(tmp_path, capsys):
    out = tmp_path / "out" / "report.html"
    code = report_main(
        [
            str(DATA),
            "-o",
            str(out),
            "--junit",
            str(tmp_path / "junit.xml"),
            "--trend",
            str(DATA / "nightly"),
            "--textfile",
            str(tmp_path / "gameday.prom"),
        ]
    )
    assert code == 0
    assert out.exists() and (tmp_path / "junit.xml").exists()
    assert "gameday_rto_measured_seconds" in (tmp_path / "gameday.prom").read_text()
    root = parse_html(out.read_text())
    # the directory held the fixtures and the nightly history: all 13 journals
    assert len(summary_rows(root)) == 8
    assert len(root.find_all("section", "experiment")) == 13


def test_cli_unreachable_pushgateway_exit_1_after_files(tmp_path, capsys):
    out = tmp_path / "report.html"
    code = report_main(
        [str(DATA / "completed-met.json"), "-o", str(out), "--pushgateway", "http://127.0.0.1:9"]
    )
    assert code == 1 and out.exists()
    assert "cannot push to http://127.0.0.1:9" in capsys.readouterr().err


def test_trend_folder_with_a_corrupt_file_is_skipped_not_fatal(tmp_path, capsys):
    nightly = tmp_path / "nightly"
    nightly.mkdir()
    for path in (DATA / "nightly").glob("*.json"):
        (nightly / path.name).write_text(path.read_text())
    (nightly / "half-written.json").write_text('{"experiment": ')
    (nightly / "vars.json").write_text('{"configuration": {}}')
    out = tmp_path / "report.html"
    assert (
        report_main([str(DATA / "completed-met.json"), "-o", str(out), "--trend", str(nightly)])
        == 0
    )
    err = capsys.readouterr().err
    assert f"trend: skipped {nightly / 'half-written.json'}: not JSON" in err
    assert "vars.json" not in err
    assert "half-written.json: not JSON" in out.read_text()


def test_status_variants_and_aborted():
    aborted = copy.deepcopy(COMPLETED)
    aborted["status"] = "aborted"
    assert summarise(Journal("a", aborted)).verdict == "aborted"
    unknown = copy.deepcopy(COMPLETED)
    unknown["status"] = "weird"
    assert summarise(Journal("u", unknown)).verdict == "failed"
    missed = copy.deepcopy(COMPLETED)
    missed["recovery"]["rto"]["met"] = None
    missed["recovery"]["rto"]["measured_s"] = 400.0  # met computed from measured vs target
    assert summarise(Journal("m", missed)).verdict == "missed"


def test_accessors_tolerate_anything():
    assert get_path({"a": [1, {"b": None}]}, "a", 1, "b", default="d") == "d"
    assert get_path({"a": "str"}, "a", "b") is None
    assert parse_time("2026-11-28T20:52:29Z").tzinfo is not None
    assert parse_time("yesterday") is None and parse_time(12) is None
    bare = Journal("x", {"experiment": {}, "start": None})
    summary = summarise(bare)
    assert summary.verdict == "interrupted" and summary.title == "x"
    html = build_report_html([bare])
    assert "⚠ interrupted" in html


def _null_paths(value, prefix=()):
    """Every path into a JSON value (for nulling or deleting it)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield prefix + (key,)
            yield from _null_paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield prefix + (index,)
            yield from _null_paths(item, prefix + (index,))


def _small_journal() -> dict:
    journal = copy.deepcopy(COMPLETED)
    journal["recovery"]["availability"]["series"] = journal["recovery"]["availability"]["series"][
        :30
    ]
    return journal


PATHS = [p for p in _null_paths(_small_journal()) if p[0] != "experiment" or len(p) < 3]


@settings(  # examples per run: the profile's (tests/conftest.py)
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(PATHS),
            st.sampled_from(["delete", None, "text", -1, [], {}, True, 1e308]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_field_missing_null_or_wrong_type_still_renders(changes):
    journal = _small_journal()
    for path, value in changes:
        parent = journal
        for key in path[:-1]:
            try:
                parent = parent[key]
            except (KeyError, IndexError, TypeError):
                break
        else:
            try:
                if value == "delete":
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = copy.deepcopy(value)
            except (KeyError, IndexError, TypeError):
                pass
    if not isinstance(journal.get("experiment"), dict):
        journal["experiment"] = {}
    html = build_report_html([journal])
    root = parse_html(html)
    assert root.find("table", "summary-table")
    assert external_references(html) == []


def test_huge_journal_under_2_mb_with_exact_outage_edges(tmp_path):
    sys.path.insert(0, str(DATA))
    from recovery_blocks import recovery_block

    journal = copy.deepcopy(COMPLETED)
    injected = parse_time(journal["recovery"]["fault"]["injected_at"])
    journal["recovery"] = recovery_block(
        service="rds-analytics",
        injected_at=injected,
        reverted_at=None,
        rto_s=1234.56,
        samples=100_000,
        interval=0.05,
        outage_start_s=600.02,
        flaps=40,
    )
    series = journal["recovery"]["availability"]["series"]
    first_fail = next(row[0] for row in series if row[0] >= 600 and row[1] == 0)
    first_ok_after = next(row[0] for row in series if row[0] > first_fail and row[1] == 1)
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(journal))
    journals, errors = load_journals([path])
    out = render_html(journals, tmp_path / "report.html")
    size = out.stat().st_size
    assert size < 2_000_000, size
    root = parse_html(out.read_text())
    chart = root.find("svg", "chart-availability")
    spans = chart.find_all("rect", "strip-failed")
    assert len(spans) <= 400
    edges = [(float(r.attrs["data-start"]), float(r.attrs["data-end"])) for r in spans]
    assert (first_fail, first_ok_after) in edges or any(s == first_fail for s, _ in edges), edges[
        :5
    ]
    outage = [e for e in edges if e[0] == first_fail][0]
    assert outage[1] == first_ok_after
    assert "100000 samples" in chart.attrs["aria-label"]


def test_huge_outputs_and_tracebacks_are_truncated():
    journal = copy.deepcopy(COMPLETED)
    journal["run"][0]["output"] = "x" * 5_000_000
    journal["run"][0]["exception"] = ["Traceback\n"] + ["  frame\n"] * 200_000 + ["Boom: y\n"]
    html = build_report_html([journal])
    assert len(html) < 200_000
    assert "(4999400 more characters)" in html
    assert "✘ Boom: y" in html


def test_write_reports_for_gameday_run(tmp_path):
    from reports import write_reports

    bad = _write(tmp_path, "crashed.json", "")
    result = write_reports(
        [DATA / "completed-met.json", DATA / "deviated-missed.json", bad],
        tmp_path / "out",
        pushgateway="http://127.0.0.1:9",
        trend_dir=DATA / "nightly",
    )
    assert result["html"] == tmp_path / "out" / "report.html"
    assert result["junit"] == tmp_path / "out" / "junit.xml"
    assert result["pushed"] == 0
    assert result["problems"][0] == f"{bad}: empty file, not a journal"
    assert result["problems"][1].startswith("cannot push to http://127.0.0.1:9")
    html = result["html"].read_text()
    assert "crashed.json: empty file" in html and "Nightly trend" in html


def test_options_mount_on_a_gameday_subcommand(tmp_path):
    import argparse

    from reports.cli import build_parser, run_report

    parser = argparse.ArgumentParser(prog="gameday")
    sub = parser.add_subparsers(dest="command", required=True)
    build_parser(sub.add_parser("report", help="journals -> report.html, junit.xml, metrics"))
    out = tmp_path / "report.html"
    args = parser.parse_args(["report", str(DATA / "failed.json"), "-o", str(out)])
    assert run_report(args) == 0 and out.exists()
