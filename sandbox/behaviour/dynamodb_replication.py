"""Moved: the old import path, kept working. The replicator lives in
:mod:`sandbox.dynamodb.replicator` (the model in ``sandbox.dynamodb.replication``, the
hooks in ``sandbox.dynamodb.moto_patch``).

Here ``GlobalTableReplicator(...).start()`` still returns the replicator, as callers of
this path chain it; the new class's ``start()`` follows :mod:`sandbox.lifecycle`.
"""

from __future__ import annotations

from typing import Self

from sandbox.dynamodb import replicator as _replicator
from sandbox.dynamodb.replication import DEFAULT_LAG_SECONDS
from sandbox.dynamodb.replicator import ReplicatedWriteConflict, active_replicator, make_global

__all__ = [
    "DEFAULT_LAG_SECONDS",
    "GlobalTableReplicator",
    "ReplicatedWriteConflict",
    "active_replicator",
    "make_global",
]


class GlobalTableReplicator(_replicator.GlobalTableReplicator):
    def start(self) -> Self:  # type: ignore[override]
        super().start()
        return self

    def __enter__(self) -> Self:
        self.start()
        return self
