"""Sandbox start/stop hygiene: threads, ports, work directory, one per process."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import requests

from chaosaws_ext.waiting import wait_until
from sandbox.server import Sandbox

TIME_SCALE = 0.02


def _port_open(address: tuple[str, int]) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(address) == 0


@pytest.mark.e2e
def test_stop_leaves_nothing_behind_and_a_second_sandbox_starts() -> None:
    baseline = {t.ident for t in threading.enumerate()}
    first = Sandbox(time_scale=TIME_SCALE)
    topology = first.start()
    host_port = topology.endpoint_url.removeprefix("http://").rsplit(":", 1)
    moto_address = (host_port[0], int(host_port[1]))
    addresses = [moto_address, topology.primary.alb_address, topology.standby.alb_address]
    addresses += list(topology.primary.api_instances.values())
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
    with Sandbox(time_scale=TIME_SCALE) as second:
        assert requests.get(second.api_url, timeout=5).status_code == 200
    assert {t.ident for t in threading.enumerate()} <= baseline


def test_given_workdir_is_kept(tmp_path: Path) -> None:
    with Sandbox(time_scale=TIME_SCALE, workdir=tmp_path / "box") as topology:
        assert Path(topology.env_file) == tmp_path / "box" / "sandbox.env"
    assert (tmp_path / "box" / "sandbox.env").exists()


def test_one_sandbox_per_process() -> None:
    with Sandbox(time_scale=TIME_SCALE, with_database=False):
        with pytest.raises(RuntimeError, match="another Sandbox runs in this process"):
            Sandbox(time_scale=TIME_SCALE).start()
