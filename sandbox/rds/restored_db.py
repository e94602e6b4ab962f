"""The restored DB instance's database: a second, real PostgreSQL holding the source's
data as of the restore point and nothing after it, behind its own endpoint.

The twin keeps no WAL archive, so the content is rebuilt from the source's rows: every
table of the source's databases with a ``written_at`` timestamp column (the write
markers' ``gameday_markers`` among them) is copied with the rows written at or before
the restore point; tables without that column are not restored (the twin cannot know
what they held then). The server starts from the cached initialised data directory
(:mod:`sandbox.pgdata_cache`), so starting one takes about a second, and listens on a
loopback address of its own (:func:`sandbox.rds.endpoint.bind_free_loopback`) through a
:class:`~sandbox.rds.db_proxy.DbProxy` that accepts connections only while the
emulated instance is ``available``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sandbox.lifecycle import Lifecycle
from sandbox.pgdata_cache import copy_pgdata, pgdata_template
from sandbox.rds.db_proxy import DbProxy
from sandbox.rds.endpoint import bind_free_loopback
from sandbox.rds.postgres import PostgresBackend

__all__ = ["RestoredDatabase", "TIMESTAMP_COLUMN"]

log = logging.getLogger(__name__)

TIMESTAMP_COLUMN = "written_at"


def _dsn_for(dsn: str, database: str) -> str:
    """``dsn`` (a libpq URI) pointed at another database of the same server."""
    import psycopg.conninfo

    params = psycopg.conninfo.conninfo_to_dict(dsn)
    params["dbname"] = database
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})


class RestoredDatabase(Lifecycle):
    """One restored instance's PostgreSQL and endpoint.

    ``start()`` starts the server (empty) and its proxy and returns the endpoint's
    address; :meth:`load_as_of` then copies the source's rows up to the restore point.
    ``stop()`` stops both and removes the data directory (the instance is deleted).
    """

    def __init__(
        self,
        workdir: Path,
        source_dsn: str,
        accepting: Callable[[], bool],
        port: int = 5432,
    ) -> None:
        self.workdir = workdir
        self.source_dsn = source_dsn
        self.accepting = accepting
        self.port = port
        self.backend: PostgresBackend | None = None
        self.proxy: DbProxy | None = None
        self.rows_restored = 0
        self._layout: dict[str, list[tuple[str, list[tuple[str, str]]]]] | None = None

    def start(self) -> tuple[str, int]:
        if self.proxy is not None:
            return self.proxy.address
        # a fresh copy each time: a restore never starts from another one's leftovers
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.parent.mkdir(parents=True, exist_ok=True)
        copy_pgdata(pgdata_template(PostgresBackend), self.workdir)
        self.backend = PostgresBackend(self.workdir)
        socket_path = self.backend.start()
        accepting = self.accepting

        def proxy_on(host: str) -> DbProxy:
            proxy = DbProxy(socket_path, accepting=accepting, host=host, port=self.port)
            proxy.start()
            return proxy

        self.proxy = bind_free_loopback(proxy_on)
        return self.proxy.address

    def _source_databases(self) -> list[str]:
        import psycopg

        with psycopg.connect(self.source_dsn, autocommit=True, connect_timeout=10) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname"
            ).fetchall()
        return [str(r[0]) for r in rows]

    def _tables(self) -> dict[str, list[tuple[str, list[tuple[str, str]]]]]:
        """Database -> its public tables with a ``written_at`` timestamp, and columns."""
        import psycopg

        found: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {}
        for database in self._source_databases():
            with psycopg.connect(
                _dsn_for(self.source_dsn, database), autocommit=True, connect_timeout=10
            ) as src:
                names = src.execute(
                    "SELECT table_name FROM information_schema.columns WHERE "
                    "table_schema = 'public' AND column_name = %s AND data_type LIKE "
                    "'timestamp%%' ORDER BY table_name",
                    (TIMESTAMP_COLUMN,),
                ).fetchall()
                found[database] = [
                    (
                        str(name),
                        [
                            (str(c), str(k))
                            for c, k in src.execute(
                                "SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_schema = 'public' AND table_name = %s "
                                "ORDER BY ordinal_position",
                                (name,),
                            ).fetchall()
                        ],
                    )
                    for (name,) in names
                ]
        return found

    def prepare(self) -> None:
        """Create the source's databases and timestamped tables, empty (CREATE DATABASE
        takes a while: done during the restore window)."""
        import psycopg
        from psycopg import sql

        assert self.backend is not None, "start() first"
        self._layout = self._tables()
        for database, tables in self._layout.items():
            self.backend.create_database(database)
            with psycopg.connect(
                _dsn_for(self.backend.dsn, database), autocommit=True, connect_timeout=10
            ) as dst:
                for table, columns in tables:
                    definition = sql.SQL(", ").join(
                        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(k)) for c, k in columns
                    )
                    dst.execute(
                        sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                            sql.Identifier(table), definition
                        )
                    )

    def load_as_of(self, restore_point: datetime) -> int:
        """Copy the source's timestamped rows written at or before ``restore_point``
        into the tables :meth:`prepare` made; returns how many rows were restored."""
        import psycopg
        from psycopg import sql

        assert self.backend is not None, "start() first"
        if self._layout is None:
            self.prepare()
        total = 0
        for database, tables in (self._layout or {}).items():
            with (
                psycopg.connect(
                    _dsn_for(self.source_dsn, database), autocommit=True, connect_timeout=10
                ) as src,
                psycopg.connect(
                    _dsn_for(self.backend.dsn, database), autocommit=True, connect_timeout=10
                ) as dst,
            ):
                for table, _columns in tables:
                    select = sql.SQL("COPY (SELECT * FROM {} WHERE {} <= {}) TO STDOUT").format(
                        sql.Identifier(table),
                        sql.Identifier(TIMESTAMP_COLUMN),
                        sql.Literal(restore_point),
                    )
                    load = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))
                    with src.cursor().copy(select) as out, dst.cursor().copy(load) as into:
                        for data in out:
                            into.write(data)
                    count = dst.execute(
                        sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                    ).fetchone()
                    total += int(count[0]) if count else 0
        self.rows_restored = total
        log.info("restored database in %s: %d row(s) as of %s", self.workdir, total, restore_point)
        return total

    def stop(self) -> None:
        proxy, self.proxy = self.proxy, None
        if proxy is not None:
            proxy.stop()
        backend, self.backend = self.backend, None
        if backend is not None:
            backend.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
