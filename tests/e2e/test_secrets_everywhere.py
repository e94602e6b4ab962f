"""No secret value anywhere we write: a plain ``chaos run`` of each experiment against the
sandbox and a ``gameday run --sandbox``, with secrets supplied every way (environment,
var file, inline, credential-named configuration, DSN password) and used by a probe that
fails with them in its error; then every file written and the console are grepped."""

from __future__ import annotations

import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosaws_ext.core.redaction import MASK
from chaosaws_ext.ledger import Ledger
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable

pytestmark = pytest.mark.e2e
ROOT = REPO
EXPERIMENTS = (
    "az-nacl-blackhole",
    "rds-forced-failover",
    "healthcheck-path-block",
    "dynamodb-replica-conflict",
)
_RUN = uuid.uuid4().hex[:10]
SECRETS = {
    "env (referenced from secrets)": f"env-secret-{_RUN}",
    "inline in secrets": f"inline-secret-{_RUN}",
    "var file secrets": f"varfile-secret-{_RUN}",
    "api_token from the var file": f"api-token-{_RUN}",
    "service_token inline in configuration": f"svc-token-{_RUN}",
    "db_password from the env (in the DSN)": f"dsnqpw{_RUN}",
    "password in GAMEDAY_DB_DSN": f"dsnuserpw{_RUN}",
}
ENV_SECRET, INLINE, VAR_FILE, API_TOKEN, SERVICE_TOKEN, DB_PASSWORD, DSN_PASSWORD = SECRETS.values()
LEAK = (
    "${from_env} ${inline_secret} ${from_var_file} ${api_token} ${service_token} "
    "${db_password} ${db_dsn}?password=${db_password}"
)


def _secret_laden(source: Path, target: Path) -> None:
    """The experiment, plus secrets of every kind, a DSN with a password, a metrics
    textfile, and a method probe that fails with every secret in its error line."""
    doc = yaml.safe_load(source.read_text())
    configuration = doc.setdefault("configuration", {})
    configuration["service_token"] = SERVICE_TOKEN
    configuration["api_token"] = "set-by-the-var-file"
    configuration["db_password"] = {"type": "env", "key": "SECRETS_TEST_DB_PASSWORD"}
    configuration.setdefault("db_dsn", {"type": "env", "key": "GAMEDAY_DB_DSN", "default": ""})
    doc["secrets"] = {
        "app": {
            "from_env": {"type": "env", "key": "SECRETS_TEST_FROM_ENV"},
            "inline_secret": INLINE,
        },
        "vf": {"from_var_file": "set-by-the-var-file"},
    }

    def with_password(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: with_password(v) for k, v in node.items()}
        if isinstance(node, list):
            return [with_password(v) for v in node]
        if node == "${db_dsn}":
            return "${db_dsn}?password=${db_password}"
        return node

    controls = with_password(doc["controls"])
    metrics = {
        "name": "prometheus",
        "provider": {
            "type": "python",
            "module": "reports.prometheus_control",
            "arguments": {"textfile": f"{source.stem}.prom"},
        },
    }
    doc["controls"] = [*controls[:-1], metrics, controls[-1]]  # safety stays last
    doc["method"].append(
        {
            "type": "probe",
            "name": "reach-the-vault",
            "provider": {
                "type": "python",
                "module": "ipaddress",
                "func": "ip_address",
                "arguments": {"address": LEAK},
            },
        }
    )
    target.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Experiments and var files: the only files allowed to hold the secrets."""
    folder = tmp_path_factory.mktemp("inputs")
    for name in EXPERIMENTS:
        _secret_laden(ROOT / "experiments" / f"{name}.yaml", folder / f"{name}.yaml")
    (folder / "vars.yaml").write_text(
        yaml.safe_dump(
            {
                "configuration": {"api_token": API_TOKEN},
                "secrets": {"vf": {"from_var_file": VAR_FILE}},
            }
        )
    )
    return folder


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_", "PG"))}
    env.update(SECRETS_TEST_FROM_ENV=ENV_SECRET, SECRETS_TEST_DB_PASSWORD=DB_PASSWORD)
    return env


@pytest.fixture(scope="module")
def sandbox_env_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``gameday sandbox up`` in the background; the env file it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gameday", "sandbox", "up"],
        cwd=tmp_path_factory.mktemp("sandbox-cwd"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True).start()
    env_file = None
    deadline = time.monotonic() + 120
    try:
        while env_file is None and time.monotonic() < deadline and process.poll() is None:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line.startswith("env file: "):
                env_file = Path(line.removeprefix("env file: ").strip())
        assert env_file is not None, "the sandbox did not start"
        yield env_file
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _sandbox_dsn(env_file: Path) -> str:
    for line in env_file.read_text().splitlines():
        if line.startswith("GAMEDAY_DB_DSN="):
            return line.split("=", 1)[1]
    raise AssertionError("no GAMEDAY_DB_DSN in the sandbox env file")


def _leaks(folder: Path, console: str) -> list[str]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path}: {kind}" for kind, v in SECRETS.items() if v.encode() in data]
    found += [f"console: {kind}" for kind, value in SECRETS.items() if value in console]
    return found


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_plain_chaos_runs_write_no_secret(
    inputs: Path, sandbox_env_file: Path, tmp_path: Path
) -> None:
    dsn = _sandbox_dsn(sandbox_env_file).replace("postgres@", f"postgres:{DSN_PASSWORD}@", 1)
    assert DSN_PASSWORD in dsn
    (inputs / "db.env").write_text(f"GAMEDAY_DB_DSN={dsn}\n")
    chaos = chaos_executable()
    for name in EXPERIMENTS:
        cwd = tmp_path / name
        cwd.mkdir()
        env = {**_env(), "GAMEDAY_LEDGER": str(cwd / "ledger.jsonl")}
        done = subprocess.run(
            [chaos, "--no-version-check", "run", "--journal-path", "journal.json",
             "--var-file", str(sandbox_env_file), "--var-file", str(inputs / "db.env"),
             "--var-file", str(inputs / "vars.yaml"), str(inputs / f"{name}.yaml")],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        console = done.stdout + done.stderr
        assert "Experiment ended with status" in console, console[-3000:]
        # the secrets were really used: the failing probe's line shows them masked
        failed = [line for line in console.splitlines() if "=> failed: ValueError" in line]
        assert failed and failed[0].count(MASK) >= 6, console[-3000:]
        assert f"password={MASK}" in failed[0], failed[0]
        assert _leaks(cwd, console) == [], name
        assert _private(cwd / "chaostoolkit.log"), name
        assert (cwd / f"{name}.prom").exists(), name
        assert Ledger(cwd / "ledger.jsonl").unreverted() == [], name
    rds = (tmp_path / "rds-forced-failover" / "ledger.jsonl").read_text()
    assert "measurement-markers" in rds  # the DSN path is in the ledger, without password


def test_gameday_run_writes_no_secret(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "run", "--sandbox", "--out", str(out),
         "--var-file", str(inputs / "vars.yaml"),
         *(str(inputs / f"{name}.yaml") for name in EXPERIMENTS)],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    console = done.stdout + done.stderr
    assert "journals, ledger and reports in" in done.stdout, console[-3000:]
    for name in EXPERIMENTS:
        log = out / f"{name}.chaos.log"
        assert _private(log), name
        assert "reach-the-vault" in log.read_text() and MASK in log.read_text(), name
        assert (tmp_path / f"{name}.prom").exists(), name
    assert (out / "report.html").exists() and (out / "junit.xml").exists()
    assert "measurement-markers" in (out / "ledger.jsonl").read_text()
    assert Ledger(out / "ledger.jsonl").unreverted() == []
    assert _leaks(tmp_path, console) == []
