"""The DB proxy in front of a real PostgreSQL: serve, refuse and kill, serve again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from chaosaws_ext.core.waiting import wait_until
from sandbox.rds.db_proxy import DbProxy
from sandbox.rds.postgres import PostgresBackend


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresBackend]:
    backend = PostgresBackend(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
    try:
        backend.start()
        yield backend
    finally:
        backend.stop()


class Switch:
    def __init__(self) -> None:
        self.on = threading.Event()
        self.on.set()

    def __call__(self) -> bool:
        return self.on.is_set()


class SeenSwitch(Switch):
    """A switch that remembers which threads asked while it was off."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_off_by: set[str] = set()

    def __call__(self) -> bool:
        on = self.on.is_set()
        if not on:
            self.seen_off_by.add(threading.current_thread().name)
        return on


def _connect(postgres: PostgresBackend, proxy: DbProxy) -> psycopg.Connection:
    return psycopg.connect(postgres.dsn_via(*proxy.address), connect_timeout=3, autocommit=True)


def test_psycopg_through_the_proxy(postgres: PostgresBackend) -> None:
    with DbProxy(postgres.socket_path) as proxy, _connect(postgres, proxy) as connection:
        connection.execute("create table if not exists tickets (id serial primary key, t text)")
        connection.execute("insert into tickets (t) values ('through the proxy')")
        count = connection.execute("select count(*) from tickets").fetchone()
        assert count is not None and count[0] >= 1
        assert proxy.active_connections() == 1
    assert postgres.dsn.startswith("postgresql://")


def test_not_accepting_refuses_and_kills_then_serves_again(postgres: PostgresBackend) -> None:
    switch = Switch()
    with DbProxy(postgres.socket_path, accepting=switch, poll_interval=0.02) as proxy:
        established = _connect(postgres, proxy)
        assert established.execute("select 1").fetchone() == (1,)

        switch.on.clear()  # failover window opens
        wait_until(lambda: proxy.active_connections() == 0, 5, 0.02, "connections killed")
        with pytest.raises(psycopg.OperationalError):
            established.execute("select 1")
        established.close()
        with pytest.raises(psycopg.OperationalError):
            _connect(postgres, proxy)
        assert proxy.killed == 1 and proxy.refused >= 1

        switch.on.set()  # failover done: the standby serves
        with _connect(postgres, proxy) as again:
            assert again.execute("select 1").fetchone() == (1,)


def test_dropped_packets_hold_connections_unanswered_then_deliver(
    postgres: PostgresBackend,
) -> None:
    """A NACL dropping the client's packets: no answer and no reset (a timeout), the
    established connection's bytes wait; once the packets pass, both go on."""
    switch = Switch()
    with DbProxy(postgres.socket_path, reachable=switch, poll_interval=0.02) as proxy:
        established = _connect(postgres, proxy)
        switch.on.clear()
        with pytest.raises(psycopg.OperationalError, match="timeout"):
            psycopg.connect(postgres.dsn_via(*proxy.address), connect_timeout=1)
        assert proxy.held >= 1 and proxy.refused == 0
        answered: list[object] = []
        query = threading.Thread(
            target=lambda: answered.append(established.execute("select 7").fetchone())
        )
        query.start()
        query.join(0.5)
        assert query.is_alive() and answered == []  # the query's bytes are not delivered
        retried: list[object] = []  # a client connecting while dropped, then served

        def connect_late() -> None:
            with _connect(postgres, proxy) as late:
                retried.append(late.execute("select 8").fetchone())

        late = threading.Thread(target=connect_late)
        late.start()
        wait_until(lambda: proxy.held >= 2, 5, 0.02, "the late connection held")
        switch.on.set()
        query.join(5)
        late.join(5)
        assert answered == [(7,)] and retried == [(8,)]
        with _connect(postgres, proxy) as again:
            assert again.execute("select 1").fetchone() == (1,)
        established.close()


def test_tcp_upstream_and_unreachable_upstream(postgres: PostgresBackend) -> None:
    with DbProxy(postgres.socket_path) as inner:
        host, port = inner.address
        with DbProxy(host, port) as outer, _connect(postgres, outer) as connection:
            assert connection.execute("select 2").fetchone() == (2,)
    with DbProxy(str(Path(postgres.socket_path).with_name("missing"))) as broken:
        with pytest.raises(psycopg.OperationalError):
            _connect(postgres, broken)
        assert broken.refused == 1


def test_data_stays_in_the_workdir_across_restarts(tmp_path: Path) -> None:
    workdir = tmp_path / "pgdata"
    with PostgresBackend(workdir) as backend:
        with psycopg.connect(backend.dsn, autocommit=True) as connection:
            connection.execute("create table kept (v int)")
            connection.execute("insert into kept values (42)")
    assert (workdir / "PG_VERSION").exists()
    assert not (workdir / "postmaster.pid").exists()
    with PostgresBackend(workdir) as backend, psycopg.connect(backend.dsn) as connection:
        assert connection.execute("select v from kept").fetchone() == (42,)
    assert backend.data_dir == workdir  # a private copy, if any, is gone


def test_two_endpoints_on_one_port_get_different_loopback_addresses() -> None:
    """Same candidate order for both (one seed): the second cannot bind the first's
    address and takes the next one."""
    import random
    import socket

    from sandbox.rds.endpoint import bind_free_loopback

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def listen(host: str) -> socket.socket:
        return socket.create_server((host, port))

    first = bind_free_loopback(listen, rng=random.Random(7))
    try:
        second = bind_free_loopback(listen, rng=random.Random(7))
        try:
            assert first.getsockname()[0] != second.getsockname()[0]
            assert first.getsockname()[1] == second.getsockname()[1] == port
        finally:
            second.close()
    finally:
        first.close()


def test_described_endpoints_patch_moto_and_put_it_back() -> None:
    from types import SimpleNamespace

    from moto.rds.models import DBInstance

    from sandbox.rds.endpoint import DescribedEndpoints

    original = DBInstance.__dict__["address"]
    endpoints = DescribedEndpoints()
    endpoints.set_address("111122223333", "eu-south-1", "db-1", "127.64.0.9")
    ours = SimpleNamespace(
        account_id="111122223333", region="eu-south-1", db_instance_identifier="db-1"
    )
    other = SimpleNamespace(
        account_id="111122223333", region="eu-south-1", db_instance_identifier="db-2"
    )
    with endpoints:
        assert DBInstance.address.fget(ours) == "127.64.0.9"  # type: ignore[attr-defined]
        assert DBInstance.address.fget(other) == (  # type: ignore[attr-defined]
            "db-2.aaaaaaaaaa.eu-south-1.rds.amazonaws.com"
        )
    assert DBInstance.__dict__["address"] is original
    endpoints.stop()  # idempotent
    assert DBInstance.__dict__["address"] is original


def test_a_connection_held_across_a_failover_is_never_served(postgres: PostgresBackend) -> None:
    """Held while the writer's subnet drops packets, then a failover window (the standby
    takes over in a reachable subnet): the held connection went to the old writer and
    times out; one made after the switch is served."""
    reachable, accepting = Switch(), SeenSwitch()
    with DbProxy(
        postgres.socket_path, reachable=reachable, accepting=accepting, poll_interval=0.02
    ) as proxy:
        reachable.on.clear()  # the writer's subnet blackholed
        outcome: list[str] = []

        def connect_held() -> None:
            try:
                with psycopg.connect(postgres.dsn_via(*proxy.address), connect_timeout=2):
                    outcome.append("served")
            except psycopg.OperationalError as error:
                outcome.append("timeout" if "timeout" in str(error) else str(error))

        held = threading.Thread(target=connect_held)
        held.start()
        wait_until(lambda: proxy.held >= 1, 5, 0.02, "the connection held")
        accepting.on.clear()  # the forced failover's window
        wait_until(lambda: "db-proxy-held" in accepting.seen_off_by, 5, 0.02, "window seen")
        reachable.on.set()  # the new writer's subnet passes the client's packets
        accepting.on.set()
        held.join(5)
        assert outcome == ["timeout"]
        with _connect(postgres, proxy) as fresh:
            assert fresh.execute("select 1").fetchone() == (1,)
