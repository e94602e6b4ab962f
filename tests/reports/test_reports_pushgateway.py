"""A real Prometheus Pushgateway on 127.0.0.1: push, then scrape ``/metrics``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_reports_dom import DATA, FIXTURES

from reports import load_journals, push_metrics
from reports.prometheus_control import after_experiment_control

PUSHGATEWAY = shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway"

pytestmark = pytest.mark.skipif(
    not os.path.exists(PUSHGATEWAY),
    reason="prometheus-pushgateway not installed (apt-get install prometheus-pushgateway)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def pushgateway(tmp_path) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            PUSHGATEWAY,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--persistence.file={tmp_path / 'pushgateway.data'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"pushgateway did not become ready on {url}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def scrape(url: str) -> dict[tuple[str, str, str | None], tuple[float, dict[str, str]]]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("gameday_"):
                key = (sample.name, sample.labels["experiment"], sample.labels.get("verdict"))
                found[key] = (sample.value, sample.labels)
    return found


def test_push_then_scrape(pushgateway):
    journals, _ = load_journals(FIXTURES)
    assert push_metrics(journals, pushgateway) == len(journals)
    metrics = scrape(pushgateway)
    value, labels = metrics[("gameday_rto_measured_seconds", "RDS Multi-AZ failover", None)]
    assert value == 41.25
    assert labels == {
        "experiment": "RDS Multi-AZ failover",
        "service": "rds-analytics",
        "environment": "sandbox",
        "job": "gameday",
        "instance": "",
    }
    assert metrics[("gameday_rpo_measured_seconds", "DynamoDB regional outage", None)][0] == 3.4
    assert metrics[("gameday_rpo_target_seconds", "DynamoDB regional outage", None)][0] == 1
    assert metrics[("gameday_target_met", "DynamoDB regional outage", None)][0] == 0
    assert metrics[("gameday_verdict", "ALB target group drain", "interrupted")][0] == 1
    assert metrics[("gameday_faults_reverted", "ALB target group drain", None)][0] == 0
    # one group per experiment: pushing one run again leaves the others in place
    push_metrics([journals[0]], pushgateway)
    assert len({k[1] for k in scrape(pushgateway)}) == len(journals)


def test_control_pushes_from_live_state(pushgateway):
    state = json.loads((DATA / "completed-met.json").read_text())
    after_experiment_control(state["experiment"], state, pushgateway_url=pushgateway)
    metrics = scrape(pushgateway)
    assert metrics[("gameday_rto_measured_seconds", "RDS Multi-AZ failover", None)][0] == 41.25
    assert metrics[("gameday_target_met", "RDS Multi-AZ failover", None)][0] == 1
    assert "recovery" in state  # the live journal is read, never changed


def test_control_never_raises_when_the_gateway_is_down(caplog):
    state = json.loads((DATA / "completed-met.json").read_text())
    after_experiment_control(
        {}, state, pushgateway_url=f"http://127.0.0.1:{_free_port()}", timeout=2
    )
    assert "push to" in caplog.text and "failed" in caplog.text


@pytest.mark.e2e
def test_real_chaos_run_with_the_control(pushgateway, tmp_path):
    """chaos run -> stand-in measurement control -> our control -> Pushgateway."""
    experiment = {
        "version": "1.0.0",
        "title": "control e2e",
        "description": "the prometheus control at the end of a real run",
        "controls": [
            {
                "name": "measure",
                "provider": {
                    "type": "python",
                    "module": "journal_controls",
                    "arguments": {"rto_s": 12.5},
                },
            },
            {
                "name": "prometheus",
                "provider": {
                    "type": "python",
                    "module": "reports.prometheus_control",
                    "arguments": {"pushgateway_url": pushgateway},
                },
            },
        ],
        "steady-state-hypothesis": {
            "title": "ok",
            "probes": [
                {
                    "type": "probe",
                    "name": "ok",
                    "tolerance": 1,
                    "provider": {"type": "python", "module": "journal_providers", "func": "always"},
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "noop",
                "provider": {"type": "python", "module": "journal_providers", "func": "always"},
            }
        ],
    }
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(DATA), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaostoolkit",
            "--no-log-file",
            "run",
            "--journal-path",
            str(tmp_path / "journal.json"),
            str(path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = scrape(pushgateway)
    assert metrics[("gameday_rto_measured_seconds", "control e2e", None)][0] == 12.5
    assert metrics[("gameday_verdict", "control e2e", "met")][0] == 1
