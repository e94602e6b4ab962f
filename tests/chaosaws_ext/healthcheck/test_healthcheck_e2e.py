"""Health-check path block through real processes against a moto server: a SIGKILL right
after inject followed by `gameday recover`, and the experiment through `chaos run`."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import REGION
from dnslib.server import DNSServer
from test_healthcheck import acl_state, build_world, listener_state
from test_healthcheck_dns import FailoverResolver

from chaosaws_ext.ledger import Ledger
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable, gameday_executable

ROOT = REPO
EXPERIMENT = ROOT / "experiments" / "healthcheck-path-block.yaml"
STAGING_ENV = ROOT / "experiments" / "env" / "staging.example.env"

INJECT_THEN_HANG = """
import sys, time
from chaosaws_ext.healthcheck.actions import block_health_check_path
from chaosaws_ext.runcontext import start_run

ledger, check, mechanism, region = sys.argv[1:5]
configuration = {"aws_region": region, "chaos_ledger_path": ledger}
start_run(configuration, "sigkill-test")
block_health_check_path(check, mechanism=mechanism, configuration=configuration)
print("INJECTED", flush=True)
time.sleep(120)
"""


def _read_line(stream: Any, timeout: float) -> str:
    """One stdout line, or "" when none arrives within ``timeout`` seconds."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


def _health_servers(hosts: tuple[str, ...]) -> list[ThreadingHTTPServer]:
    """One tiny /health server per loopback address, all on the same port."""

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    servers = [ThreadingHTTPServer((hosts[0], 0), Health)]
    port = servers[0].server_address[1]
    servers += [ThreadingHTTPServer((host, port), Health) for host in hosts[1:]]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


def _state(world: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return listener_state(world["listener_arn"]), acl_state(world["web_acl"])


@pytest.mark.e2e
@pytest.mark.parametrize("mechanism", ["listener-rule", "waf"])
def test_sigkill_after_inject_then_gameday_recover_restores(
    moto_endpoint: str, tmp_path: Path, mechanism: str
) -> None:
    world = build_world()
    before = _state(world)
    ledger = tmp_path / "ledger.jsonl"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            INJECT_THEN_HANG,
            str(ledger),
            world["health_check_id"],
            mechanism,
            REGION,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        line = _read_line(child.stdout, timeout=60)
        assert line.strip() == "INJECTED", child.stderr.read() if child.poll() is not None else ""
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        child.stdout.close()
        child.stderr.close()

    assert _state(world) != before
    assert [e.outcome for e in Ledger(ledger).unreverted()] == ["applied"]

    recovered = subprocess.run(
        [gameday_executable(), "recover", "--ledger", str(ledger)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )

    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "1 unreverted entry found, 0 left" in recovered.stdout
    assert _state(world) == before
    assert Ledger(ledger).unreverted() == []


@pytest.mark.e2e
@pytest.mark.parametrize("mechanism", ["listener-rule", "waf"])
def test_chaos_run_blocks_and_leaves_everything_as_found(
    moto_endpoint: str, tmp_path: Path, mechanism: str
) -> None:
    world = build_world()
    before = _state(world)
    dns = DNSServer(FailoverResolver(), port=0, address="127.0.0.1")
    dns.start_thread()
    host, port = dns.server.server_address[:2]
    # the endpoints the failover record answers; moto's ALB never touches them (RTO 0)
    health = _health_servers(("127.0.0.5", "127.0.0.7"))
    web_port = health[0].server_address[1]
    env = {
        **os.environ,
        "GAMEDAY_HEALTH_CHECK_ID": world["health_check_id"],
        "GAMEDAY_BLOCK_MECHANISM": mechanism,
        "GAMEDAY_LEDGER": str(tmp_path / "ledger.jsonl"),
        "GAMEDAY_HEALTH_CHECK_WAIT_SECONDS": "1",
        "GAMEDAY_DNS_SERVER": f"{host}:{port}",
        "GAMEDAY_FAILOVER_URL": f"http://api.ai-support.example.com:{web_port}/health",
        "GAMEDAY_QUIET_PERIOD": "1",
        "GAMEDAY_POLL_INTERVAL": "0.2",
    }
    journal = tmp_path / "journal.json"
    try:
        ran = subprocess.run(
            [
                chaos_executable(),
                "--no-version-check",
                "--no-log-file",
                "run",
                "--journal-path",
                str(journal),
                str(EXPERIMENT),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
            env=env,
        )
    finally:
        dns.stop()
        dns.server.server_close()
        for server in health:
            server.shutdown()
            server.server_close()

    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = json.loads(journal.read_text())
    assert result["status"] == "completed" and result["deviated"] is False
    outputs = {run["activity"]["name"]: run for run in result["run"]}
    block = outputs["block-health-check-path"]
    assert block["status"] == "succeeded", block
    assert block["output"]["mechanism"] == mechanism and block["output"]["path"] == "/health"
    waited = outputs["wait-for-health-check-unhealthy"]
    assert waited["status"] == "succeeded" and waited["output"]["reached"] is False
    assert outputs["failover-record-answer"]["output"]["answers"] == ["127.0.0.5", "127.0.0.7"]
    unblocked = outputs["end-block-unblock-health-check-path"]
    assert unblocked["status"] == "succeeded" and unblocked["output"]["reverted"] == 1
    (rollback,) = result["rollbacks"]
    assert rollback["status"] == "succeeded" and rollback["output"]["reverted"] == 0
    assert result["recovery"]["rto"]["measured_s"] == 0
    assert result["recovery"]["availability"]["ok"] == result["recovery"]["availability"]["samples"]
    assert result["safety"]["all_reverted"] is True
    assert _state(world) == before
    entries = Ledger(tmp_path / "ledger.jsonl").entries()
    assert len(entries) == 1 and entries[0].reverted


@pytest.mark.e2e
def test_chaos_validate_with_the_staging_example_env(tmp_path: Path) -> None:
    """`chaos validate` has no --var-file in chaostoolkit 1.19: load the env file into the
    environment (as --var-file does for `chaos run`) and validate."""
    env = dict(os.environ)
    for line in STAGING_ENV.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value
    validated = subprocess.run(
        [chaos_executable(), "--no-version-check", "--no-log-file", "validate", str(EXPERIMENT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "experiment syntax and semantic look valid" in validated.stdout + validated.stderr
