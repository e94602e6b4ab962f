"""Tiny python providers for the sample experiments that produce real journals."""

from __future__ import annotations

import time
from pathlib import Path

__all__ = [
    "always",
    "boom",
    "close_listener",
    "echo_secrets",
    "flag_absent",
    "open_listener",
    "outage",
    "raise_flag",
    "service_url",
    "slow",
]


def always(value: int = 1) -> int:
    """A probe that returns ``value``."""
    return value


def boom(value: int = 1) -> int:
    """A probe or action that always raises."""
    raise RuntimeError(f"boom: injected failure (value={value})")


def raise_flag(path: str) -> dict:
    """An action that creates ``path`` (the 'fault')."""
    Path(path).write_text("down", encoding="utf-8")
    return {"flag": path}


def flag_absent(path: str) -> bool:
    """A probe: True while ``path`` does not exist."""
    return not Path(path).exists()


def slow(seconds: float = 30.0, started: str | None = None) -> dict:
    """An action that runs for ``seconds`` (bounded), touching ``started`` first."""
    if started:
        Path(started).write_text("started", encoding="utf-8")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return {"slept": seconds}


def echo_secrets(secrets: dict | None = None) -> dict:
    """An action that leaks its secrets in its output, as careless providers do."""
    secrets = secrets or {}  # chaoslib passes the selected scopes merged into one dict
    return {
        "connection": f"postgresql://app:{secrets.get('password')}@db.internal:5432/orders",
        "note": f"called the API with {secrets.get('api_token')}",
        "signed_with": secrets.get("signing"),
    }


def service_url(secrets: dict | None = None) -> str:
    """Dynamic configuration: chaoslib copies the resolved secrets into the journal."""
    return "http://orders.internal:8080"


_LISTENERS: dict[int, object] = {}


def open_listener(port: int) -> bool:
    """Listen on 127.0.0.1:``port`` (idempotent): the 'service' a tcp sampler checks."""
    import socket
    import threading

    if port in _LISTENERS:
        return True
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    _LISTENERS[port] = server

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connection.close()

    threading.Thread(target=accept, daemon=True).start()
    return True


def close_listener(port: int) -> dict:
    """The 'fault': stop listening, so connections are refused."""
    server = _LISTENERS.pop(port, None)
    if server is not None:
        server.close()
    return {"closed": port}


def outage(port: int, seconds: float = 1.5, after: float = 1.5) -> dict:
    """Keep the listener down ``seconds``, reopen it, then wait ``after`` seconds."""
    time.sleep(seconds)
    open_listener(port)
    time.sleep(after)
    return {"reopened": port}
