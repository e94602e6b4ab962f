"""One start/stop lifecycle for every emulator and server of the sandbox.

Every part the orchestrator runs (the moto server, the moto patches, the data plane's
servers) implements :class:`Emulator`: ``start()`` returns where it listens (``(host,
port)`` or a unix socket path) or None when it listens nowhere (a moto patch), and
``stop()`` undoes everything ``start()`` did and may be called again, or without a
``start()`` (the orchestrator registers the stop before it starts a part, so a part
failing half-way is cleaned up too). :class:`Lifecycle` adds the context manager.
"""

from __future__ import annotations

from typing import Protocol, Self, runtime_checkable

__all__ = ["Address", "Emulator", "Lifecycle"]

# (host, port) of a TCP/UDP listener, or the path of a unix socket
Address = tuple[str, int] | str


@runtime_checkable
class Emulator(Protocol):
    def start(self) -> Address | None:
        """Start; returns where it listens, or None."""
        ...

    def stop(self) -> None:
        """Undo ``start``; idempotent, harmless before ``start``."""
        ...


class Lifecycle:
    """Base of the emulators: ``with part: ...`` starts and stops it."""

    def start(self) -> Address | None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
