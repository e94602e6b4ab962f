"""A signal while the game day shuts the sandbox down: the shutdown still completes and
nothing is left behind (no temp folder, no process). Looks only at what it started: its
own TMPDIR and the processes that mention it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from chaosaws_ext.core.waiting import wait_until
from tests.helpers import REPO
from tests.helpers.processes import processes_mentioning

pytestmark = pytest.mark.e2e
ROOT = REPO


def test_sigterm_during_shutdown_still_cleans_up(tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    env["TMPDIR"] = str(tmpdir)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gameday",
            "run",
            "--sandbox",
            "--out",
            str(tmp_path / "out"),
            "az-nacl-blackhole",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = threading.Event()
    lines: list[str] = []

    def follow() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "[1/1] az-nacl-blackhole" in line and " done: " in line:
                seen.set()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    try:
        assert seen.wait(timeout=180), "".join(lines[-30:])
        process.send_signal(signal.SIGTERM)  # the experiment is over: reports, then shutdown
        process.wait(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=10)
    # child processes may take a moment to exit
    wait_until(
        lambda: not processes_mentioning(str(tmpdir)),
        timeout=30,
        interval=0.2,
        what="the sandbox's processes to exit",
    )
    assert not list(tmpdir.iterdir()), list(tmpdir.iterdir())
    assert (tmp_path / "out" / "az-nacl-blackhole.journal.json").exists()
    assert "Traceback" not in "".join(lines)
