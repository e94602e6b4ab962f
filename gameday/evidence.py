"""The evidence pack of a game day: what an auditor keeps to show the DR test happened.

``gameday evidence DIR`` (and ``gameday run --evidence``) writes ``DIR/evidence/``:

- ``experiments/``: a copy of the experiment files, targets.yaml and schedule.yaml used;
- ``report.html``: the report of DIR's journals with the scorecard of DIR's history first;
- ``report.pdf``: that report printed by headless Chromium (Debian ``chromium``); without
  chromium, one line says so and the manifest is written all the same;
- ``manifest.json``: the SHA-256 of every journal, ledger, report and experiment file,
  tool and library versions, the git commit of the experiments when known, and the
  account, regions and operator (from the journals and from CI variables; names of
  variables are fixed here, so no secret value is ever copied).

``gameday evidence verify DIR`` recomputes every hash and names each changed, missing or
added file (exit 1). The manifest's own SHA-256 is printed on writing, for keeping
somewhere the pack's owner cannot rewrite (a CI log).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from gameday.errors import UserError
from reports.html import render_html
from reports.journal import Journal, load_journals
from reports.plan import PlanError, default_experiments_dir, load_plan
from reports.redaction import secret_values_from_var_files
from reports.verdicts import summarise

__all__ = ["EvidenceError", "verify_evidence", "write_evidence"]

logger = logging.getLogger(__name__)

EVIDENCE = "evidence"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
#: the distributions whose versions the manifest records
LIBRARIES = (
    "chaosaws-ext",
    "chaostoolkit",
    "chaostoolkit-lib",
    "boto3",
    "botocore",
    "Jinja2",
    "PyYAML",
    "moto",
)
#: environment variables that say who ran it and where (never a credential)
CONTEXT_VARIABLES = (
    "GITHUB_ACTOR",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_WORKFLOW",
    "GITHUB_SHA",
    "GITLAB_USER_LOGIN",
    "CI_PIPELINE_URL",
    "BUILD_URL",
    "GAMEDAY_OPERATOR",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "KUBERNETES_POD_NAME",
)
_OPERATOR_VARIABLES = ("GAMEDAY_OPERATOR", "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "USER")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: seconds Chromium may take to print the report (it is one self-contained file)
PRINT_TIMEOUT_S = 120


class EvidenceError(UserError):
    """The evidence pack cannot be written or read (one line)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind(relative: str) -> str | None:
    """What a file of DIR is in the pack, or None when it is not evidence."""
    name = relative.rsplit("/", 1)[-1]
    if relative == f"{EVIDENCE}/{MANIFEST}" or name.endswith(".tmp"):
        return None
    if relative.startswith(f"{EVIDENCE}/experiments/"):
        if name == "targets.yaml":
            return "targets"
        if name == "schedule.yaml":
            return "schedule"
        return "experiment"
    if name.endswith(".journal.json") or (
        relative.startswith("history/") and name.endswith(".json")
    ):
        return "journal"
    if name.endswith(".jsonl"):
        return "ledger"
    if name in ("report.html", "junit.xml", "report.pdf", "metrics.prom"):
        return "report"
    return None


def _evidence_files(folder: Path) -> dict[str, str]:
    """relative path -> kind, for every evidence file under ``folder``."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            relative = path.relative_to(folder).as_posix()
            kind = _kind(relative)
            if kind:
                files[relative] = kind
    return files


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _git_commit(folder: Path) -> dict[str, Any] | None:
    """The commit of the experiments' checkout and whether it had local changes."""
    git = shutil.which("git")
    if not git:
        return None
    try:
        head = subprocess.run(
            [git, "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            [git, "-C", str(folder), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": head.stdout.strip(), "local_changes": bool(status.stdout.strip())}


def _context(journals: list, environ: dict[str, str]) -> dict[str, Any]:
    summaries = [summarise(j) for j in journals]
    operator = next((environ[v] for v in _OPERATOR_VARIABLES if environ.get(v)), None)
    return {
        "accounts": sorted({s.account for s in summaries if s.account}),
        "regions": sorted({s.region for s in summaries if s.region}),
        "environments": sorted({s.environment for s in summaries}),
        "operator": operator,
        "ci": {name: environ[name] for name in CONTEXT_VARIABLES if environ.get(name)},
        "host": platform.node(),
    }


def chromium_executable() -> str | None:
    override = os.environ.get("GAMEDAY_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def _chromium_version(chromium: str) -> str | None:
    try:
        done = subprocess.run(
            [chromium, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def print_pdf(chromium: str, html: Path, pdf: Path) -> None:
    """Print ``html`` to ``pdf`` with headless Chromium; EvidenceError on failure."""
    with tempfile.TemporaryDirectory(prefix="gameday-chromium-") as profile:
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise EvidenceError(f"chromium took over {PRINT_TIMEOUT_S} s to print {html}") from None
        except OSError as error:
            raise EvidenceError(f"cannot start {chromium}: {error.strerror or error}") from None
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EvidenceError(f"chromium did not print {html} (exit {done.returncode}: {last})")


def write_evidence(
    folder: Path,
    *,
    experiments_dir: Path | None = None,
    now: datetime | None = None,
    environ: dict[str, str] | None = None,
    var_files: list[Path] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """Write ``folder/evidence/`` (see the module docstring); returns the manifest.
    ``var_files``: the run's chaos var files, whose secret values the report masks."""
    folder = Path(folder)
    environ = dict(os.environ if environ is None else environ)
    if not folder.is_dir():
        raise EvidenceError(f"{folder}: not a folder (the --out of a game day)")
    journals, problems = load_journals(sorted(folder.glob("*.journal.json")))
    if problems:
        raise EvidenceError(problems[0])
    if not journals:
        raise EvidenceError(f"{folder}: holds no *.journal.json (the --out of a game day)")
    source = Path(experiments_dir) if experiments_dir else default_experiments_dir()
    try:
        plan = load_plan(source)
    except PlanError as error:
        raise EvidenceError(str(error)) from None
    out = folder / EVIDENCE
    copies = out / "experiments"
    if copies.exists():
        shutil.rmtree(copies)
    copies.mkdir(parents=True)
    for path in sorted(source.glob("*.yaml")):
        shutil.copy2(path, copies / path.name)
    history: list[Journal] = []
    skipped: list[str] = []
    if (folder / "history").is_dir():
        history, skipped = load_journals([folder / "history"], skip_foreign_json=True)
    extra: list[str] = []
    for journal in journals:
        extra += secret_values_from_var_files(var_files, journal.experiment)
    report = render_html(
        journals,
        out / "report.html",
        trend_journals=history or journals,
        extra_secret_values=extra,
        skipped=skipped,
        plan=plan,
        generated_at=now,
    )
    pdf: dict[str, Any] = {"file": None, "chromium": None, "note": None}
    chromium = chromium_executable()
    (out / "report.pdf").unlink(missing_ok=True)
    if chromium is None:
        pdf["note"] = "chromium not installed: no PDF (apt-get install chromium)"
        print(f"evidence: {pdf['note']}; writing the manifest anyway", file=sys.stderr)
    else:
        print_pdf(chromium, report, out / "report.pdf")
        pdf.update(file=f"{EVIDENCE}/report.pdf", chromium=_chromium_version(chromium))
    files = _evidence_files(folder)
    manifest = {
        "version": MANIFEST_VERSION,
        "written_at": (now or datetime.now(UTC)).isoformat(),
        "tool": "gameday evidence",
        "versions": _versions(),
        "experiments": {
            "copied_to": f"{EVIDENCE}/experiments",
            "git": _git_commit(source),
        },
        "context": _context(journals, environ),
        "pdf": pdf,
        "files": [
            {
                "path": path,
                "kind": kind,
                "sha256": _sha256(folder / path),
                "bytes": (folder / path).stat().st_size,
            }
            for path, kind in files.items()
        ],
    }
    target = out / MANIFEST
    tmp = target.with_name(MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(target)
    print(
        f"evidence: {target} ({len(files)} files; manifest sha256 {_sha256(target)})",
        file=sys.stderr,
    )
    return manifest


def verify_evidence(folder: Path) -> list[str]:
    """One line per file that differs from the manifest (changed, missing, added)."""
    folder = Path(folder)
    target = folder / EVIDENCE / MANIFEST
    try:
        manifest = json.loads(target.read_text(encoding="utf-8"))
        recorded = {item["path"]: item for item in manifest["files"]}
    except FileNotFoundError:
        raise EvidenceError(
            f"{target}: no manifest (run `gameday evidence {folder}` first)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EvidenceError(f"{target}: not a usable manifest ({error})") from None
    problems = []
    for path, item in recorded.items():
        file = folder / path
        if not file.is_file():
            problems.append(f"MISSING {path} ({item.get('kind')})")
        elif _sha256(file) != item.get("sha256"):
            problems.append(
                f"CHANGED {path} ({item.get('kind')}): sha256 differs from the manifest"
            )
    for path, kind in _evidence_files(folder).items():
        if path not in recorded:
            problems.append(f"ADDED {path} ({kind}): not in the manifest")
    return problems
