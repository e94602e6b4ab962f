"""Shared fixtures: a moto server on 127.0.0.1, in-process moto, a fresh run context."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from hypothesis import settings

from chaosaws_ext.core.clients import clear_client_cache
from chaosaws_ext.runcontext import RunContext, end_run, start_run

# Property tests: derandomized in CI (the same examples every run, so green stays green);
# HYPOTHESIS_PROFILE=thorough draws many random examples (CONTRIBUTING.md).
settings.register_profile("ci", derandomize=True, database=None, max_examples=40, deadline=None)
settings.register_profile("thorough", max_examples=400, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REGION = "eu-south-1"
OTHER_REGION = "eu-west-1"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@pytest.fixture(autouse=True)
def _isolated_aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test ever sees real credentials, a real profile or a real endpoint."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("GAMEDAY_"):
            monkeypatch.delenv(name, raising=False)
    for name, value in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GAMEDAY_ALLOWED_ACCOUNTS", "123456789012")  # moto's account
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    clear_client_cache()
    yield
    clear_client_cache()
    end_run()


@pytest.fixture(scope="session", autouse=True)
def _strict_elb_waf() -> Iterator[None]:
    """moto (in-process and the session server) as strict as AWS for ELBv2/WAFv2: rules
    quota, web ACL capacity and CheckCapacity, tag-value pattern (sandbox.behaviour)."""
    from sandbox.behaviour.elb_waf_strict import strict_elb_waf

    with strict_elb_waf():
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server for the session on a free loopback port; returns its URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point boto3 at the moto server, freshly reset for this test."""
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    clear_client_cache()
    yield moto_server
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)


@pytest.fixture
def mocked_aws() -> Iterator[None]:
    """In-process moto (no server)."""
    from moto import mock_aws

    with mock_aws():
        clear_client_cache()
        yield


@pytest.fixture
def run_context(tmp_path: Path) -> RunContext:
    """A fresh run whose ledger lives in the test's tmp folder."""
    return start_run({"chaos_ledger_path": str(tmp_path / "ledger.jsonl")}, "test-experiment")


@pytest.fixture
def ec2() -> boto3.client:
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A real PostgreSQL (pgserver, unix socket) for the session; its DSN."""
    import shutil
    import tempfile

    from sandbox.dataplane.postgres import import_pgserver

    pgserver = import_pgserver()

    folder = tempfile.mkdtemp(prefix="gameday-pg-")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def ok_http_url() -> Iterator[str]:
    """A local HTTP server answering 200 to every GET: a data plane moto never breaks."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
