"""The real PostgreSQL behind the emulated RDS instance (``pgserver``, no root needed)."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

from sandbox.lifecycle import Lifecycle

__all__ = ["PostgresBackend", "cache_dir", "import_pgserver", "short_socket_dir"]

log = logging.getLogger(__name__)

# A unix socket path is limited to sizeof(sun_path): 108 bytes on Linux, 104 on macOS
# (unix(7)); pgserver tries the data directory, then a folder under the user's runtime
# dir, and gives up when both are longer (a CI runner's TMPDIR, macOS's /var/folders).
SOCKET_PATH_LIMIT = 104
_SHORT_ROOTS = ("/tmp", "/var/tmp", "/dev/shm")
_socket_lock = threading.Lock()


def short_socket_dir() -> Path:
    """A fresh private folder whose socket path fits the OS limit whatever TMPDIR is."""
    candidates = [*_SHORT_ROOTS, tempfile.gettempdir()]
    for root in candidates:
        # pgserver nests a 10-character hash folder, then .s.PGSQL.<port>
        room = len(root) + len("/gd-pg-XXXXXXXX/0123456789/.s.PGSQL.65535")
        if room >= SOCKET_PATH_LIMIT or not os.access(root, os.W_OK | os.X_OK):
            continue
        return Path(tempfile.mkdtemp(prefix="gd-pg-", dir=root))
    raise RuntimeError(
        f"no folder for the PostgreSQL socket: every one of {', '.join(candidates)} is "
        f"unwritable or too long for a {SOCKET_PATH_LIMIT}-byte unix socket path"
    )


def _open_root() -> str:
    """A temp root outside pytest's closed folders (TMPDIR may point inside one)."""
    for root in (*_SHORT_ROOTS, tempfile.gettempdir()):
        if os.access(root, os.W_OK | os.X_OK) and not _under_closed_pytest_root(Path(root)):
            return root
    return tempfile.gettempdir()


def cache_dir() -> Path:
    """The sandbox's folder of things kept between runs (one per machine and user)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gameday-sandbox"


def import_pgserver():  # type: ignore[no-untyped-def]
    """pgserver, imported without platformdirs' XDG_RUNTIME_DIR warning (it asks for the
    runtime dir at import; we give each server a socket folder of its own anyway)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver
        import pgserver.postgres_server
    _keep_the_lock_out_of_tmpdir(pgserver.postgres_server.PostgresServer)
    return pgserver


def _keep_the_lock_out_of_tmpdir(server_class: Any) -> None:
    """pgserver serialises every server's start and stop with one lock file in the
    user's runtime dir; without XDG_RUNTIME_DIR that is ``runtime-<uid>`` in TMPDIR,
    left behind after the run. The lock goes to the sandbox's cache folder instead (still
    one per machine and user, so every process of ours shares it). Done once, before
    any server of this process starts."""
    import fasteners

    path = cache_dir() / "pgserver.lock"
    with _socket_lock:
        if getattr(server_class, "lock_path", None) == path:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        server_class.lock_path = path
        server_class._lock = fasteners.InterProcessLock(path)


def _under_closed_pytest_root(path: Path) -> bool:
    """Whether ``path`` lies under a ``pytest-of-<user>`` folder closed to other users."""
    return any(
        parent.name.startswith("pytest-of-") and not parent.stat().st_mode & stat.S_IXOTH
        for parent in path.resolve().parents
    )


def _copy_tree(source: Path, target: Path) -> None:
    """Copy the contents of ``source`` into ``target`` keeping modes and owners; then
    give ``target`` itself the mode and owner of ``source``."""
    cp = shutil.which("cp")
    if cp is not None:
        subprocess.run([cp, "-a", f"{source}/.", f"{target}/"], check=True, timeout=120)
    else:
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        for directory, _dirs, files in os.walk(source):
            for name in [".", *files]:
                info = (Path(directory) / name).stat()
                relative = Path(directory).relative_to(source) / name
                os.chown(target / relative, info.st_uid, info.st_gid)
    info = source.stat()
    os.chown(target, info.st_uid, info.st_gid)
    target.chmod(stat.S_IMODE(info.st_mode))


def _empty(directory: Path) -> None:
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


class PostgresBackend(Lifecycle):
    """A PostgreSQL server whose data lives in ``workdir`` (initialised on first start).

    It listens only on a unix socket (``socket_path``); put a ``DbProxy`` in front of
    it for a TCP endpoint. ``stop()`` stops the server; the data stays in ``workdir``
    unless ``cleanup_mode="delete"``.

    As root, pgserver runs PostgreSQL as the ``pgserver`` user, which must traverse every
    parent of the data directory; pgserver opens them (chmod o+rx). pytest, though, resets
    ``/tmp/pytest-of-root`` to 0700 whenever a session starts, which breaks a server
    starting meanwhile. So, as root under that folder (a test's ``tmp_path``), the server
    runs from a private copy in the system temp dir (``data_dir``), copied back into
    ``workdir`` by ``stop`` (a few seconds for a fresh cluster's 40 MB).
    """

    def __init__(self, workdir: str | Path, cleanup_mode: str = "stop") -> None:
        self.workdir = Path(workdir)
        self.cleanup_mode = cleanup_mode
        self.data_dir = self.workdir
        self._server = None
        self._socket_dir: Path | None = None

    @property
    def _mirrored(self) -> bool:
        return self.data_dir != self.workdir

    def start(self) -> str:
        """Start the server; returns the path of its unix socket."""
        if self._server is None:
            pgserver = import_pgserver()

            self.workdir.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0 and _under_closed_pytest_root(self.workdir):
                self.data_dir = Path(tempfile.mkdtemp(prefix="sandbox-pg-", dir=_open_root()))
                if (self.workdir / "PG_VERSION").exists():
                    _copy_tree(self.workdir, self.data_dir)
                log.info("PostgreSQL runs from %s (for %s)", self.data_dir, self.workdir)
            try:
                self._server = self._get_server(pgserver)
            except Exception:
                self._drop_socket_dir()
                self._drop_mirror(copy_back=False)
                raise
            log.info("PostgreSQL in %s on %s", self.data_dir, self.socket_path)
        return self.socket_path

    def _get_server(self, pgserver):  # type: ignore[no-untyped-def]
        """pgserver's server, its socket in a short folder of ours (see short_socket_dir);
        pgserver reads the folder from a class attribute, hence the lock."""
        self._socket_dir = short_socket_dir()
        server_class = pgserver.postgres_server.PostgresServer
        with _socket_lock:
            previous = server_class.runtime_path
            server_class.runtime_path = self._socket_dir
            try:
                return pgserver.get_server(self.data_dir, cleanup_mode=self.cleanup_mode)
            finally:
                server_class.runtime_path = previous

    def _drop_socket_dir(self) -> None:
        socket_dir, self._socket_dir = self._socket_dir, None
        if socket_dir is not None:
            shutil.rmtree(socket_dir, ignore_errors=True)

    @property
    def socket_path(self) -> str:
        info = self._running().get_postmaster_info()
        return str(Path(info.socket_dir) / f".s.PGSQL.{info.port or 5432}")

    @property
    def dsn(self) -> str:
        """A libpq URI reaching the server directly through its socket."""
        return str(self._running().get_uri())

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists (the instance's ``DBName``)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as connection:
            found = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if found is None:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def dsn_via(self, host: str, port: int, database: str = "postgres") -> str:
        """A libpq URI for the same server reached through a TCP proxy at host:port."""
        return f"postgresql://postgres@{host}:{port}/{database}"

    def stop(self) -> None:
        """Stop the server (idempotent); a private copy goes back into ``workdir``."""
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()
        self._drop_socket_dir()
        self._drop_mirror(copy_back=server is not None and self.cleanup_mode != "delete")

    def _drop_mirror(self, copy_back: bool) -> None:
        if not self._mirrored:
            return
        mirror, self.data_dir = self.data_dir, self.workdir
        if copy_back and (mirror / "PG_VERSION").exists():
            _empty(self.workdir)
            for stale in ("postmaster.pid", "postmaster.opts"):
                (mirror / stale).unlink(missing_ok=True)
            _copy_tree(mirror, self.workdir)
        shutil.rmtree(mirror, ignore_errors=True)

    def _running(self):  # type: ignore[no-untyped-def]
        if self._server is None:
            raise RuntimeError("PostgresBackend not started")
        return self._server
