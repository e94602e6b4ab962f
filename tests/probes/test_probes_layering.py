"""probes (the measurement) imports nothing of the extension but its core layer (the run
identity included: chaosaws_ext.core.identity). The controls are the glue between the two
rooms."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import probes
from tests.helpers import REPO

ALLOWED_OUTSIDE_CORE = {"chaosaws_ext"}  # the package itself, which loads no fault


def test_importing_every_probes_module_loads_only_the_core_of_chaosaws_ext() -> None:
    names = sorted(f"probes.{m.name}" for m in pkgutil.iter_modules(probes.__path__))
    assert {"probes.session", "probes.spec", "probes.verdicts", "probes.checks"} <= set(names)
    code = (
        "import importlib, json, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('chaosaws_ext'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    loaded = set(json.loads(result.stdout))
    outside = {m for m in loaded if not m.startswith("chaosaws_ext.core")}
    assert outside <= ALLOWED_OUTSIDE_CORE, sorted(outside - ALLOWED_OUTSIDE_CORE)
    assert "chaosaws_ext.core.recovery_schema" in loaded
