"""What a test started and left running: processes whose command line names a path of
the test's own (its TMPDIR), so other sandboxes on the machine are not counted."""

from __future__ import annotations

from pathlib import Path

__all__ = ["processes_mentioning"]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found
