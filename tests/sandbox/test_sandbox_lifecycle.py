"""Sandbox start/stop hygiene: threads, ports, work directory, one per process."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import requests

from chaosaws_ext.core.waiting import wait_until
from sandbox.server import Sandbox

TIME_SCALE = 0.02


def _port_open(address: tuple[str, int]) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(address) == 0


def _address(url_or_dsn: str) -> tuple[str, int]:
    host, port = url_or_dsn.split("@")[-1].split("//")[-1].split("/")[0].rsplit(":", 1)
    return host, int(port)


@pytest.mark.e2e
def test_stop_leaves_nothing_behind_and_a_second_sandbox_starts(tmp_path: Path) -> None:
    baseline = {t.ident for t in threading.enumerate()}
    first = Sandbox(time_scale=TIME_SCALE, health_check_request_interval=10)
    topology = first.start()
    with pytest.raises(RuntimeError, match="another Sandbox runs in this process"):
        Sandbox(time_scale=TIME_SCALE, health_check_request_interval=10).start()
    addresses = [
        _address(topology.endpoint_url),
        _address(topology.db_dsn),
        topology.primary.alb_address,
        topology.standby.alb_address,
        *[
            (node, side.listener_port)
            for side in (topology.primary, topology.standby)
            for node in side.alb_nodes.values()
        ],  # fmt: skip
        *topology.primary.api_instances.values(),
        *topology.standby.api_instances.values(),
        topology.dns_server,  # TCP side of the DNS server
    ]
    assert all(_port_open(a) for a in addresses)
    workdir = Path(topology.workdir)
    assert workdir.is_dir()
    first.stop()
    first.stop()  # idempotent
    assert not workdir.exists()
    assert not any(_port_open(a) for a in addresses)
    wait_until(
        lambda: {t.ident for t in threading.enumerate()} <= baseline,
        timeout=10,
        interval=0.05,
        what="threads back to baseline",
    )
    # a second one, in a work directory we keep
    with Sandbox(
        time_scale=TIME_SCALE, workdir=tmp_path / "box", health_check_request_interval=10
    ) as second:
        assert requests.get(second.api_url, timeout=5).status_code == 200
        assert Path(second.env_file) == tmp_path / "box" / "sandbox.env"
    assert (tmp_path / "box" / "sandbox.env").exists()
    assert {t.ident for t in threading.enumerate()} <= baseline
