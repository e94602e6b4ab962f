"""Measurement clients of AWS: floored timeouts, warmed before t0, deadlines in the Sampler."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from chaosaws_ext.core.clients import MIN_PROBE_CLIENT_TIMEOUT_S, PROBE_CLIENT_TIMEOUT_S
from probes.markers import DynamoMarkers, LagPoller, MarkerWriter
from probes.samplers import Sampler, build_check

REGION = "eu-south-1"
OTHER_REGION = "eu-west-1"
SERVER_DELAY_S = 3.0  # longer than the probe client timeout floor: only the deadline ends it


@pytest.fixture
def slow_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """A local endpoint that answers every call after SERVER_DELAY_S (released at the
    end of the test); returns the monotonic times the requests arrived."""
    arrived: list[float] = []
    release = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            arrived.append(time.monotonic())
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            release.wait(SERVER_DELAY_S)
            body = b"{}"
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up first

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield arrived
    release.set()
    server.shutdown()
    server.server_close()


def test_a_tick_deadline_below_the_client_timeout_fails_on_time(
    slow_dynamodb: list[float],
) -> None:
    check = build_check({"kind": "dynamodb", "table": "tickets", "key": {"pk": "probe"}})
    deadline = 0.2
    with ThreadPoolExecutor(4) as pool:
        sampler = Sampler("slow", check, deadline, pool)
        tick = time.monotonic()
        sampler.tick(tick)
        recorded: list[Any] = []
        for _ in range(250):  # bounded: 2.5 s, less than the endpoint's delay
            sampler.sweep(time.monotonic())
            recorded = sampler.samples()
            if recorded:
                break
            time.sleep(0.01)
        failed_at = time.monotonic()
        sampler.finalize(0)
    assert slow_dynamodb, "the call never reached the endpoint"
    assert [(s.ok, s.error) for s in recorded] == [(False, "timeout")]
    # the deadline ended it, before the endpoint answered (on a loaded machine the sweep
    # may run late, so the bound is the endpoint's answer, not a sub-second time)
    assert deadline <= failed_at - tick < SERVER_DELAY_S
    client = check._client()
    assert client.meta.config.read_timeout >= MIN_PROBE_CLIENT_TIMEOUT_S


def _timeouts(client: Any) -> tuple[float, float, Any]:
    config = client.meta.config
    return config.connect_timeout, config.read_timeout, config.retries.get("total_max_attempts")


def test_probe_clients_are_never_created_with_sub_second_timeouts(mocked_aws: None) -> None:
    fast_tick = {"aws_region": REGION}
    check = build_check({"kind": "dynamodb", "table": "t", "key": {"pk": "a"}}, fast_tick)
    markers = DynamoMarkers("t", REGION, replica_region=OTHER_REGION, configuration=fast_tick)
    default = (PROBE_CLIENT_TIMEOUT_S, PROBE_CLIENT_TIMEOUT_S, 1)
    assert _timeouts(check._client()) == default
    assert _timeouts(markers.client(OTHER_REGION, probe=True)) == default

    asked_too_low = {"aws_region": REGION, "aws_probe_client_timeout": 0.08}
    check = build_check({"kind": "dynamodb", "table": "t", "key": {"pk": "a"}}, asked_too_low)
    floor = (MIN_PROBE_CLIENT_TIMEOUT_S, MIN_PROBE_CLIENT_TIMEOUT_S, 1)
    assert _timeouts(check._client()) == floor

    configured = {"aws_region": REGION, "aws_probe_client_timeout": "1.5"}
    markers = DynamoMarkers("t", REGION, configuration=configured)
    assert _timeouts(markers.client(REGION, probe=True)) == (1.5, 1.5, 1)


def _table(region: str) -> None:
    boto3.client("dynamodb", region_name=region).create_table(
        TableName="tickets",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _record(client: Any) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return calls


def test_sampler_marker_and_poller_clients_are_warmed_before_their_first_tick(
    mocked_aws: None,
) -> None:
    _table(REGION)
    _table(OTHER_REGION)
    check = build_check({"kind": "dynamodb", "table": "tickets", "key": {"pk": "a"}})
    markers = DynamoMarkers("tickets", REGION, replica_region=OTHER_REGION)
    # one measurement client per region, shared by the sampler and the markers
    assert check._client() is markers.client(REGION, probe=True)
    home = _record(markers.client(REGION, probe=True))
    replica = _record(markers.client(OTHER_REGION, probe=True))
    with ThreadPoolExecutor(4) as pool:
        sampler = Sampler("get", check, 1.0, pool)
        sampler.warm()
        assert home == ["DescribeTable"]
        writer = MarkerWriter(markers, "run-1", 60, pool)  # one tick: at start
        writer.start()
        writer.stop()
        assert home == ["DescribeTable", "DescribeTable", "PutItem"]
        poller = LagPoller(markers, writer, OTHER_REGION, 60, pool)
        poller.start()
        assert replica[0] == "DescribeTable"
        poller.stop()
        sampler.tick(time.monotonic())
        sampler.finalize(2)
    assert home[-1] == "GetItem"
