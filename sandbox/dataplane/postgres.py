"""The real PostgreSQL behind the emulated RDS instance (``pgserver``, no root needed)."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

__all__ = ["PostgresBackend"]

log = logging.getLogger(__name__)


def _traversable_by_others(path: Path) -> bool:
    """Whether every ancestor of ``path`` lets other users through (o+x)."""
    for parent in path.resolve().parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return True


class PostgresBackend:
    """Start (or reuse) a PostgreSQL server whose data lives in ``workdir``.

    It listens only on a unix socket (``socket_path``); put a ``DbProxy`` in front of
    it for a TCP endpoint. ``stop()`` stops the server (the data stays unless
    ``cleanup_mode="delete"``).

    As root, pgserver runs PostgreSQL as the ``pgserver`` user, which must traverse every
    parent of the data directory; pgserver opens them up (chmod o+rx) but pytest resets
    ``/tmp/pytest-of-root`` to 0700 whenever a session starts, which breaks a server
    starting meanwhile. So as root, a ``workdir`` under a closed parent is replaced by a
    private temporary directory (``data_dir``; removed by ``stop``).
    """

    def __init__(self, workdir: str | Path, cleanup_mode: str = "stop") -> None:
        self.workdir = Path(workdir)
        self.cleanup_mode = cleanup_mode
        self.data_dir = self.workdir
        self._temporary = False
        self._server = None

    def start(self) -> str:
        """Start the server; returns the path of its unix socket."""
        if self._server is None:
            import pgserver

            self.workdir.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0 and not _traversable_by_others(self.workdir):
                self.data_dir = Path(tempfile.mkdtemp(prefix="sandbox-pg-"))
                self._temporary = True
                log.info(
                    "PostgreSQL data in %s (%s is closed to pgserver)", self.data_dir, self.workdir
                )
            self._server = pgserver.get_server(self.data_dir, cleanup_mode=self.cleanup_mode)
            log.info("PostgreSQL in %s on %s", self.data_dir, self.socket_path)
        return self.socket_path

    @property
    def socket_path(self) -> str:
        info = self._running().get_postmaster_info()
        return str(Path(info.socket_dir) / f".s.PGSQL.{info.port or 5432}")

    @property
    def dsn(self) -> str:
        """A libpq URI reaching the server directly through its socket."""
        return str(self._running().get_uri())

    def dsn_via(self, host: str, port: int, database: str = "postgres") -> str:
        """A libpq URI for the same server reached through a TCP proxy at host:port."""
        return f"postgresql://postgres@{host}:{port}/{database}"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()
        if self._temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir, self._temporary = self.workdir, False

    def _running(self):  # type: ignore[no-untyped-def]
        if self._server is None:
            raise RuntimeError("PostgresBackend not started")
        return self._server

    def __enter__(self) -> PostgresBackend:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
