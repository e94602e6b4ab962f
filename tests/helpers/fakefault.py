"""A fake fault whose 'resource' is a file: lets the tests drive the safety control
through the real chaos CLI without AWS. ``state_file`` holds "normal" or "faulted"."""

from __future__ import annotations

import time
from pathlib import Path

from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.mutation import journaled, stamp_injected
from chaosaws_ext.undo import revert_faults, undoer

__all__ = [
    "inject_file_fault",
    "inject_slow_undo_fault",
    "hold",
    "restore_file_fault",
    "fail_to_inject",
    "echo",
]


@undoer("fake.restore_file")
def _restore(path: str, configuration=None, secrets=None, region=None) -> str:
    Path(path).write_text("normal")
    return "normal"


def inject_file_fault(state_file: str, configuration=None, secrets=None) -> dict:
    journaled(
        fault="fake",
        region="local",
        resource=state_file,
        change="normal -> faulted",
        undoer="fake.restore_file",
        undo_args={"path": state_file},
        undo_describe="write normal",
        call=lambda: Path(state_file).write_text("faulted"),
        configuration=configuration,
    )
    stamp_injected("fake")
    print("INJECTED", flush=True)
    return {"state": "faulted"}


def hold(seconds: float = 30, configuration=None, secrets=None) -> dict:
    """Stands for a long wait in the method (bounded)."""
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return {"held": seconds}


def restore_file_fault(configuration=None, secrets=None) -> dict:
    return revert_faults(fault="fake", configuration=configuration, secrets=secrets)


def fail_to_inject(configuration=None, secrets=None) -> dict:
    raise ActivityFailed("refusing fake: no such target")


def echo(text: str, configuration=None, secrets=None) -> str:
    """Returns its argument: shows what a journal would record of a secret."""
    return f"connected with {text}"


@undoer("fake.slow_restore_file")
def _slow_restore(
    path: str, seconds: float = 2.0, configuration=None, secrets=None, region=None
) -> str:
    """An undo that takes a while, to interrupt it."""
    Path(path + ".undo-started").write_text("yes")
    time.sleep(float(seconds))
    Path(path).write_text("normal")
    return "normal"


def inject_slow_undo_fault(state_file: str, configuration=None, secrets=None) -> dict:
    journaled(
        fault="fake",
        region="local",
        resource=state_file,
        change="normal -> faulted",
        undoer="fake.slow_restore_file",
        undo_args={"path": state_file, "seconds": 2.0},
        undo_describe="write normal, slowly",
        call=lambda: Path(state_file).write_text("faulted"),
        configuration=configuration,
    )
    stamp_injected("fake")
    return {"state": "faulted"}
