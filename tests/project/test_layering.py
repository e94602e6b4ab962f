"""The layering contracts (pyproject.toml, import-linter) hold, and they bite.

`lint-imports` is run as CI runs it. A copy of the tree with one deliberate wrong import
per contract shows that each contract fails, by name, on the import it exists to stop.
"""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

import chaosaws_ext
from tests.helpers import REPO
from tests.helpers.executables import lint_imports_executable

ROOT = REPO
OUR_PACKAGES = ("chaosaws_ext", "probes", "reports", "gameday", "sandbox")


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first, so the packages of `root` shadow the installed checkout.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [lint_imports_executable(), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_lint_imports_passes_on_this_tree() -> None:
    done = _lint_imports(ROOT)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in output


@pytest.mark.parametrize(
    ("module_file", "wrong_import", "contract_id"),
    [
        ("chaosaws_ext/core/clock.py", "import probes", "core-imports-nothing"),
        ("sandbox/timing.py", "import chaosaws_ext.ledger", "sandbox-imports-nothing"),
        ("reports/junit.py", "import chaosaws_ext.ledger", "reports-only-core"),
        ("probes/recovery.py", "import chaosaws_ext.rds.probes", "faults-probes-independent"),
        ("chaosaws_ext/rds/probes.py", "import probes.recovery", "faults-probes-independent"),
        ("chaosaws_ext/ledger.py", "import chaosaws_ext.controls.safety", "layers"),
        ("probes/recovery.py", "import chaosaws_ext.undo", "probes-only-core"),
    ],
)
def test_a_deliberate_violation_breaks_its_contract(
    tmp_path: Path, module_file: str, wrong_import: str, contract_id: str
) -> None:
    for package in OUR_PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module_file
    target.write_text(target.read_text() + f"\n{wrong_import}  # deliberate violation\n")

    done = _lint_imports(tmp_path)

    output = done.stdout + done.stderr
    name = _contracts()[contract_id]["name"]
    assert done.returncode != 0, output
    assert f"{name} BROKEN" in output, output
    # The report names the offending import, so whoever broke it sees where.
    assert wrong_import.split()[-1] in output


# Today's baseline of known violations per contract (pyproject.toml `ignore_imports`).
# Lower a number when you remove an entry; raising one needs a reason in review.
BASELINE_IGNORES = {"probes-only-core": 1}


def test_the_baselines_of_known_violations_only_shrink() -> None:
    counts = {
        contract_id: len(contract.get("ignore_imports", []))
        for contract_id, contract in _contracts().items()
        if contract.get("ignore_imports")
    }
    grown = {c: n for c, n in counts.items() if n > BASELINE_IGNORES.get(c, 0)}
    assert not grown, f"new ignore_imports {grown}: fix the import instead of ignoring it"


@pytest.mark.parametrize("contract_id", ["reports-only-core", "probes-only-core"])
def test_only_core_contracts_forbid_every_other_module_of_chaosaws_ext(contract_id: str) -> None:
    """A forbidden contract cannot say "all but core", so it lists them: none may be missed."""
    forbidden = set(_contracts()[contract_id]["forbidden_modules"])
    ours = {
        f"chaosaws_ext.{info.name}"
        for info in pkgutil.iter_modules(chaosaws_ext.__path__)
        if info.name != "core"
    }
    missing = sorted(ours - forbidden)
    assert not missing, f"add {missing} to forbidden_modules of {contract_id!r} in pyproject.toml"
