"""Start the sandbox for ``gameday run --sandbox`` and ``gameday sandbox up``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from gameday.errors import UserError

__all__ = ["DEMO_TIME_SCALE", "start_sandbox", "sandbox_up"]

logger = logging.getLogger(__name__)

# Every emulated AWS timing (failover window, health-check interval, DNS TTL,
# replication lag) is multiplied by this in a demo game day: 60-120 s of RDS failover
# becomes 3-6 s, a 30 s x 3 health check 4.5 s.
DEMO_TIME_SCALE = 0.05


@contextlib.contextmanager
def start_sandbox(out_dir: Path, time_scale: float | None) -> Iterator[tuple[Path, dict[str, str]]]:
    """Yield (env file, env values) of a running sandbox; stop it on exit."""
    from sandbox.server import Sandbox, SandboxStartError

    scale = DEMO_TIME_SCALE if time_scale is None else time_scale
    sandbox = Sandbox(time_scale=scale)
    try:
        topology = sandbox.start()  # stops what it started when a part fails
    except SandboxStartError as error:
        raise UserError(str(error)) from error
    try:
        for line in topology.missing:
            logger.warning("sandbox part not started: %s", line)
        env_file = out_dir / "sandbox.env"
        env_file.write_text(Path(topology.env_file).read_text())
        yield env_file, topology.env()
    finally:
        sandbox.stop()


def sandbox_up(time_scale: float | None, backup_interval_seconds: float | None = None) -> int:
    from sandbox.server import SandboxStartError, run_foreground

    scale = DEMO_TIME_SCALE if time_scale is None else time_scale
    try:
        return run_foreground(time_scale=scale, backup_interval_seconds=backup_interval_seconds)
    except SandboxStartError as error:
        raise UserError(str(error)) from error
