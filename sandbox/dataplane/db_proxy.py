"""Moved: the old import path, kept working (re-exports `sandbox.rds.db_proxy`)."""

from sandbox.rds.db_proxy import (
    DbProxy,
)

__all__ = [
    "DbProxy",
]
