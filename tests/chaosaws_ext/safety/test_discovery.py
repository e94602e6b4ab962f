"""`chaos discover chaosaws_ext --no-install` lists every action and probe we export."""

from __future__ import annotations

import importlib
import json
import subprocess
from pathlib import Path

from chaosaws_ext import ACTION_MODULES, PROBE_MODULES
from tests.helpers.executables import chaos_executable

CHAOS = chaos_executable()


def test_chaos_discover_lists_every_exported_activity(tmp_path: Path) -> None:
    out = tmp_path / "discovery.json"
    done = subprocess.run(
        [
            CHAOS,
            "--no-version-check",
            "--no-log-file",
            "discover",
            "chaosaws_ext",
            "--no-install",
            "--discovery-path",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = {(a["type"], a["mod"], a["name"]): a for a in json.loads(out.read_text())["activities"]}
    expected = {
        (kind, module, name)
        for kind, modules in (("action", ACTION_MODULES), ("probe", PROBE_MODULES))
        for module in modules
        for name in importlib.import_module(module).__all__
    }
    assert expected <= set(found)
    assert len(expected) >= 20
    for activity in found.values():  # typed arguments and a docstring for every activity
        assert activity["doc"], activity["name"]
        assert [a["name"] for a in activity["arguments"]][-2:] == ["configuration", "secrets"]
