"""Moved: the old import path, kept working (re-exports `sandbox.rds.postgres`)."""

from sandbox.rds.postgres import (
    SOCKET_PATH_LIMIT,
    PostgresBackend,
    import_pgserver,
    short_socket_dir,
)

__all__ = [
    "PostgresBackend",
    "SOCKET_PATH_LIMIT",
    "import_pgserver",
    "short_socket_dir",
]
