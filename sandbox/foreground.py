"""The foreground sandbox of ``gameday sandbox up`` and ``python -m sandbox``: start,
print the env file, wait for Ctrl-C (SIGINT/SIGTERM), stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.orchestrator import Sandbox
from sandbox.topology import Topology

__all__ = ["run_foreground"]


def _print(text: str) -> None:
    print(text, flush=True)  # noqa: T201 (this is the command's output)


def run_foreground(
    time_scale: float = 1.0,
    workdir: str | Path | None = None,
    env_file: str | Path | None = None,
    out: Callable[[str], None] = _print,
    ready: Callable[[Topology], None] | None = None,
    stop_event: threading.Event | None = None,
    backup_interval_seconds: float | None = None,
) -> int:
    """Start, print the env file, block until SIGINT/SIGTERM (or ``stop_event``), stop.

    Used by ``gameday sandbox up`` and ``python -m sandbox``. Returns an exit code.
    """
    stop = stop_event or threading.Event()
    previous: dict[int, Any] = {}
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        with Sandbox(
            time_scale=time_scale,
            workdir=workdir,
            env_file=env_file,
            backup_interval_seconds=backup_interval_seconds,
        ) as topology:
            env_file = Path(topology.env_file)
            out(f"sandbox up: {topology.endpoint_url} (time scale {time_scale})")
            for line in topology.missing:
                out(f"not started: {line}")
            out(f"env file: {env_file}")
            out(env_file.read_text())
            out(
                f"run: chaos run experiments/<experiment>.yaml --var-file {env_file}\n"
                "Ctrl-C stops the sandbox."
            )
            if ready is not None:
                ready(topology)
            while not stop.wait(0.5):
                pass
            out("stopping sandbox...")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    out("sandbox stopped")
    return 0
